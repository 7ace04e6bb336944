"""Fréchet distance between Gaussians: FID (Heusel et al., 2017, eq. 6)."""

from __future__ import annotations

import numpy as np

from gen_jax.metrics._statistics import gaussian_statistics
from gen_jax import validation
from gen_jax.metrics._validation import check_features


def _psd_eigenvalues_clipped(w: np.ndarray) -> np.ndarray:
  """Eigenvalues below the rounding level d * eps * max|w| set to 0 (they are 0 in exact
  arithmetic for a singular PSD matrix; their roots, ~1e-8, would add up in the trace)."""
  tol = w.shape[0] * np.finfo(np.float64).eps * max(np.abs(w).max(), 0.0)
  return np.where(w > tol, w, 0.0)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
  """Symmetric square root of a symmetric PSD matrix (eigendecomposition)."""
  w, v = np.linalg.eigh(matrix)
  return (v * np.sqrt(_psd_eigenvalues_clipped(w))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
  """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}), in float64 on host.

  Tr (S1 S2)^{1/2} = Tr (S1^{1/2} S2 S1^{1/2})^{1/2}: the product S1 S2 is not symmetric
  and `scipy.linalg.sqrtm` of it goes complex or NaN when the covariances are singular
  (N < d), whereas S1^{1/2} S2 S1^{1/2} is symmetric PSD, so an eigendecomposition with
  eigenvalues at the rounding level (negative or ~1e-16) set to 0 gives a real trace.
  The result is clipped at 0.

  Args:
    mu1, mu2: [d] means.
    sigma1, sigma2: [d, d] symmetric PSD covariances.
  Returns:
    The squared Fréchet (2-Wasserstein) distance, a Python float >= 0.
  """
  validation.check_rank("mu1", mu1, 1, "[d]")
  validation.check_rank("mu2", mu2, 1, "[d]")
  d = validation.check_trailing(("mu1", "mu2"), (mu1, mu2))
  validation.check_shape("sigma1", sigma1, (d, d))
  validation.check_shape("sigma2", sigma2, (d, d))
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
  s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
  root1 = _sqrt_psd(s1)
  inner = root1 @ s2 @ root1
  eig = np.linalg.eigvalsh((inner + inner.T) / 2)
  trace_sqrt = np.sqrt(_psd_eigenvalues_clipped(eig)).sum()
  diff = mu1 - mu2
  value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt
  return float(max(value, 0.0))


def frechet_inception_distance(real_features, fake_features) -> float:
  """FID between two [N, d] feature sets (N >= 2; sizes may differ); see `frechet_distance`."""
  check_features("real_features", real_features, min_rows=2)
  check_features("fake_features", fake_features, min_rows=2)
  validation.check_trailing(("real_features", "fake_features"), (real_features, fake_features))
  return frechet_distance(*gaussian_statistics(real_features),
                          *gaussian_statistics(fake_features))
