"""Mode-coverage metrics of 2-D mixtures (Metz et al. 2017, §3.1).

The ring of Gaussians itself lives in `gen_jax.data` (`ring_of_gaussians`, `ring_modes`),
with the other 2-D toys; it is re-exported here for the GAN experiments.
"""

from __future__ import annotations

import jax
import numpy as np

from gen_jax import validation
from gen_jax.data import ring_modes  # pylint: disable=unused-import
from gen_jax.data import ring_of_gaussians  # pylint: disable=unused-import

Array = jax.Array


def mode_coverage(samples: Array, modes: Array, *, std: float, num_sigmas: float = 3.0,
                  min_fraction: float = 0.01) -> dict[str, float | list[float]]:
  """Mode coverage and sample quality of a 2-D mixture model (Metz et al. 2017 style).

  A sample is high quality when it lies within num_sigmas·σ of some mode; a mode is
  covered when at least `min_fraction` of all samples lie within num_sigmas·σ of it.

  Args:
    samples: [N, 2] generated points.
    modes: [M, 2] mode centres.
    std: σ of the components.
    num_sigmas: radius of the acceptance disc in units of σ (3).
    min_fraction: share of samples a mode needs to count as covered (0.01).
  Returns:
    {'modes_covered': int, 'high_quality_fraction': float, 'mode_fractions': [M] floats}.
  """
  samples, modes = np.asarray(samples, np.float64), np.asarray(modes, np.float64)
  validation.check_rank("modes", modes, 2, "[M, D]")
  validation.check_shape("samples", samples, (None, modes.shape[1]))
  dist = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)  # [N, M]
  nearest = dist.argmin(-1)
  close = dist.min(-1) <= num_sigmas * std
  fractions = np.bincount(nearest[close], minlength=modes.shape[0]) / samples.shape[0]
  return {"modes_covered": int((fractions >= min_fraction).sum()),
          "high_quality_fraction": float(close.mean()),
          "mode_fractions": [float(f) for f in fractions]}
