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


@pytest.mark.parametrize("m, n, subset_size, match", [
    # Fewer rows than subset_size in one set (torch-fidelity raises here too).
    (100, 100, 1000, r"subset_size=1000 is larger than the smaller feature set "
                     r"\(real_features has 100 rows, fake_features 100\)"),
    (50, 300, 60, r"subset_size=60 is larger .*real_features has 50 rows, fake_features 300"),
    # Exactly both set sizes: every subset would be the whole of both sets.
    (40, 40, 40, r"subset_size=40 equals both set sizes \(40 real and 40 fake rows\)"),
])
def test_kid_subset_size_too_large_for_the_sets_is_an_error(m, n, subset_size, match):
  rng = np.random.default_rng(4)
  x, y = rng.normal(size=(m, 3)), rng.normal(size=(n, 3))
  with pytest.raises(ValueError, match=match):
    kernel_inception_distance(x, y, key=jax.random.key(0), subset_size=subset_size)


def test_kid_full_subsets_give_rounding_noise_not_a_spread():
  # Why the equal-size case is an error: subsets that are the whole sets all give the
  # full-set estimate, so their "std" is float32 rounding (measured ~1e-7), however
  # different the sets are. Subsets of half the rows give a genuine spread.
  rng = np.random.default_rng(5)
  x = rng.normal(size=(40, 3)).astype(np.float32)
  y = (rng.normal(size=(40, 3)) + 0.3).astype(np.float32)
  full = float(kernel_inception_distance(x, y)[0])
  kid = functools.partial(kernel_inception_distance, num_subsets=20)
  permuted = [float(jax.jit(mmd2_unbiased)(x[np.asarray(jax.random.permutation(k, 40))], y))
              for k in jax.random.split(jax.random.key(0), 5)]
  np.testing.assert_allclose(permuted, full, rtol=1e-5)  # order does not matter
  mean, std = jax.jit(functools.partial(kid, subset_size=20))(x, y, key=jax.random.key(0))
  assert float(std) > 0.05 * abs(full), (float(std), full)
  np.testing.assert_allclose(mean, full, rtol=0.5)


