"""Improved precision/recall and PRD against brute-force NumPy and scikit-learn."""

import functools

import jax
import numpy as np
import pytest
import sklearn.cluster

from gen_jax.metrics import kmeans
from gen_jax.metrics import knn_radii
from gen_jax.metrics import prd
from gen_jax.metrics import prd_curve
from gen_jax.metrics import prd_f_beta
from gen_jax.metrics import precision_recall


def _precision_recall_numpy(real, fake, k):
  """Kynkäänniemi et al. (2019), eq. 1-2, with the full distance matrices."""
  real, fake = real.astype(np.float64), fake.astype(np.float64)
  dist = lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
  r_real = np.sort(dist(real, real), 1)[:, k]
  r_fake = np.sort(dist(fake, fake), 1)[:, k]
  precision = np.mean((dist(fake, real) <= r_real[None]).any(1))
  recall = np.mean((dist(real, fake) <= r_fake[None]).any(1))
  return precision, recall


def test_matches_brute_force():
  rng = np.random.default_rng(0)
  real = rng.normal(size=(120, 6)).astype(np.float32)
  fake = (rng.normal(size=(90, 6)) * 0.7 + 0.8).astype(np.float32)
  for k in (1, 3, 5):
    got = jax.jit(functools.partial(precision_recall, k=k, block_size=32))(real, fake)
    np.testing.assert_allclose(got, _precision_recall_numpy(real, fake, k), atol=1e-7)


def test_block_size_does_not_change_the_result():
  rng = np.random.default_rng(1)
  real = rng.normal(size=(257, 5)).astype(np.float32)
  fake = (rng.normal(size=(199, 5)) + 0.3).astype(np.float32)
  # The matmul of a [7, d] and a [1000, d] block may round differently, so radii and
  # distances agree only to float32 rounding: compare them with a tolerance.
  radii = [knn_radii(real, k=3, block_size=b) for b in (7, 1000)]
  np.testing.assert_allclose(*radii, rtol=1e-5)
  # Precision and recall are counts of "distance <= radius" decisions; they are equal for
  # every block size only if no decision is within rounding of its threshold. A squared
  # distance |a|^2 + |b|^2 - 2 a.b of d-vectors in float32 is off by at most about
  # (d + 2) * u * (|a| + |b|)^2 (u = 2^-24), and both sides of a comparison carry such an
  # error: check, in float64, that every pair is at least 4x that far from its threshold,
  # then demand equal counts.
  x64, y64 = real.astype(np.float64), fake.astype(np.float64)
  d2 = lambda a, b: ((a[:, None] - b[None]) ** 2).sum(-1)
  u = np.finfo(np.float32).eps / 2
  scale = (2 * np.sqrt(max((x64**2).sum(1).max(), (y64**2).sum(1).max()))) ** 2
  rounding = 2 * (5 + 2) * u * scale
  for support, query in ((x64, y64), (y64, x64)):
    radius = np.sort(d2(support, support), 1)[:, 3]
    margin = np.abs(d2(query, support) - radius[None]).min()
    assert margin > 4 * rounding, (margin, rounding)
  results = [precision_recall(real, fake, block_size=b) for b in (7, 64, 1000)]
  for r in results[1:]:
    np.testing.assert_array_equal(r, results[0])


def test_identical_sets_have_full_precision_and_recall():
  x = np.random.default_rng(2).normal(size=(50, 3)).astype(np.float32)
  np.testing.assert_allclose(precision_recall(x, x), (1.0, 1.0))


def test_bad_inputs():
  with pytest.raises(ValueError, match=r"fake_features must have at least 4 rows"):
    precision_recall(np.zeros((10, 2)), np.zeros((3, 2)), k=3)


def _prd_curve_numpy(ref, ev, num_angles):
  slopes = np.tan(np.linspace(1e-10, np.pi / 2 - 1e-10, num_angles))[:, None]
  precision = np.minimum(ref[None] * slopes, ev[None]).sum(1)
  return np.clip(precision, 0, 1), np.clip(precision / slopes[:, 0], 0, 1)


