"""KID, Inception Score and bits/dim against plain NumPy loops, run under jax.jit."""

import functools
import math

import jax
import numpy as np
import pytest

from gen_jax.metrics import bits_per_dim
from gen_jax.metrics import inception_score
from gen_jax.metrics import kernel_inception_distance
from gen_jax.metrics import mmd2_unbiased


def _mmd2_double_loop(x, y):
  x, y = x.astype(np.float64), y.astype(np.float64)
  d = x.shape[1]
  k = lambda a, b: (a @ b / d + 1.0) ** 3
  m, n = len(x), len(y)
  xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
  return xx + yy - 2 * xy


def test_mmd2_matches_double_loop_with_different_sizes():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(13, 5)).astype(np.float32)
  y = (rng.normal(size=(21, 5)) * 1.3 + 0.4).astype(np.float32)
  np.testing.assert_allclose(jax.jit(mmd2_unbiased)(x, y), _mmd2_double_loop(x, y),
                             rtol=1e-4, atol=1e-5)
  mean, std = jax.jit(kernel_inception_distance)(x, y)
  np.testing.assert_allclose(mean, _mmd2_double_loop(x, y), rtol=1e-4, atol=1e-5)
  assert std == 0


def test_kid_subsets_match_loop_over_the_same_subsets():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(30, 4)).astype(np.float32)
  y = (rng.normal(size=(25, 4)) + 0.5).astype(np.float32)
  key = jax.random.key(3)
  kid = jax.jit(functools.partial(kernel_inception_distance, num_subsets=4, subset_size=10))
  mean, std = kid(x, y, key=key)
  values = []
  for k in jax.random.split(key, 4):  # the documented sampling: one key per subset
    kx, ky = jax.random.split(k)
    ix = np.asarray(jax.random.permutation(kx, 30))[:10]
    iy = np.asarray(jax.random.permutation(ky, 25))[:10]
    values.append(_mmd2_double_loop(x[ix], y[iy]))
  np.testing.assert_allclose(mean, np.mean(values), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(std, np.std(values), rtol=1e-3, atol=1e-5)


def test_kid_near_zero_for_same_distribution_and_positive_otherwise():
  rng = np.random.default_rng(2)
  a, b = rng.normal(size=(2, 400, 8)).astype(np.float32)
  same, _ = kernel_inception_distance(a, b)
  shifted, _ = kernel_inception_distance(a, b + 1.0)
  assert abs(float(same)) < 0.05 < float(shifted)


def _is_numpy(logits, splits):
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  n = len(p)
  scores = []
  for i in range(splits):
    part = p[i * n // splits:(i + 1) * n // splits]
    py = part.mean(0)
    scores.append(np.exp(np.mean(np.sum(part * (np.log(part) - np.log(py)), 1))))
  return np.mean(scores), np.std(scores)


@pytest.mark.parametrize("n, splits", [(100, 10), (103, 7), (20, 1)])
def test_inception_score_matches_numpy(n, splits):
  logits = np.random.default_rng(3).normal(size=(n, 10)).astype(np.float64) * 3
  mean, std = jax.jit(inception_score, static_argnames="num_splits")(
      logits.astype(np.float32), num_splits=splits)
  ref_mean, ref_std = _is_numpy(logits, splits)
  np.testing.assert_allclose(mean, ref_mean, rtol=1e-5)
  np.testing.assert_allclose(std, ref_std, rtol=1e-3, atol=1e-6)


def test_inception_score_extremes():
  # One-hot-like confident predictions spread evenly over C classes: IS -> C.
  logits = np.eye(10, dtype=np.float32)[np.arange(1000) % 10] * 50
  mean, std = inception_score(logits, num_splits=10)
  np.testing.assert_allclose(mean, 10.0, rtol=1e-4)
  assert std < 1e-4
  # Identical predictions: IS = 1.
  mean, _ = inception_score(np.zeros((50, 10), np.float32), num_splits=5)
  np.testing.assert_allclose(mean, 1.0, rtol=1e-6)


def test_bits_per_dim():
  nll = np.array([784 * math.log(2.0), 0.0])
  np.testing.assert_allclose(jax.jit(bits_per_dim, static_argnums=1)(nll, 784), [1.0, 0.0],
                             rtol=1e-6)
  with pytest.raises(ValueError, match="num_dims"):
    bits_per_dim(nll, 0)


def test_bad_shapes_name_the_argument():
  with pytest.raises(ValueError, match=r"logits must have shape \[N, d\], got \(10,\)"):
    inception_score(np.zeros(10))
  with pytest.raises(ValueError, match=r"logits must have at least 10 rows"):
    inception_score(np.zeros((5, 3)))
  with pytest.raises(ValueError, match=r"real_features must have shape \[N, d\]"):
    kernel_inception_distance(np.zeros((2, 3, 4)), np.zeros((5, 4)))
  with pytest.raises(ValueError, match="same feature dimension"):
    kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 4)))
