"""VAE models as linen modules. Each is called as every model of gen_jax is,
`model(x, labels=None, *, key=None, train=False)`; the Gaussian-latent ones return their
`elbo_terms`, the one interface the objectives and the trainer use:

  recon_ll    [B]     log p(x | z) at one z ~ q(z | x)
  kl          [B]     KL(q(z | x) || p(z)), analytic where possible
  kl_per_dim  [B, D]  per-latent-dimension KL of the (top) Gaussian posterior, for active units
  log_weight  [B]     log p(x, z) − log q(z | x) at the same z (importance weight for IWAE)
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax import losses
from gen_jax import nets
from gen_jax import validation
from gen_jax.random import normal
from gen_jax.random import reparameterize
from gen_jax.random import split as split_key
from gen_jax.vae import _vq

Array = jax.Array
_LOG_2PI = math.log(2.0 * math.pi)


def _log_normal(z: Array, mean: Array, log_var: Array) -> Array:
  return losses.gaussian_log_likelihood(z, mean, log_var)


class ObservationModel(nn.Module):
  """p(x | decoder output): Bernoulli logits, or Gaussian with a learned per-pixel variance."""
  likelihood: str = "bernoulli"
  image_shape: tuple[int, ...] = (28, 28, 1)
  min_log_var: float = -6.0

  @nn.compact
  def __call__(self, x: Array, out: Array) -> Array:
    validation.check_choice("likelihood", self.likelihood, ("bernoulli", "gaussian"))
    if self.likelihood == "bernoulli":
      return losses.bernoulli_log_likelihood(x, out)
    raw = self.param("log_var", nn.initializers.zeros, tuple(self.image_shape))
    # A floor keeps the density bounded on pixels that are constant in the data.
    log_var = jnp.maximum(raw, self.min_log_var)
    return losses.gaussian_log_likelihood(x, out, log_var)

  def mean(self, out: Array) -> Array:
    return jax.nn.sigmoid(out) if self.likelihood == "bernoulli" else out


class VAE(nn.Module):
  """Gaussian-latent VAE with pluggable encoder/decoder backbones (Kingma & Welling 2014).

  Attributes:
    encoder: maps flattened-or-image x (with a one-hot label when conditional) to features.
    decoder: maps [z, one-hot label] to an image-shaped output [B, H, W, C].
    latent_dim: D.
    image_shape: (H, W, C).
    likelihood: 'bernoulli' (logits out) or 'gaussian' (means out).
    num_classes: > 0 makes a conditional VAE (Sohn et al. 2015): labels enter both networks.
    flatten_input: feed the encoder flat vectors (MLP) instead of images (conv).
  """
  encoder: nn.Module
  decoder: nn.Module
  latent_dim: int = 20
  image_shape: tuple[int, ...] = (28, 28, 1)
  likelihood: str = "bernoulli"
  num_classes: int = 0
  flatten_input: bool = True

  def setup(self):
    self.posterior = nn.Dense(2 * self.latent_dim)
    self.observation = ObservationModel(self.likelihood, tuple(self.image_shape))

  def encode(self, x: Array, labels: Array | None = None) -> tuple[Array, Array]:
    if self.flatten_input:
      h = nets.flatten_with_labels(x, labels, self.num_classes)
    else:
      h = x
      if self.num_classes:
        h = jnp.concatenate(
            [x, nets.one_hot_channels(labels, self.num_classes, x.shape[1:3], x.dtype)], -1)
    mean, log_var = jnp.split(self.posterior(self.encoder(h)), 2, axis=-1)
    return mean, log_var

  def decode(self, z: Array, labels: Array | None = None) -> Array:
    out = self.decoder(nets.flatten_with_labels(z, labels, self.num_classes))
    return out.reshape(z.shape[0], *self.image_shape)

  def mean_image(self, z: Array, labels: Array | None = None) -> Array:
    return self.observation.mean(self.decode(z, labels))

  def elbo_terms(self, x: Array, labels: Array | None = None, *,
                 key: Array) -> dict[str, Array]:
    mean, log_var = self.encode(x, labels)
    z = reparameterize(key, mean, log_var)
    recon_ll = self.observation(x, self.decode(z, labels))
    kl_per_dim = losses.gaussian_kl_per_dim(mean, log_var)
    log_prior = _log_normal(z, jnp.zeros_like(z), jnp.zeros_like(z))
    log_q = _log_normal(z, mean, log_var)
    return dict(recon_ll=recon_ll, kl=kl_per_dim.sum(-1), kl_per_dim=kl_per_dim,
                log_weight=recon_ll + log_prior - log_q)

  def __call__(self, x: Array, labels: Array | None = None, *, key: Array,
               train: bool = False) -> dict[str, Array]:
    del train  # no batch statistics or dropout
    return self.elbo_terms(x, labels, key=key)


class HierarchicalVAE(nn.Module):
  """Two stochastic layers with top-down inference (Sønderby et al. 2016; Vahdat & Kautz 2020).

  Generative: z₂ ~ N(0, I), z₁ ~ p(z₁ | z₂), x ~ p(x | z₁, z₂).
  Inference shares the top-down path: q(z₂ | x) from the bottom-up features h₂, then
  q(z₁ | x, z₂) from [h₁, d(z₂)], so the posterior of z₁ sees what the prior predicts.

  Attributes:
    encoder1, encoder2: bottom-up feature networks (h₁ = encoder1(x), h₂ = encoder2(h₁)).
    top_down: d(z₂), features shared by p(z₁ | z₂), q(z₁ | x, z₂) and the decoder.
    decoder: maps [z₁, d(z₂)] to an image-shaped output.
  """
  encoder1: nn.Module
  encoder2: nn.Module
  top_down: nn.Module
  decoder: nn.Module
  latent_dims: tuple[int, int] = (32, 16)
  image_shape: tuple[int, ...] = (28, 28, 1)
  likelihood: str = "bernoulli"
  num_classes: int = 0

  def setup(self):
    d1, d2 = self.latent_dims
    self.q2 = nn.Dense(2 * d2)
    self.q1 = nn.Dense(2 * d1)
    self.p1 = nn.Dense(2 * d1)
    self.observation = ObservationModel(self.likelihood, tuple(self.image_shape))

  def _top_down(self, z2: Array, labels: Array | None) -> Array:
    return self.top_down(nets.flatten_with_labels(z2, labels, self.num_classes))

  def _prior1(self, d: Array) -> tuple[Array, Array]:
    mean, log_var = jnp.split(self.p1(d), 2, -1)
    return mean, jnp.clip(log_var, -10.0, 10.0)

  def decode(self, z1: Array, d: Array) -> Array:
    out = self.decoder(jnp.concatenate([z1, d], -1))
    return out.reshape(z1.shape[0], *self.image_shape)

  def sample_images(self, key: Array, num: int, labels: Array | None = None) -> Array:
    k2, k1 = split_key(key)
    z2 = normal(k2, (num, self.latent_dims[1]))
    d = self._top_down(z2, labels)
    z1 = reparameterize(k1, *self._prior1(d))
    return self.observation.mean(self.decode(z1, d))

  def elbo_terms(self, x: Array, labels: Array | None = None, *,
                 key: Array) -> dict[str, Array]:
    k2, k1 = split_key(key)
    h1 = self.encoder1(nets.flatten_with_labels(x, labels, self.num_classes))
    h2 = self.encoder2(h1)
    mean2, log_var2 = jnp.split(self.q2(h2), 2, -1)
    z2 = reparameterize(k2, mean2, log_var2)
    d = self._top_down(z2, labels)
    mean_p1, log_var_p1 = self._prior1(d)
    mean1, log_var1 = jnp.split(self.q1(jnp.concatenate([h1, d], -1)), 2, -1)
    z1 = reparameterize(k1, mean1, log_var1)
    recon_ll = self.observation(x, self.decode(z1, d))
    kl2_per_dim = losses.gaussian_kl_per_dim(mean2, log_var2)
    kl1 = losses.diagonal_gaussian_kl(mean1, log_var1, mean_p1, log_var_p1)
    log_p = (_log_normal(z2, jnp.zeros_like(z2), jnp.zeros_like(z2)) +
             _log_normal(z1, mean_p1, log_var_p1))
    log_q = _log_normal(z2, mean2, log_var2) + _log_normal(z1, mean1, log_var1)
    return dict(recon_ll=recon_ll, kl=kl1 + kl2_per_dim.sum(-1), kl_per_dim=kl2_per_dim,
                kl_z1=kl1, kl_z2=kl2_per_dim.sum(-1), log_weight=recon_ll + log_p - log_q)

  def __call__(self, x: Array, labels: Array | None = None, *, key: Array,
               train: bool = False) -> dict[str, Array]:
    del train  # no batch statistics or dropout
    return self.elbo_terms(x, labels, key=key)


class VQVAE(nn.Module):
  """VQ-VAE (van den Oord et al. 2017): a deterministic encoder, a codebook, a decoder.

  The codebook is a parameter trained by the codebook loss, or (ema=True) a variable in the
  'vq' collection updated by exponential moving averages outside the gradient step.
  """
  encoder: nn.Module
  decoder: nn.Module
  num_codes: int = 64
  code_dim: int = 16
  ema: bool = False
  likelihood: str = "bernoulli"
  image_shape: tuple[int, ...] = (28, 28, 1)

  def setup(self):
    init = nn.initializers.variance_scaling(1.0, "fan_in", "uniform")
    shape = (self.num_codes, self.code_dim)
    if self.ema:
      self.codebook = self.variable("vq", "codebook", lambda: init(self.make_rng("params"), shape))
      self.sums = self.variable("vq", "sums", lambda: self.codebook.value)
      self.counts = self.variable("vq", "counts", lambda: jnp.ones((self.num_codes,)))
    else:
      self.codebook_param = self.param("codebook", init, shape)
    self.observation = ObservationModel(self.likelihood, tuple(self.image_shape))

  def get_codebook(self) -> Array:
    return self.codebook.value if self.ema else self.codebook_param

  def __call__(self, x: Array, labels: Array | None = None, *, key: Array | None = None,
               train: bool = False) -> dict[str, Any]:
    del labels, key, train  # unconditional and deterministic
    z_e = self.encoder(x)
    z_q_st, z_q, codes = _vq.quantize(z_e, self.get_codebook())
    out = self.decoder(z_q_st)
    recon_ll = self.observation(x, out)
    codebook_loss, commitment = _vq.vq_losses(z_e, z_q)
    return dict(recon_ll=recon_ll, codebook_loss=codebook_loss, commitment=commitment,
                codes=codes, z_e=z_e, output=out)

  def decode_codes(self, codes: Array) -> Array:
    return self.observation.mean(self.decoder(self.get_codebook()[codes]))
