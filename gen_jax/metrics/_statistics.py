"""Gaussian statistics of features, one-shot or streamed over batches, in float64 on host.

FID fits a Gaussian to 2048-d features of 50k images; summing outer products in float32
loses ~4 digits, so the accumulation is NumPy float64. Sums are taken around a shift (the
first batch's mean) so that the covariance does not suffer the cancellation of
E[xx^T] - mu mu^T when the features have a large mean.
"""

from __future__ import annotations

import numpy as np

from gen_jax import validation
from gen_jax.metrics._validation import check_features


class GaussianStatistics:
  """Streaming mean and covariance (ddof=1, as np.cov) of [N, d] feature batches.

  stats = GaussianStatistics()
  for batch in batches:
    stats.update(batch)          # [B, d]
  mu, sigma = stats.mean, stats.covariance
  """

  def __init__(self):
    self.count = 0
    self._shift = None
    self._sum = None
    self._outer = None

  def update(self, features) -> "GaussianStatistics":
    """Adds a [B, d] batch (any float dtype; accumulated in float64). Returns self."""
    check_features("features", features)
    x = np.asarray(features, np.float64)
    if self._shift is None:
      self._shift = x.mean(0)
      self._sum = np.zeros_like(self._shift)
      self._outer = np.zeros((x.shape[1], x.shape[1]), np.float64)
    elif x.shape[1] != self._shift.shape[0]:
      raise validation.ArgumentError(
          "features", f"features must have shape [B, {self._shift.shape[0]}] like the earlier "
          f"batches, got shape {x.shape}")
    x = x - self._shift
    self.count += x.shape[0]
    self._sum += x.sum(0)
    self._outer += x.T @ x
    return self

  @property
  def mean(self) -> np.ndarray:
    """float64 [d]."""
    self._require(1)
    return self._shift + self._sum / self.count

  @property
  def covariance(self) -> np.ndarray:
    """float64 [d, d], unbiased (divides by N - 1)."""
    self._require(2)
    centred = self._sum / self.count
    return (self._outer - self.count * np.outer(centred, centred)) / (self.count - 1)

  def _require(self, n: int) -> None:
    if self.count < n:
      raise validation.ArgumentError(
          "features", f"GaussianStatistics needs at least {n} feature rows (update it with "
          f"[B, d] features), has {self.count}")


def gaussian_statistics(features) -> tuple[np.ndarray, np.ndarray]:
  """(mean [d], covariance [d, d]) of [N, d] features in float64; N >= 2."""
  check_features("features", features, min_rows=2)
  stats = GaussianStatistics().update(features)
  return stats.mean, stats.covariance
