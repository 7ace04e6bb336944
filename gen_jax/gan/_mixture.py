"""The 2-D ring of Gaussians of Metz et al. (2017, §3.1) and its mode-coverage metrics."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import validation

Array = jax.Array


def ring_modes(*, num_modes: int = 8, radius: float = 2.0) -> Array:
  """[num_modes, 2] centres equally spaced on a circle of `radius`."""
  angles = 2.0 * math.pi * jnp.arange(num_modes, dtype=jnp.float32) / num_modes
  return radius * jnp.stack([jnp.cos(angles), jnp.sin(angles)], -1)


def ring_of_gaussians(key: Array, num: int, *, num_modes: int = 8, radius: float = 2.0,
                      std: float = 0.02) -> tuple[Array, Array]:
  """Samples of the mixture Σ_m (1/M)·N(μ_m, σ²I), μ_m on a ring (Metz et al. 2017).

  Args:
    key: PRNG key.
    num: number of samples.
    num_modes: M (8 in the paper).
    radius: ring radius (2).
    std: σ of each component (0.02).
  Returns:
    (points [num, 2] float32, mode index [num] int32).
  """
  k_mode, k_noise = jax.random.split(validation.check_key("key", key))
  mode = jax.random.randint(k_mode, (num,), 0, num_modes, dtype=jnp.int32)
  centres = ring_modes(num_modes=num_modes, radius=radius)[mode]
  return centres + std * jax.random.normal(k_noise, (num, 2), jnp.float32), mode


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