def test_kid_subset_size_equal_to_the_smaller_set_only_is_allowed():
  # The smaller set is whole in every subset; the larger one is still subsampled.
  rng = np.random.default_rng(6)
  x = rng.normal(size=(12, 3)).astype(np.float32)
  y = (rng.normal(size=(30, 3)) + 0.5).astype(np.float32)
  key = jax.random.key(2)
  mean, std = jax.jit(functools.partial(kernel_inception_distance, num_subsets=3,
                                        subset_size=12))(x, y, key=key)
  values = []
  for k in jax.random.split(key, 3):
    kx, ky = jax.random.split(k)
    values.append(_mmd2_double_loop(x[np.asarray(jax.random.permutation(kx, 12))],
                                    y[np.asarray(jax.random.permutation(ky, 30))[:12]]))
  np.testing.assert_allclose(mean, np.mean(values), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(std, np.std(values), rtol=1e-3, atol=1e-5)
  assert float(std) > 1e-3


def test_kid_near_zero_for_same_distribution_and_positive_otherwise():
  rng = np.random.default_rng(2)
  a, b = rng.normal(size=(2, 400, 8)).astype(np.float32)
  same, _ = kernel_inception_distance(a, b)
  shifted, _ = kernel_inception_distance(a, b + 1.0)
  assert abs(float(same)) < 0.05 < float(shifted)


def _is_numpy(logits, splits, order=None):
  """The paper's code on rows taken in `order` (default: as given), float64."""
  logits = np.asarray(logits, np.float64)
  if order is not None:
    logits = logits[np.asarray(order)]
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  n = len(p)
  scores = []
  for i in range(splits):
    part = p[i * n // splits:(i + 1) * n // splits]
    py = part.mean(0)
    # 0 · log 0 = 0 for perfectly confident predictions.
    kl = np.where(part > 0, part * (np.log(np.maximum(part, 1e-300)) - np.log(py)), 0.0)
    scores.append(np.exp(np.mean(np.sum(kl, 1))))
  return np.mean(scores), np.std(scores)


IS_JIT = jax.jit(inception_score, static_argnames="num_splits")


@pytest.mark.parametrize("n, splits", [(100, 10), (103, 7), (20, 1)])
def test_inception_score_matches_numpy(n, splits):
  logits = np.random.default_rng(3).normal(size=(n, 10)).astype(np.float64) * 3
  key = jax.random.key(n)
  mean, std = IS_JIT(key, logits.astype(np.float32), num_splits=splits)
  # The documented split: rows permuted by jax.random.permutation(key, N), then chunked.
  ref_mean, ref_std = _is_numpy(logits, splits, jax.random.permutation(key, n))
  np.testing.assert_allclose(mean, ref_mean, rtol=1e-5)
  np.testing.assert_allclose(std, ref_std, rtol=1e-3, atol=1e-6)
  # key=None: the paper code's consecutive chunks of the rows as given.
  mean, std = IS_JIT(None, logits.astype(np.float32), num_splits=splits)
  ref_mean, ref_std = _is_numpy(logits, splits)
  np.testing.assert_allclose(mean, ref_mean, rtol=1e-5)
  np.testing.assert_allclose(std, ref_std, rtol=1e-3, atol=1e-6)


def _confident_logits(labels, num_classes):
  return np.eye(num_classes, dtype=np.float32)[labels] * 50.0


@pytest.mark.parametrize("order", ["class_blocks", "cyclic"])
def test_inception_score_of_class_ordered_samples_is_the_number_of_classes(order):
  # A perfect class-conditional generator's output: confident, balanced over C classes,
  # emitted in class order. Class blocks (all 0s, then all 1s, ...) are what a
  # class-by-class sampling loop gives; the cyclic order 0, 1, ..., C-1, 0, 1, ... is
  # what gen_jax.gan.generate uses for conditional models.
  c, n, splits = 10, 10_000, 10
  labels = np.repeat(np.arange(c), n // c) if order == "class_blocks" else np.arange(n) % c
  logits = _confident_logits(labels, c)
  key = jax.random.key(0)
  mean, std = IS_JIT(key, logits, num_splits=splits)
  ref_mean, ref_std = _is_numpy(logits, splits, jax.random.permutation(key, n))
  np.testing.assert_allclose(mean, ref_mean, rtol=1e-5)
  np.testing.assert_allclose(std, ref_std, rtol=1e-3, atol=1e-6)
  # IS of one-hot predictions is exp(H(split's class histogram)). A random split of
  # s = N/splits rows loses about (C - 1)/(2s) nats of entropy (the plug-in entropy bias),
  # 0.0045 here: IS ≈ 10 · e^-0.0045 ≈ 9.96. 2% covers it many times over.
  np.testing.assert_allclose(mean, c, rtol=0.02)
  # The two traps the key avoids: consecutive chunks of class blocks are single-class,
  # and interleaving (row i -> split i mod splits) of the cyclic order is single-class.
  if order == "class_blocks":
    trap = _is_numpy(logits, splits)[0]
  else:
    trap = _is_numpy(logits, splits, np.argsort(np.arange(n) % splits, kind="stable"))[0]
  np.testing.assert_allclose(trap, 1.0, rtol=1e-6)


def test_inception_score_extremes():
  # Identical predictions: IS = 1 whatever the split.
  mean, _ = inception_score(jax.random.key(0), np.zeros((50, 10), np.float32), num_splits=5)
  np.testing.assert_allclose(mean, 1.0, rtol=1e-6)
  # Confident predictions in random order over C classes, consecutive chunks: IS -> C.
  labels = np.random.default_rng(7).permutation(np.arange(1000) % 10)
  mean, std = inception_score(None, _confident_logits(labels, 10), num_splits=1)
  np.testing.assert_allclose(mean, 10.0, rtol=1e-4)
  assert std == 0


def test_bits_per_dim():
  nll = np.array([784 * math.log(2.0), 0.0])
  np.testing.assert_allclose(jax.jit(bits_per_dim, static_argnums=1)(nll, 784), [1.0, 0.0],
                             rtol=1e-6)
  with pytest.raises(ValueError, match="num_dims"):
    bits_per_dim(nll, 0)


def test_bad_shapes_name_the_argument():
  with pytest.raises(ValueError, match=r"logits must have shape \[N, d\], got shape \(10,\)"):
    inception_score(jax.random.key(0), np.zeros(10))
  with pytest.raises(ValueError, match=r"logits must have at least 10 rows"):
    inception_score(jax.random.key(0), np.zeros((5, 3)))
  with pytest.raises(ValueError, match=r"key must be a PRNG key.*got dtype float64"):
    inception_score(np.zeros((20, 3)), np.zeros((20, 3)))
  with pytest.raises(TypeError):  # the key is not optional: the old call is an error
    inception_score(np.zeros((20, 3)))  # pylint: disable=no-value-for-parameter
  with pytest.raises(ValueError, match=r"real_features must have shape \[N, d\]"):
    kernel_inception_distance(np.zeros((2, 3, 4)), np.zeros((5, 4)))
  with pytest.raises(ValueError, match=r"real_features and fake_features must share their "
                     r"last \(feature\) axis, got real_features: \(5, \d\), fake_features: "
                     r"\(5, \d\)"):
    kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 4)))


# Typed keys (jax.random.key) and legacy uint32 keys (jax.random.PRNGKey, shape (2,)) of
# the same seed hold the same threefry bits, so they must give the same numbers. The two
# kinds compile to two programs (XLA may fuse the float ops around the draws differently),
# so values are compared to float32 rounding; the draws themselves are compared bitwise.
KEY_KINDS = {"typed": jax.random.key, "legacy_uint32": jax.random.PRNGKey}


@pytest.mark.parametrize("kind", sorted(KEY_KINDS))
def test_keyed_metrics_accept_typed_and_legacy_keys(kind):
  rng = np.random.default_rng(8)
  x = rng.normal(size=(30, 4)).astype(np.float32)
  y = (rng.normal(size=(25, 4)) + 0.5).astype(np.float32)
  logits = (rng.normal(size=(40, 10)) * 3).astype(np.float32)
  key, ref = KEY_KINDS[kind](7), jax.random.key(7)
  np.testing.assert_array_equal(jax.random.permutation(key, 40),
                                jax.random.permutation(ref, 40))
  kid = jax.jit(functools.partial(kernel_inception_distance, num_subsets=5, subset_size=10))
  np.testing.assert_allclose(kid(x, y, key=key), kid(x, y, key=ref), rtol=1e-6)
  np.testing.assert_allclose(IS_JIT(key, logits, num_splits=4),
                             IS_JIT(ref, logits, num_splits=4), rtol=1e-6)
  with pytest.raises(ValueError, match="key must be a PRNG key"):
    kernel_inception_distance(x, y, key=jax.random.split(key, 2))
