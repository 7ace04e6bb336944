"""Discretized logistic mixture: a SciPy float64 reference, normalization, sampling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special
from scipy import stats

from gen_jax import losses
from gen_jax import validation


def _params(key, shape, k):
  p = jax.random.normal(key, (*shape, 3 * k))
  return p.at[..., k:2 * k].multiply(0.7).at[..., 2 * k:].add(-1.5)


def reference(x, params, levels=256):
  """float64 SciPy: Σ_j π_j [F((y+δ-μ)/s) - F((y-δ-μ)/s)], edges to ±∞."""
  params = np.asarray(params, np.float64)
  k = params.shape[-1] // 3
  w = special.softmax(params[..., :k], -1)
  mu, s = params[..., k:2 * k], np.exp(np.maximum(params[..., 2 * k:], -7.0))
  y = 2 * np.asarray(x, np.float64)[..., None] - 1
  d = 1 / (levels - 1)
  upper = np.where(y > 1 - d / 2, 1.0, stats.logistic.cdf((y + d - mu) / s))
  lower = np.where(y < -1 + d / 2, 0.0, stats.logistic.cdf((y - d - mu) / s))
  p = (w * (upper - lower)).sum(-1)
  return np.log(p).reshape(p.shape[0], -1).sum(-1)


def test_matches_scipy():
  shape, k = (3, 4, 5), 4
  params = _params(jax.random.key(0), shape, k)
  levels = jax.random.randint(jax.random.key(1), shape, 0, 256).at[0, 0, :2].set(
      jnp.array([0, 255]))
  x = levels / 255.0
  got = jax.jit(losses.discretized_logistic_mixture_log_likelihood)(x, params)
  np.testing.assert_allclose(got, reference(x, params), rtol=1e-4)


def test_levels_sum_to_one():
  k = 3
  params = jnp.broadcast_to(_params(jax.random.key(3), (5,), k)[:, None], (5, 256, 3 * k))
  x = jnp.broadcast_to(jnp.arange(256) / 255.0, (5, 256))
  ll = jax.vmap(lambda xi, pi: jax.vmap(
      lambda a, b: losses.discretized_logistic_mixture_log_likelihood(a[None], b[None])[0])(
          xi, pi))(x, params)                                  # [5, 256] log p(level)
  np.testing.assert_allclose(jax.nn.logsumexp(ll, -1), 0.0, atol=1e-5)


def test_sharp_component_is_finite():
  params = jnp.array([[0.0, 0.3, -7.0]])                         # s = e^-7, far from the bin
  ll = losses.discretized_logistic_mixture_log_likelihood(jnp.array([0.0]), params)
  assert np.isfinite(ll).all()


def test_sampling_matches_probabilities():
  k, n = 2, 20000
  p = jnp.array([0.5, -1.0, 0.2, 0.6, -2.0, -2.5])
  params = jnp.broadcast_to(p, (n, 3 * k))
  kg, ku = jax.random.split(jax.random.key(4))
  x = losses.sample_discretized_logistic_mixture(
      jax.random.gumbel(kg, (n, k)), jax.random.uniform(ku, (n,)), params, num_levels=8)
  freq = np.bincount(np.asarray(jnp.round(x * 7)).astype(int), minlength=8) / n
  levels = jnp.arange(8) / 7.0
  probs = np.exp(losses.discretized_logistic_mixture_log_likelihood(
      levels[:, None], jnp.broadcast_to(p, (8, 1, 3 * k)), num_levels=8))
  np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)
  tol = 5 * np.sqrt(probs * (1 - probs) / n) + 1e-3
  assert (np.abs(freq - probs) < tol).all(), (freq, probs)


def test_bad_shape_names_params():
  with pytest.raises(validation.ArgumentError, match="params"):
    losses.discretized_logistic_mixture_log_likelihood(jnp.zeros((2, 3)), jnp.zeros((2, 4, 9)))
