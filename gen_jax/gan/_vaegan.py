"""VAE-GAN (Larsen et al. 2016): a VAE whose reconstruction error is measured in a
discriminator's feature space, trained jointly with that discriminator.

With z ~ q(z | x) = N(μ(x), σ²(x)), x̃ = Dec(z), x_p = Dec(z_p), z_p ~ N(0, I), and
Dis_l(·) the activations of the discriminator's l-th layer (Eq. 5-9):
  L_prior = KL(q(z | x) ‖ N(0, I)),
  L_llike = −log N(Dis_l(x) | Dis_l(x̃), I) = ½‖Dis_l(x) − Dis_l(x̃)‖² (+ const),
  L_GAN   = log Dis(x) + log(1 − Dis(x̃)) + log(1 − Dis(x_p)),
  encoder: L_prior + L_llike;  decoder: γ·L_llike − L_GAN;  discriminator: L_GAN.
The decoder plays the non-saturating form of −L_GAN (−log Dis(x̃) − log Dis(x_p)), and
Dis_l is not trained by L_llike (Larsen et al., Alg. 1).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gen_jax import losses
from gen_jax import random
from gen_jax import validation
from gen_jax.gan._trainer import sample_latent
from gen_jax.nets.variables import apply as apply_player
from gen_jax.nets.variables import split_variables
from gen_jax.training import apply_gradients
from gen_jax.training import minimize
from gen_jax.training import TrainState

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class VAEGAN:
  """Players and weights of a VAE-GAN.

  Attributes:
    encoder: x -> [B, 2·latent_dim] (mean, log-variance), called with `train=`.
    decoder: z (, None) -> x, called with `train=` (a GAN generator).
    discriminator: x -> (logits [B], features [B, F]), called with `train=`.
    g_optimizer: optimizer of the encoder and of the decoder (one instance per group; each
      network is updated by the gradient of its own loss).
    d_optimizer: the discriminator's.
    gamma: γ, the decoder's weight of L_llike against L_GAN.
    preprocess: real images -> the decoder's output space.
  """
  encoder: nn.Module
  decoder: nn.Module
  discriminator: nn.Module
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  latent_dim: int
  image_shape: tuple[int, ...] = (28, 28, 1)
  gamma: float = 1e-2
  preprocess: Callable[[Array], Array] | None = None


def vaegan_init(model: VAEGAN, key: Array) -> TrainState:
  """State with parameter groups "e" (encoder), "g" (decoder) and "d" (discriminator)."""
  k_e, k_g, k_d = jax.random.split(validation.check_key("key", key), 3)
  x = jnp.zeros((2, *model.image_shape), jnp.float32)
  z = jnp.zeros((2, model.latent_dim), jnp.float32)
  e_p, e_c = split_variables(model.encoder.init({"params": k_e}, x, train=False))
  g_p, g_c = split_variables(model.decoder.init({"params": k_g}, z, None, train=False))
  d_p, d_c = split_variables(model.discriminator.init({"params": k_d}, x, train=False))
  return TrainState.create({"e": e_p, "g": g_p, "d": d_p},
                           {"e": model.g_optimizer, "g": model.g_optimizer,
                            "d": model.d_optimizer},
                           extra={"e": e_c, "g": g_c, "d": d_c})


def posterior(model: VAEGAN, e_params: Any, extra: Any, x: Array, *, train: bool = False):
  """(mean, log_var, new encoder collections) of q(z | x)."""
  out, coll = apply_player(model.encoder, e_params, extra["e"], x, train=train)
  mean, log_var = jnp.split(out, 2, axis=-1)
  return mean, log_var, coll


def decode(model: VAEGAN, state: TrainState, z: Array) -> Array:
  """Dec(z) with frozen statistics."""
  return apply_player(model.decoder, state.eval_params("g"), state.extra["g"], z, None,
                      train=False)[0]


def vaegan_step(model: VAEGAN, state: TrainState, batch: dict[str, Array], key: Array
                ) -> tuple[TrainState, dict[str, Array]]:
  """One joint update of encoder and decoder (each by its own loss), then one of Dis.

  Returns:
    (state, metrics): 'loss' (= encoder loss), 'kl', 'feature_recon' (L_llike),
    'd_loss', 'decoder_gan', 'pixel_mse'.
  """
  x = batch["image"] if model.preprocess is None else model.preprocess(batch["image"])
  b = x.shape[0]
  k_eps, k_p = jax.random.split(validation.check_key("key", key))
  z_p = sample_latent(k_p, b, model.latent_dim)
  extra = state.extra
  eg_params = {"e": state.params["e"], "g": state.params["g"]}

  def forward(eg, d_params, d_coll):
    mean, log_var, e_coll = posterior(model, eg["e"], extra, x, train=True)
    z = random.reparameterize(k_eps, mean, log_var)
    dec = lambda v, c: apply_player(model.decoder, eg["g"], c, v, None, train=True)
    x_tilde, g_coll = dec(z, extra["g"])
    x_p, g_coll = dec(z_p, g_coll)
    dis = lambda v, c: apply_player(model.discriminator, d_params, c, v, train=True)
    (logit_x, feat_x), d_coll = dis(x, d_coll)
    (logit_tilde, feat_tilde), d_coll = dis(x_tilde, d_coll)
    (logit_p, _), d_coll = dis(x_p, d_coll)
    terms = dict(kl=losses.gaussian_kl(mean, log_var),
                 llike=0.5 * jnp.sum((feat_x - feat_tilde)**2, -1),
                 logit_x=logit_x, logit_tilde=logit_tilde, logit_p=logit_p,
                 pixel_mse=jnp.mean((x_tilde - x).reshape(b, -1)**2, -1))
    return terms, {"e": e_coll, "g": g_coll, "d": d_coll}

  def enc_dec_objectives(eg):
    # Dis_l is a fixed feature map for the encoder and decoder: gradients reach only the
    # networks each loss belongs to (selected below).
    terms, coll = forward(eg, jax.lax.stop_gradient(state.params["d"]), extra["d"])
    enc_loss = (terms["kl"] + terms["llike"]).mean()
    gan = (losses.non_saturating_generator_loss(terms["logit_tilde"]) +
           losses.non_saturating_generator_loss(terms["logit_p"])).mean()
    dec_loss = model.gamma * terms["llike"].mean() + gan
    return (enc_loss, dec_loss), (terms, coll, gan)

  # One forward pass, two pullbacks: each network gets the gradient of its own loss.
  (enc_loss, dec_loss), pullback, (terms, coll, gan) = jax.vjp(
      enc_dec_objectives, eg_params, has_aux=True)
  one, zero = jnp.ones_like(enc_loss), jnp.zeros_like(enc_loss)
  enc_grads, = pullback((one, zero))
  dec_grads, = pullback((zero, one))
  state, eg_norm = apply_gradients(state, ("e", "g"),
                                   {"e": enc_grads["e"], "g": dec_grads["g"]})

  def d_objective(d_params):
    t, new_coll = forward(jax.lax.stop_gradient(eg_params), d_params, extra["d"])
    # Two fake batches (x̃ and x_p) against one real batch, as in L_GAN.
    loss = (losses.minimax_discriminator_loss(t["logit_x"], t["logit_tilde"]) +
            losses.non_saturating_generator_loss(-t["logit_p"])).mean()  # −log(1 − D(x_p))
    return loss, new_coll["d"]

  state, d_loss, d_coll, d_norm = minimize(state, "d", d_objective, has_aux=True)
  state = state.replace(step=state.step + 1,
                        extra={"e": coll["e"], "g": coll["g"], "d": d_coll})
  metrics = {"loss": enc_loss, "kl": terms["kl"].mean(), "feature_recon": terms["llike"].mean(),
             "pixel_mse": terms["pixel_mse"].mean(), "decoder_loss": dec_loss,
             "decoder_gan": gan, "d_loss": d_loss, "eg_grad_norm": eg_norm,
             "d_grad_norm": d_norm}
  return state, metrics
