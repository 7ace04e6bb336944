"""Likelihood terms of the diffusion bound: the Gaussian KL of its middle terms and the
discretized Gaussian decoder L_0 (Ho et al. 2020, Sec. 3.3)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr

from gen_jax import validation

Array = jax.Array


def normal_kl(mean1: Array, log_var1: Array, mean2: Array, log_var2: Array) -> Array:
  """KL(N(mean1, exp(log_var1)) || N(mean2, exp(log_var2))), elementwise (no reduction).

  KL = 0.5 (log_var2 - log_var1 + exp(log_var1 - log_var2)
            + (mean1 - mean2)^2 exp(-log_var2) - 1), in nats.

  Args:
    mean1, log_var1, mean2, log_var2: arrays broadcastable to one shape.
  Returns:
    the elementwise KL, the broadcast shape.
  """
  return 0.5 * (log_var2 - log_var1 + jnp.exp(log_var1 - log_var2)
                + jnp.square(mean1 - mean2) * jnp.exp(-log_var2) - 1.0)


def _log_diff_ndtr(a: Array, b: Array) -> Array:
  """log(Phi(b) - Phi(a)) for a < b, accurate in both tails: by the symmetry
  Phi(b) - Phi(a) = Phi(-a) - Phi(-b), the pair is reflected so it lies mostly left of 0,
  where log_ndtr keeps relative precision, then log Phi(hi) + log1p(-exp(log Phi(lo) -
  log Phi(hi)))."""
  flip = (a + b) > 0
  lo = jnp.where(flip, -b, a)
  hi = jnp.where(flip, -a, b)
  log_hi = log_ndtr(hi)
  return log_hi + jnp.log1p(-jnp.exp(jnp.minimum(log_ndtr(lo) - log_hi, -1e-30)))


def discretized_gaussian_log_likelihood(x: Array, mean: Array, log_scale: Array) -> Array:
  """log P(x) of a Gaussian discretized to 256 levels on [-1, 1] (Ho et al. 2020, Eq. 13).

  Level k sits at x = 2k/255 - 1; its bin is [x - 1/255, x + 1/255], except the edge bins,
  which are open to -inf (k = 0) and +inf (k = 255), so the 256 probabilities sum to 1:
    P(x) = Phi((x + 1/255 - mean)/sigma) - Phi((x - 1/255 - mean)/sigma), sigma = exp(log_scale).

  Args:
    x: [B, ...] data on the 256 levels in [-1, 1] (values between levels fall in the bin of
      the nearest one's edges: the formula is evaluated as is).
    mean, log_scale: broadcastable to x's shape; log_scale = log sigma.
  Returns:
    [B] log-probabilities in nats, summed over the non-batch axes.
  """
  validation.check_min_rank("x", x, 1, "[B, ...]")
  validation.check_broadcastable("mean", mean, "x", x.shape)
  validation.check_broadcastable("log_scale", log_scale, "x", x.shape)
  inv_sigma = jnp.exp(-log_scale)
  upper = (x + 1.0 / 255.0 - mean) * inv_sigma
  lower = (x - 1.0 / 255.0 - mean) * inv_sigma
  # Edge bins: Phi(upper) for the lowest level, 1 - Phi(lower) = Phi(-lower) for the highest.
  log_p = jnp.where(
      x < -0.999, log_ndtr(upper),
      jnp.where(x > 0.999, log_ndtr(-lower),
                _log_diff_ndtr(jnp.where((x < -0.999) | (x > 0.999), -1.0, lower),
                               jnp.where((x < -0.999) | (x > 0.999), 1.0, upper))))
  return log_p.reshape(x.shape[0], -1).sum(-1)
