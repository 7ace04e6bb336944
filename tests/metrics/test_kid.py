"""metrics.mmd2: the one MMD of the library (KID's polynomial kernel, the GMMN's Gaussian
mixture) against NumPy double loops, and its expectation under equal distributions."""

import functools

import jax
import numpy as np
import pytest

from gen_jax import metrics


def _np_mmd2(x, y, kernel, unbiased):
  x, y = x.astype(np.float64), y.astype(np.float64)
  m, n = len(x), len(y)
  off = lambda a, b, i, j: unbiased and a is b and i == j
  xx = sum(kernel(x[i], x[j]) for i in range(m) for j in range(m) if not off(x, x, i, j))
  yy = sum(kernel(y[i], y[j]) for i in range(n) for j in range(n) if not off(y, y, i, j))
  xy = sum(kernel(x[i], y[j]) for i in range(m) for j in range(n))
  if unbiased:
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)
  return xx / m**2 + yy / n**2 - 2 * xy / (m * n)


BANDWIDTHS = (0.5, 2.0, 7.0)


def _np_mixture(a, b):
  return sum(np.exp(-np.sum((a - b) ** 2) / (2 * s**2)) for s in BANDWIDTHS)


@pytest.mark.parametrize("unbiased", [True, False])
@pytest.mark.parametrize("kernel_name", ["mixture", "polynomial"])
def test_mmd2_matches_numpy_double_loops(kernel_name, unbiased):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(9, 4)).astype(np.float32)
  y = (rng.normal(size=(14, 4)) * 1.5 + 0.3).astype(np.float32)
  if kernel_name == "mixture":
    kernel = functools.partial(metrics.gaussian_mixture_kernel, bandwidths=BANDWIDTHS)
    np_kernel = _np_mixture
  else:
    kernel, np_kernel = metrics.polynomial_kernel, lambda a, b: (a @ b / 4 + 1.0) ** 3
  got = jax.jit(functools.partial(metrics.mmd2, kernel=kernel, unbiased=unbiased))(x, y)
  np.testing.assert_allclose(got, _np_mmd2(x, y, np_kernel, unbiased), rtol=1e-4, atol=1e-6)
  if kernel_name == "polynomial" and unbiased:
    np.testing.assert_allclose(metrics.mmd2_unbiased(x, y), got, rtol=1e-6)


def test_unbiased_mmd2_is_zero_in_expectation_for_one_distribution():
  kernel = functools.partial(metrics.gaussian_mixture_kernel, bandwidths=BANDWIDTHS)
  reps = 400

  def one(key):
    kx, ky = jax.random.split(key)
    x, y = jax.random.normal(kx, (10, 3)), jax.random.normal(ky, (12, 3))
    return (metrics.mmd2(x, y, kernel=kernel),
            metrics.mmd2(x, y, kernel=kernel, unbiased=False))
  unbiased, biased = map(np.asarray, jax.jit(jax.vmap(one))(
      jax.random.split(jax.random.key(0), reps)))
  se = unbiased.std() / np.sqrt(reps)
  assert abs(unbiased.mean()) < 4 * se, (unbiased.mean(), se)
  # The V-statistic includes k(x, x) = 3 on its diagonals: biased upward, always >= 0.
  assert biased.min() >= 0 and biased.mean() > unbiased.mean() + 10 * se
