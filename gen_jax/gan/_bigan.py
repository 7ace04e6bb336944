"""BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): a GAN that also learns an
encoder E: x -> z, by letting the discriminator see joint pairs.

D separates (x, E(x)), x ~ data, from (G(z), z), z ~ N(0, I):
  min_{G,E} max_D  E_x[log D(x, E(x))] + E_z[log(1 − D(G(z), z))],
whose optimum has E = G⁻¹ (Donahue et al., Thm. 2). Here E is deterministic (BiGAN; ALI
uses a reparameterized Gaussian encoder) and G, E play the non-saturating version, i.e. the
labels swapped: −log D(G(z), z) − log(1 − D(x, E(x))) (Donahue et al., §3.4).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gen_jax import losses
from gen_jax import validation
from gen_jax.gan._trainer import sample_latent
from gen_jax.nets.variables import apply as apply_player
from gen_jax.nets.variables import split_variables
from gen_jax.training import minimize
from gen_jax.training import TrainState

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class BiGAN:
  """Players of a BiGAN.

  Attributes:
    generator: z [B, latent_dim] (, None) -> x, called with `train=`.
    encoder: x -> z [B, latent_dim], called with `train=`.
    discriminator: (x, z) -> [B] logits, called with `train=`.
    g_optimizer: optimizer of the generator and of the encoder (each group gets its own
      instance; they are updated together, by one loss).
    d_optimizer: optimizer of the discriminator.
    preprocess: real images -> the generator's output space (e.g. [0, 1] -> [−1, 1]).
  """
  generator: nn.Module
  encoder: nn.Module
  discriminator: nn.Module
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  latent_dim: int
  image_shape: tuple[int, ...] = (28, 28, 1)
  preprocess: Callable[[Array], Array] | None = None


def bigan_init(model: BiGAN, key: Array) -> TrainState:
  """State with parameter groups "g" (generator), "e" (encoder), "d" (discriminator)."""
  k_g, k_e, k_d = jax.random.split(validation.check_key("key", key), 3)
  x = jnp.zeros((2, *model.image_shape), jnp.float32)
  z = jnp.zeros((2, model.latent_dim), jnp.float32)
  g_p, g_c = split_variables(model.generator.init({"params": k_g}, z, None, train=False))
  e_p, e_c = split_variables(model.encoder.init({"params": k_e}, x, train=False))
  d_p, d_c = split_variables(model.discriminator.init({"params": k_d}, x, z, train=False))
  return TrainState.create({"g": g_p, "e": e_p, "d": d_p},
                           {"g": model.g_optimizer, "e": model.g_optimizer,
                            "d": model.d_optimizer},
                           extra={"g": g_c, "e": e_c, "d": d_c})


def encode(model: BiGAN, state: TrainState, x: Array) -> Array:
  """E(x) with frozen statistics; x in the generator's output space."""
  return apply_player(model.encoder, state.eval_params("e"), state.extra["e"], x,
                      train=False)[0]


def decode(model: BiGAN, state: TrainState, z: Array) -> Array:
  """G(z) with frozen statistics."""
  return apply_player(model.generator, state.eval_params("g"), state.extra["g"], z, None,
                      train=False)[0]


def bigan_step(model: BiGAN, state: TrainState, batch: dict[str, Array], key: Array
               ) -> tuple[TrainState, dict[str, Array]]:
  """One discriminator update, then one joint generator/encoder update (fresh z each).

  Args:
    batch: {'image': [B, H, W, C], 'label': [B]}.
    key: typed or legacy PRNG key.
  Returns:
    (state, metrics) with 'loss' = the discriminator loss.
  """
  x = batch["image"] if model.preprocess is None else model.preprocess(batch["image"])
  k_d, k_g = jax.random.split(validation.check_key("key", key))
  extra = state.extra

  def pairs(ge_params, d_params, d_coll, z):
    fake, g_coll = apply_player(model.generator, ge_params["g"], extra["g"], z, None,
                                train=True)
    code, e_coll = apply_player(model.encoder, ge_params["e"], extra["e"], x, train=True)
    real_logits, d_coll = apply_player(model.discriminator, d_params, d_coll, x, code,
                                       train=True)
    fake_logits, d_coll = apply_player(model.discriminator, d_params, d_coll, fake, z,
                                       train=True)
    return real_logits, fake_logits, {"g": g_coll, "e": e_coll, "d": d_coll}

  ge_params = {"g": state.params["g"], "e": state.params["e"]}

  def d_objective(d_params):
    z = sample_latent(k_d, x.shape[0], model.latent_dim)
    real, fake, coll = pairs(jax.lax.stop_gradient(ge_params), d_params, extra["d"], z)
    loss = losses.minimax_discriminator_loss(real, fake).mean()
    return loss, ({"d_real": real.mean(), "d_fake": fake.mean()}, coll["d"])

  state, d_loss, (metrics, d_coll), d_norm = minimize(state, "d", d_objective, has_aux=True)
  d_params = state.params["d"]

  def g_objective(params):
    z = sample_latent(k_g, x.shape[0], model.latent_dim)
    real, fake, coll = pairs(params, d_params, d_coll, z)
    # −log D(G(z), z) − log(1 − D(x, E(x))): each player's non-saturating cost.
    loss = (losses.non_saturating_generator_loss(fake) +
            losses.non_saturating_generator_loss(-real)).mean()
    return loss, coll

  state, g_loss, coll, g_norm = minimize(state, ("g", "e"), g_objective, has_aux=True)
  state = state.replace(step=state.step + 1,
                        extra={"g": coll["g"], "e": coll["e"], "d": d_coll})
  return state, {**metrics, "d_loss": d_loss, "g_loss": g_loss, "d_grad_norm": d_norm,
                 "g_grad_norm": g_norm, "loss": d_loss}
