"""FID and the Gaussian statistics behind it, against SciPy and high-precision references."""

import numpy as np
import pytest
import scipy.linalg

from gen_jax.metrics import GaussianStatistics
from gen_jax.metrics import frechet_distance
from gen_jax.metrics import frechet_inception_distance
from gen_jax.metrics import gaussian_statistics


def _scipy_fid(mu1, s1, mu2, s2):
  """The pytorch-fid / TTUR formulation: sqrtm of the non-symmetric product."""
  covmean = scipy.linalg.sqrtm(s1 @ s2).real
  return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _mp_fid_low_rank(x, y):
  """FID from centred data with Tr (S1 S2)^{1/2} = ||A^T B||_* (nuclear norm), 50 digits.

  With S1 = A A^T, S2 = B B^T, the non-zero eigenvalues of S1 S2 are those of
  (A^T B)(A^T B)^T, so the trace of the root is the sum of singular values of A^T B.
  """
  mpmath = pytest.importorskip("mpmath")  # installed with torch (via sympy)
  mpmath.mp.dps = 50
  def centred(z):
    z = mpmath.matrix(z.tolist())
    mean = [sum(z[i, j] for i in range(z.rows)) / z.rows for j in range(z.cols)]
    c = mpmath.matrix(z.rows, z.cols)
    for i in range(z.rows):
      for j in range(z.cols):
        c[i, j] = (z[i, j] - mean[j]) / mpmath.sqrt(z.rows - 1)
    return c, mean
  a, mu1 = centred(x)   # rows = samples: S1 = a^T a
  b, mu2 = centred(y)
  nuclear = sum(mpmath.svd_r(a * b.T, compute_uv=False))
  trace1 = sum(a[i, j] ** 2 for i in range(a.rows) for j in range(a.cols))
  trace2 = sum(b[i, j] ** 2 for i in range(b.rows) for j in range(b.cols))
  mean_term = sum((m1 - m2) ** 2 for m1, m2 in zip(mu1, mu2))
  return float(mean_term + trace1 + trace2 - 2 * nuclear)


def test_matches_scipy_sqrtm_on_well_conditioned_inputs():
  rng = np.random.default_rng(0)
  d = 16
  x, y = rng.normal(size=(500, d)), rng.normal(size=(400, d)) @ rng.normal(size=(d, d)) * 0.5 + 1
  mu1, s1 = np.mean(x, 0), np.cov(x, rowvar=False)
  mu2, s2 = np.mean(y, 0), np.cov(y, rowvar=False)
  np.testing.assert_allclose(frechet_distance(mu1, s1, mu2, s2), _scipy_fid(mu1, s1, mu2, s2),
                             rtol=1e-10)
  np.testing.assert_allclose(frechet_inception_distance(x, y), _scipy_fid(mu1, s1, mu2, s2),
                             rtol=1e-10)


def test_closed_form_for_commuting_gaussians():
  # Diagonal covariances: FID = |mu1-mu2|^2 + sum (sqrt(a) - sqrt(b))^2.
  a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0])
  mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 2.0])
  expected = 9.0 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
  np.testing.assert_allclose(frechet_distance(mu1, np.diag(a), mu2, np.diag(b)), expected,
                             rtol=1e-12)


def test_rank_deficient_is_finite_real_nonnegative_and_matches_high_precision():
  rng = np.random.default_rng(1)
  d, n = 32, 10  # N < d: both covariances have rank 9
  x = rng.normal(size=(n, d))
  y = rng.normal(size=(n, d)) * 1.5 + 0.3
  value = frechet_inception_distance(x, y)
  assert isinstance(value, float) and np.isfinite(value) and value >= 0
  # Measured: 2e-16 relative (scipy.linalg.sqrtm of S1 S2 is off by 1e-8 here).
  np.testing.assert_allclose(value, _mp_fid_low_rank(x, y), rtol=1e-12)
  # Identical singular sets: exactly 0 up to rounding, never negative or NaN.
  same = frechet_inception_distance(x, x)
  assert 0.0 <= same < 1e-8


def test_streaming_statistics_equal_one_shot():
  rng = np.random.default_rng(2)
  x = (rng.normal(size=(1000, 8)) * 3 + 1000.0).astype(np.float32)  # large mean: no cancellation
  stats = GaussianStatistics()
  for start in range(0, 1000, 137):
    stats.update(x[start:start + 137])
  x64 = x.astype(np.float64)
  np.testing.assert_allclose(stats.mean, x64.mean(0), rtol=1e-13)
  np.testing.assert_allclose(stats.covariance, np.cov(x64, rowvar=False), rtol=1e-9, atol=1e-9)
  mu, sigma = gaussian_statistics(x)
  np.testing.assert_allclose(stats.mean, mu, rtol=1e-13)
  np.testing.assert_allclose(stats.covariance, sigma, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("args, match", [
    ((np.zeros((3, 1)), np.eye(3), np.zeros(3), np.eye(3)), r"mu1 must have shape \[d\]"),
    ((np.zeros(3), np.eye(2), np.zeros(3), np.eye(3)), r"sigma1 must have shape \[3, 3\]"),
    ((np.zeros(3), np.eye(3), np.zeros(2), np.eye(3)), r"mu1 and mu2"),
])
def test_frechet_distance_bad_shapes(args, match):
  with pytest.raises(ValueError, match=match):
    frechet_distance(*args)


def test_fid_bad_features():
  with pytest.raises(ValueError, match=r"fake_features must have shape \[N, d\], got shape \(5,\)"):
    frechet_inception_distance(np.zeros((5, 2)), np.zeros(5))
  with pytest.raises(ValueError, match=r"real_features must have at least 2 rows"):
    frechet_inception_distance(np.zeros((1, 2)), np.zeros((5, 2)))
  with pytest.raises(ValueError, match=r"real_features and fake_features must share their "
                     r"last \(feature\) axis, got real_features: \(5, \d\), fake_features: "
                     r"\(5, \d\)"):
    frechet_inception_distance(np.zeros((5, 2)), np.zeros((5, 3)))
  with pytest.raises(ValueError, match=r"features must have shape \[B, 2\]"):
    GaussianStatistics().update(np.zeros((3, 2))).update(np.zeros((3, 4)))
