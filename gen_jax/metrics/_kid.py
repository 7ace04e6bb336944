"""Kernel Inception Distance (Binkowski et al., 2018, "Demystifying MMD GANs", sec. 3)."""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from gen_jax import validation
from gen_jax.metrics._validation import check_features

_HIGHEST = jax.lax.Precision.HIGHEST  # TF32 matmuls on GPU would cost KID ~3 digits.


def polynomial_kernel(x: jax.Array, y: jax.Array) -> jax.Array:
  """k(x, y) = (x^T y / d + 1)^3 for all pairs: [m, d], [n, d] -> [m, n]."""
  d = x.shape[-1]
  return (jnp.matmul(x, y.T, precision=_HIGHEST) / d + 1.0) ** 3


def gaussian_mixture_kernel(x: jax.Array, y: jax.Array, *,
                            bandwidths: Sequence[float]) -> jax.Array:
  """k(x, y) = Σ_σ exp(−‖x − y‖² / (2σ²)) for all pairs: [m, d], [n, d] -> [m, n].

  The mixture of Gaussian (RBF) kernels of generative moment matching networks (Li, Swersky
  & Zemel 2015, §3), characteristic for any positive bandwidths.
  """
  sq = (jnp.sum(x * x, -1)[:, None] + jnp.sum(y * y, -1)[None, :]
        - 2.0 * jnp.matmul(x, y.T, precision=_HIGHEST))
  sq = jnp.maximum(sq, 0.0)  # cancellation can leave tiny negatives on the diagonal
  return sum(jnp.exp(-sq / (2.0 * float(s) ** 2)) for s in bandwidths)


def mmd2(x: jax.Array, y: jax.Array, *, kernel: Callable[[jax.Array, jax.Array], jax.Array]
         = polynomial_kernel, unbiased: bool = True) -> jax.Array:
  """Squared maximum mean discrepancy between two samples (Gretton et al., 2012, eqs. 3, 5).

  The one MMD implementation of the library: KID (`kernel_inception_distance`, cubic
  polynomial kernel) and the GMMN loss (`energy.gmmn_loss`, Gaussian mixture kernel)
  both call it.

  Args:
    x: [m, d], y: [n, d] samples (sizes may differ; m, n >= 2 when unbiased).
    kernel: (a [m, d], b [n, d]) -> [m, n] Gram matrix, e.g. `polynomial_kernel` or
      `functools.partial(gaussian_mixture_kernel, bandwidths=(2, 5, 10))`.
    unbiased: True: the U-statistic Σ_{i≠j} k(x_i,x_j)/(m(m−1)) + Σ_{i≠j} k(y_i,y_j)/(n(n−1))
      − 2 Σ_{i,j} k(x_i,y_j)/(mn), zero in expectation when x and y share a distribution
      (may be slightly negative); False: the V-statistic with the diagonals included
      (biased upward, always >= 0).
  Returns:
    scalar MMD².
  """
  m, n = x.shape[0], y.shape[0]
  k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
  if not unbiased:
    return k_xx.mean() + k_yy.mean() - 2.0 * k_xy.mean()
  term_xx = (k_xx.sum() - jnp.trace(k_xx)) / (m * (m - 1))
  term_yy = (k_yy.sum() - jnp.trace(k_yy)) / (n * (n - 1))
  return term_xx + term_yy - 2.0 * k_xy.mean()


def mmd2_unbiased(x: jax.Array, y: jax.Array) -> jax.Array:
  """Unbiased MMD^2 (Gretton et al., 2012, eq. 3) with the cubic polynomial kernel: KID's
  estimate, `mmd2(x, y, kernel=polynomial_kernel)`.

  Args:
    x: [m, d], y: [n, d] features, m, n >= 2 (sizes may differ).
  Returns:
    scalar: sum_{i!=j} k(x_i,x_j)/(m(m-1)) + sum_{i!=j} k(y_i,y_j)/(n(n-1))
            - 2 sum_{i,j} k(x_i,y_j)/(mn). May be slightly negative.
  """
  return mmd2(x, y, kernel=polynomial_kernel)


def kernel_inception_distance(real_features: jax.Array, fake_features: jax.Array, *,
                              key: jax.Array | None = None, num_subsets: int = 100,
                              subset_size: int = 1000) -> tuple[jax.Array, jax.Array]:
  """KID: unbiased MMD^2 of the cubic polynomial kernel between feature sets.

  Args:
    real_features: [m, d]; fake_features: [n, d]; m, n >= 2.
    key: None for one estimate on the full sets (std exactly 0). With a key (typed or
      legacy uint32), the estimate is averaged over `num_subsets` subsets of
      `subset_size` rows drawn without replacement from each set, as in the paper's
      code; subset i uses `jax.random.split(key, num_subsets)[i]`, split once more into
      the real and the fake permutation.
    num_subsets, subset_size: see `key`.
  Returns:
    (mean, std) scalars: the KID estimate and the population std over subsets.
  Raises:
    ValueError: with a key, if `subset_size` exceeds the smaller set (min(m, n) rows),
      or equals both m and n. torch-fidelity raises in the first case; capping the size
      silently (as some implementations do) or allowing the second case makes every
      subset the whole of both sets, so the mean is the full-set estimate and the "std"
      is float32 rounding noise (~1e-7) that reads like a real spread. Pass a smaller
      `subset_size`, or key=None for the single full-set estimate.
      (`gen_jax.metrics.evaluate_samples` chooses a valid size by default and reports it.)
  """
  check_features("real_features", real_features, min_rows=2)
  check_features("fake_features", fake_features, min_rows=2)
  validation.check_trailing(("real_features", "fake_features"), (real_features, fake_features))
  real = jnp.asarray(real_features, jnp.float32)
  fake = jnp.asarray(fake_features, jnp.float32)
  if key is None:
    value = mmd2_unbiased(real, fake)
    return value, jnp.zeros_like(value)
  validation.check_int("num_subsets", num_subsets, low=1)
  validation.check_int("subset_size", subset_size, low=2)
  key = validation.check_key("key", key)
  check_subset_size(subset_size, real.shape[0], fake.shape[0])

  def one_subset(k):
    k_real, k_fake = jax.random.split(k)
    x = real[jax.random.permutation(k_real, real.shape[0])[:subset_size]]
    y = fake[jax.random.permutation(k_fake, fake.shape[0])[:subset_size]]
    return mmd2_unbiased(x, y)

  values = jax.lax.map(one_subset, jax.random.split(key, num_subsets))
  return values.mean(), values.std()


def check_subset_size(subset_size: int, m: int, n: int, *, name: str = "subset_size",
                      alternative: str = "key=None for one estimate on the full sets") -> None:
  """ValueError unless KID subsets of `subset_size` rows out of m real and n fake vary."""
  if subset_size > min(m, n):
    raise validation.ArgumentError(
        name,
        f"{name}={subset_size} is larger than the smaller feature set (real_features has "
        f"{m} rows, fake_features {n}); KID subsets are drawn without replacement. Pass "
        f"{name} <= {min(m, n)} (about half, {min(m, n) // 2}, lets the subsets of both "
        f"sets differ), or {alternative}.")
  if subset_size == m == n:
    raise validation.ArgumentError(
        name,
        f"{name}={subset_size} equals both set sizes ({m} real and {n} fake rows): every "
        f"subset would be the whole of both sets, the mean the full-set estimate and the "
        f"std over subsets only rounding noise. Pass a smaller {name} (e.g. {m // 2}), or "
        f"{alternative}.")
