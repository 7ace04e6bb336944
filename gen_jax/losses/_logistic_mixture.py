"""Discretized logistic mixture likelihood (Salimans et al., "PixelCNN++", ICLR 2017)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax import validation

Array = jax.Array

MIN_LOG_SCALE = -7.0


def _split(params: Array) -> tuple[Array, Array, Array]:
  k = params.shape[-1] // 3
  logit_w, mean, log_scale = params[..., :k], params[..., k:2 * k], params[..., 2 * k:]
  return logit_w, mean, jnp.maximum(log_scale, MIN_LOG_SCALE)


def discretized_logistic_mixture_log_likelihood(x: Array, params: Array, *,
                                                num_levels: int = 256) -> Array:
  """log p(x) of pixels with `num_levels` levels under a per-dimension discretized mixture.

  A value x = k / (L - 1), k in 0..L-1, is mapped to y = 2x - 1 in [-1, 1]; each level
  owns the bin [y - δ, y + δ], δ = 1 / (L - 1), with the outer bins extended to ±∞:

    p(x) = Σ_j π_j [σ((y + δ - μ_j) / s_j) - σ((y - δ - μ_j) / s_j)]

  (σ(+∞) = 1, σ(-∞) = 0 at the edges), so the probabilities of the L levels sum to one.
  Computed in log space without the PixelCNN++ density approximation: with a > b,
  log(σ(a) - σ(b)) = a + log(-expm1(b - a)) - softplus(a) - softplus(b).

  Args:
    x: [B, ...] pixel values k / (L - 1).
    params: [B, ..., 3K]: mixture logits π (K), means μ (K, on the [-1, 1] scale), log
      scales log s (K, clamped below at -7), for each dimension of x.
    num_levels: L.
  Returns:
    [B] log-likelihood in nats, summed over the dimensions of x.
  """
  validation.check_rank("params", params, x.ndim + 1, "[B, ..., 3K] (x's shape + 1 axis)")
  if tuple(params.shape[:-1]) != tuple(x.shape) or params.shape[-1] % 3:
    raise validation.ArgumentError(
        "params", f"params must have shape {tuple(x.shape)} + (3K,), got {params.shape}")
  logit_w, mean, log_scale = _split(params)
  delta = 1.0 / (num_levels - 1)
  y = (2.0 * x - 1.0)[..., None]
  inv_s = jnp.exp(-log_scale)
  a = (y + delta - mean) * inv_s     # upper edge
  b = (y - delta - mean) * inv_s     # lower edge
  middle = a + jnp.log(-jnp.expm1(b - a)) - jax.nn.softplus(a) - jax.nn.softplus(b)
  lowest = -jax.nn.softplus(-a)      # log σ(a)
  highest = -jax.nn.softplus(b)      # log(1 - σ(b))
  log_bin = jnp.where(y < -1.0 + delta / 2, lowest,
                      jnp.where(y > 1.0 - delta / 2, highest, middle))
  log_p = jax.nn.logsumexp(jax.nn.log_softmax(logit_w, -1) + log_bin, axis=-1)
  return log_p.reshape(log_p.shape[0], -1).sum(-1)


def sample_discretized_logistic_mixture(gumbel: Array, uniform: Array, params: Array, *,
                                        num_levels: int = 256) -> Array:
  """Draws from the mixture given its noise (so two samplers given the same noise agree).

  Component j = argmax(π + gumbel); value μ_j + s_j (log u - log(1 - u)) clipped to
  [-1, 1] and rounded to the nearest of the L levels.

  Args:
    gumbel: [..., K] standard Gumbel noise.
    uniform: [...] uniform(0, 1) noise.
    params: [..., 3K].
  Returns:
    [...] values k / (L - 1).
  """
  logit_w, mean, log_scale = _split(params)
  j = jnp.argmax(logit_w + gumbel, axis=-1)
  pick = lambda a: jnp.take_along_axis(a, j[..., None], -1)[..., 0]
  u = jnp.clip(uniform, 1e-6, 1.0 - 1e-6)
  y = pick(mean) + jnp.exp(pick(log_scale)) * (jnp.log(u) - jnp.log1p(-u))
  k = jnp.round((jnp.clip(y, -1.0, 1.0) + 1.0) / 2.0 * (num_levels - 1))
  return k / (num_levels - 1)
