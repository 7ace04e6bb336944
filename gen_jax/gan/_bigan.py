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
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gen_jax import losses
from gen_jax.gan._trainer import GANState
from gen_jax.gan._trainer import apply_player
from gen_jax.gan._trainer import sample_latent
from gen_jax.gan._trainer import split_variables

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class BiGAN:
  """Players of a BiGAN.

  Attributes:
    generator: z [B, latent_dim] (, None) -> x, called with `train=`.
    encoder: x -> z [B, latent_dim], called with `train=`.
    discriminator: (x, z) -> [B] logits, called with `train=`.
    g_optimizer: optimizer of {generator, encoder} jointly.
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


def bigan_init(model: BiGAN, key: Array) -> GANState:
  k_g, k_e, k_d = jax.random.split(key, 3)
  x = jnp.zeros((2, *model.image_shape), jnp.float32)
  z = jnp.zeros((2, model.latent_dim), jnp.float32)
  g_p, g_c = split_variables(model.generator.init({"params": k_g}, z, None, train=False))
  e_p, e_c = split_variables(model.encoder.init({"params": k_e}, x, train=False))
  d_p, d_c = split_variables(model.discriminator.init({"params": k_d}, x, z, train=False))
  g_params = {"generator": g_p, "encoder": e_p}
  return GANState(step=jnp.zeros((), jnp.int32), g_params=g_params, d_params=d_p,
                  g_opt_state=model.g_optimizer.init(g_params),
                  d_opt_state=model.d_optimizer.init(d_p),
                  extra={"generator": g_c, "encoder": e_c, "d": d_c})


def encode(model: BiGAN, g_params: Any, extra: Any, x: Array) -> Array:
  """E(x) with frozen statistics; x in the generator's output space."""
  return apply_player(model.encoder, g_params["encoder"], extra["encoder"], x,
                      train=False)[0]


def decode(model: BiGAN, g_params: Any, extra: Any, z: Array) -> Array:
  """G(z) with frozen statistics."""
  return apply_player(model.generator, g_params["generator"], extra["generator"], z, None,
                      train=False)[0]


def bigan_step(model: BiGAN, state: GANState, batch: dict[str, Array], key: Array
               ) -> tuple[GANState, dict[str, Array]]:
  """One discriminator update, then one joint generator/encoder update (fresh z each).

  Args:
    batch: {'image': [B, H, W, C], 'label': [B]}.
  Returns:
    (state, metrics) with 'loss' = the discriminator loss.
  """
  x = batch["image"] if model.preprocess is None else model.preprocess(batch["image"])
  k_d, k_g = jax.random.split(key)
  extra = state.extra

  def pairs(g_params, d_params, d_coll, z):
    fake, g_coll = apply_player(model.generator, g_params["generator"], extra["generator"],
                                z, None, train=True)
    code, e_coll = apply_player(model.encoder, g_params["encoder"], extra["encoder"], x,
                                train=True)
    real_logits, d_coll = apply_player(model.discriminator, d_params, d_coll, x, code,
                                       train=True)
    fake_logits, d_coll = apply_player(model.discriminator, d_params, d_coll, fake, z,
                                       train=True)
    return real_logits, fake_logits, {"generator": g_coll, "encoder": e_coll, "d": d_coll}

  def d_objective(d_params):
    z = sample_latent(k_d, x.shape[0], model.latent_dim)
    real, fake, coll = pairs(jax.lax.stop_gradient(state.g_params), d_params, extra["d"], z)
    loss = losses.minimax_discriminator_loss(real, fake).mean()
    return loss, ({"d_real": real.mean(), "d_fake": fake.mean()}, coll["d"])

  (d_loss, (metrics, d_coll)), d_grads = jax.value_and_grad(d_objective, has_aux=True)(
      state.d_params)
  updates, d_opt_state = model.d_optimizer.update(d_grads, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, updates)

  def g_objective(g_params):
    z = sample_latent(k_g, x.shape[0], model.latent_dim)
    real, fake, coll = pairs(g_params, d_params, d_coll, z)
    # −log D(G(z), z) − log(1 − D(x, E(x))): each player's non-saturating cost.
    loss = (losses.non_saturating_generator_loss(fake) +
            losses.non_saturating_generator_loss(-real)).mean()
    return loss, coll

  (g_loss, coll), g_grads = jax.value_and_grad(g_objective, has_aux=True)(state.g_params)
  updates, g_opt_state = model.g_optimizer.update(g_grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, updates)
  new_extra = {"generator": coll["generator"], "encoder": coll["encoder"], "d": d_coll}
  new_state = GANState(step=state.step + 1, g_params=g_params, d_params=d_params,
                       g_opt_state=g_opt_state, d_opt_state=d_opt_state, extra=new_extra)
  return new_state, {**metrics, "d_loss": d_loss, "g_loss": g_loss, "loss": d_loss}
