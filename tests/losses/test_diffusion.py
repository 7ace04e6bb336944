"""Diffusion likelihood terms: the discretized Gaussian decoder against scipy.stats.norm
(and its 256 probabilities summing to 1), normal_kl against Monte Carlo; under jax.jit."""

import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy import stats

from gen_jax import losses
from gen_jax import validation

LEVELS = (2 * np.arange(256) / 255 - 1).astype(np.float32)


def _probabilities(mean, log_scale):
  """exp log P(level) for all 256 levels of one pixel, [256]."""
  x = LEVELS[:, None]
  fn = jax.jit(losses.discretized_gaussian_log_likelihood)
  return np.exp(np.asarray(fn(x, jnp.full_like(x, mean), jnp.full_like(x, log_scale)),
                           np.float64))


@pytest.mark.parametrize("mean,log_scale", [(0.0, math.log(0.1)), (0.95, math.log(0.002)),
                                             (-1.3, math.log(0.5)), (0.2, math.log(3.0)),
                                             (0.0, math.log(1e-4))])
def test_discretized_probabilities_sum_to_one(mean, log_scale):
  p = _probabilities(mean, log_scale)
  assert np.all(p >= 0)
  np.testing.assert_allclose(p.sum(), 1.0, atol=2e-5)


def test_discretized_matches_scipy_cdf_differences():
  rng = np.random.default_rng(0)
  x = rng.choice(LEVELS, size=(6, 5)).astype(np.float32)
  x[0, 0], x[1, 1] = -1.0, 1.0   # both open edge bins
  # Means within a few scales of x, so that float64 CDF differences are still exact.
  log_scale = rng.uniform(math.log(0.02), math.log(0.5), size=(6, 5)).astype(np.float32)
  mean = (x + 2 * np.exp(log_scale) * rng.normal(size=(6, 5))).astype(np.float32)
  got = jax.jit(losses.discretized_gaussian_log_likelihood)(x, mean, log_scale)
  xs, m, sd = x.astype(np.float64), mean.astype(np.float64), np.exp(log_scale.astype(
      np.float64))
  upper = np.where(xs > 0.999, 1.0, stats.norm.cdf(xs + 1 / 255, m, sd))
  lower = np.where(xs < -0.999, 0.0, stats.norm.cdf(xs - 1 / 255, m, sd))
  want = np.log(upper - lower).sum(1)
  assert got.shape == (6,)
  np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-3)


def test_discretized_tails_are_accurate_not_floored():
  """Far from the mean the bin probability is ~1e-300: compared with mpmath at 50 digits."""
  mpmath.mp.dps = 50
  cases = [(0.5, -0.5, 0.02), (-0.2, 0.9, 0.01), (1.0, -0.6, 0.03)]
  for x, mean, sd in cases:
    got = float(losses.discretized_gaussian_log_likelihood(
        jnp.array([[x]]), jnp.array([[mean]]), jnp.log(jnp.array([[sd]])))[0])
    # Standardized with the sign chosen so both ends lie left of 0 (no cancellation).
    sign = -1 if x > mean else 1
    z = lambda v: sign * (mpmath.mpf(v) - mean) / mpmath.mpf(sd)
    lo, hi = sorted([z(x - 1 / 255), z(x + 1 / 255)])
    if x > 0.999:
      p = mpmath.ncdf(z(x - 1 / 255))
    else:
      p = mpmath.ncdf(hi) - mpmath.ncdf(lo)
    want = float(mpmath.log(p))
    assert np.isfinite(got)
    np.testing.assert_allclose(got, want, rtol=2e-3)


def test_discretized_gradients_finite_and_bad_shapes():
  x = jnp.array([[-1.0, 0.0, 1.0]])
  g = jax.grad(lambda m, s: losses.discretized_gaussian_log_likelihood(x, m, s).sum(),
               argnums=(0, 1))(jnp.array([[0.9, -0.9, -0.9]]), jnp.full((1, 3), -6.0))
  assert all(np.all(np.isfinite(gi)) for gi in g)
  with pytest.raises(validation.ArgumentError, match="mean"):
    losses.discretized_gaussian_log_likelihood(x, jnp.zeros((2, 3)), jnp.zeros((1, 3)))


def test_normal_kl_closed_form_and_monte_carlo():
  m1, lv1, m2, lv2 = 0.3, -0.4, -0.5, 0.6
  got = float(jax.jit(losses.normal_kl)(m1, lv1, m2, lv2))
  s1, s2 = math.exp(0.5 * lv1), math.exp(0.5 * lv2)
  want = math.log(s2 / s1) + (s1**2 + (m1 - m2)**2) / (2 * s2**2) - 0.5
  np.testing.assert_allclose(got, want, rtol=1e-6)
  n = 400_000
  z = np.random.default_rng(1).normal(m1, s1, n)
  log_ratio = stats.norm.logpdf(z, m1, s1) - stats.norm.logpdf(z, m2, s2)
  assert abs(log_ratio.mean() - got) < 5 * log_ratio.std() / math.sqrt(n)
  # Elementwise with broadcasting, zero for equal Gaussians.
  out = losses.normal_kl(jnp.zeros((2, 3)), jnp.zeros((2, 3)), 0.0, 0.0)
  assert out.shape == (2, 3) and float(jnp.abs(out).max()) == 0.0