def test_prd_curve_matches_numpy_and_extremes():
  rng = np.random.default_rng(3)
  ref, ev = rng.dirichlet(np.ones(20)), rng.dirichlet(np.ones(20))
  got = jax.jit(prd_curve)(ref.astype(np.float32), ev.astype(np.float32))
  expected = _prd_curve_numpy(ref, ev, 1001)
  np.testing.assert_allclose(got[0], expected[0], atol=1e-6)
  np.testing.assert_allclose(got[1], expected[1], atol=1e-6)
  # Equal distributions reach (1, 1); disjoint supports give (0, 0) everywhere.
  p, r = prd_curve(np.full(4, 0.25, np.float32), np.full(4, 0.25, np.float32))
  assert float(prd_f_beta(p, r)[0]) > 0.999 and float(prd_f_beta(p, r)[1]) > 0.999
  p, r = prd_curve(np.array([0.5, 0.5, 0, 0], np.float32), np.array([0, 0, 0.5, 0.5], np.float32))
  assert float(p.max()) == 0 and float(r.max()) == 0


def test_prd_f_beta_matches_formula():
  p = np.array([0.2, 0.9, 0.5], np.float32)
  r = np.array([0.9, 0.1, 0.5], np.float32)
  f = lambda b: np.max((1 + b * b) * p * r / (b * b * p + r + 1e-10))
  np.testing.assert_allclose(prd_f_beta(p, r), (f(8.0), f(1 / 8)), rtol=1e-6)


def test_kmeans_matches_sklearn_on_blobs():
  rng = np.random.default_rng(4)
  centres = rng.normal(size=(5, 3)) * 10
  x = (centres[rng.integers(0, 5, 500)] + rng.normal(size=(500, 3))).astype(np.float32)
  centroids, labels, inertia = jax.jit(kmeans, static_argnums=2)(jax.random.key(0), x, 5)
  ref = sklearn.cluster.KMeans(5, n_init=10, random_state=0).fit(x.astype(np.float64))
  np.testing.assert_allclose(inertia, ref.inertia_, rtol=1e-4)
  # Same partition up to a relabelling.
  pairs = set(zip(np.asarray(labels).tolist(), ref.labels_.tolist()))
  assert len(pairs) == 5
  np.testing.assert_allclose(np.sort(np.asarray(centroids), 0),
                             np.sort(ref.cluster_centers_, 0), atol=1e-3)


def test_prd_same_vs_different_distributions():
  rng = np.random.default_rng(5)
  centres = rng.normal(size=(10, 4)) * 8
  real = (centres[rng.integers(0, 10, 600)] + rng.normal(size=(600, 4))).astype(np.float32)
  fake_good = (centres[rng.integers(0, 10, 600)] + rng.normal(size=(600, 4))).astype(np.float32)
  fake_half = (centres[rng.integers(0, 5, 600)] + rng.normal(size=(600, 4))).astype(np.float32)
  run = jax.jit(functools.partial(prd, num_clusters=10, num_runs=3, num_init=3))
  f8, f1_8 = prd_f_beta(*run(jax.random.key(0), real, fake_good))
  assert f8 > 0.9 and f1_8 > 0.9
  # Mode dropping (half of the modes): precision stays high, recall falls to ~0.5.
  f8, f1_8 = prd_f_beta(*run(jax.random.key(0), real, fake_half))
  assert f1_8 > 0.9 and f8 < 0.65


@pytest.mark.parametrize("kind", ["typed", "legacy_uint32"])
def test_kmeans_and_prd_accept_typed_and_legacy_keys(kind):
  # Typed and legacy uint32 keys of one seed hold the same threefry bits: same seeding,
  # same clusters. The two key kinds compile to two programs, so float results are
  # compared to float32 rounding; the labels (integers) are compared exactly.
  make = {"typed": jax.random.key, "legacy_uint32": jax.random.PRNGKey}[kind]
  rng = np.random.default_rng(6)
  centres = rng.normal(size=(4, 3)) * 6
  real = (centres[rng.integers(0, 4, 80)] + rng.normal(size=(80, 3))).astype(np.float32)
  fake = (centres[rng.integers(0, 2, 60)] + rng.normal(size=(60, 3))).astype(np.float32)
  km = jax.jit(functools.partial(kmeans, num_clusters=4, num_iters=10, num_init=2))
  got, want = km(make(9), real), km(jax.random.key(9), real)
  np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-6)
  np.testing.assert_array_equal(got[1], want[1])
  np.testing.assert_allclose(got[2], want[2], rtol=1e-6)
  run = jax.jit(functools.partial(prd, num_clusters=4, num_angles=101, num_runs=2,
                                  num_init=2, num_iters=10))
  for a, b in zip(run(make(9), real, fake), run(jax.random.key(9), real, fake)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
  with pytest.raises(ValueError, match="key must be a PRNG key"):
    prd(np.zeros(3, np.float32), real, fake)
