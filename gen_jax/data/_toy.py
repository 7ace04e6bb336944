"""The 2-D toy distributions of the GAN, flow and diffusion tutorials, as pure generators.

Each generator is a pure function of (key, num) returning float32 points [num, 2] and, where
the distribution is a mixture, the int32 component index [num] of each point. `toy_dataset`
turns one into a dataset (key 'x', plus 'label') with a fixed data key per split, so every
run trains and evaluates on the same points whatever its seed.
"""

from __future__ import annotations

import math
import zlib

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import validation

from gen_jax.data._dataset import ArrayDataset

Array = jax.Array

# Data keys of the toy datasets: a property of the data, not of the run.
TOY_DATA_KEY = 20240322
TOY_TRAIN_SIZE = 100_000
TOY_TEST_SIZE = 10_000


def ring_modes(*, num_modes: int = 8, radius: float = 2.0) -> Array:
  """[num_modes, 2] centres equally spaced on a circle of `radius`, the first at (radius, 0)."""
  angles = 2.0 * math.pi * jnp.arange(num_modes, dtype=jnp.float32) / num_modes
  return radius * jnp.stack([jnp.cos(angles), jnp.sin(angles)], -1)


def _mixture(key: Array, num: int, centres: Array, std: float) -> tuple[Array, Array]:
  k_mode, k_noise = jax.random.split(validation.check_key("key", key))
  mode = jax.random.randint(k_mode, (num,), 0, centres.shape[0], dtype=jnp.int32)
  return centres[mode] + std * jax.random.normal(k_noise, (num, 2), jnp.float32), mode


def ring_of_gaussians(key: Array, num: int, *, num_modes: int = 8, radius: float = 2.0,
                      std: float = 0.02) -> tuple[Array, Array]:
  """Samples of the mixture Σ_m (1/M)·N(μ_m, σ²I), μ_m on a ring (Metz et al. 2017, §3.1).

  Args:
    key: PRNG key.
    num: number of samples.
    num_modes: M (8 in the paper).
    radius: ring radius (2).
    std: σ of each component (0.02).
  Returns:
    (points [num, 2] float32, mode index [num] int32 into `ring_modes`).
  """
  return _mixture(key, num, ring_modes(num_modes=num_modes, radius=radius), std)


def grid_modes(*, side: int = 5, spacing: float = 2.0) -> Array:
  """[side², 2] centres of a side×side grid centred on 0 (spacing 2: {-4,-2,0,2,4}²),
  row-major with the first coordinate slowest."""
  axis = spacing * (jnp.arange(side, dtype=jnp.float32) - (side - 1) / 2)
  a, b = jnp.meshgrid(axis, axis, indexing="ij")
  return jnp.stack([a.ravel(), b.ravel()], -1)


def grid_of_gaussians(key: Array, num: int, *, side: int = 5, spacing: float = 2.0,
                      std: float = 0.05) -> tuple[Array, Array]:
  """The 2-D grid of 25 Gaussians (VEEGAN, Srivastava et al. 2017; PacGAN): equal weights,
  centres `grid_modes` ({-4,-2,0,2,4}²), σ = 0.05.

  Returns:
    (points [num, 2] float32, mode index [num] int32 into `grid_modes`).
  """
  return _mixture(key, num, grid_modes(side=side, spacing=spacing), std)


def two_moons(key: Array, num: int, *, noise: float = 0.05) -> tuple[Array, Array]:
  """Two interleaved half circles (scikit-learn's make_moons, with t drawn uniformly):
  moon 0 is (cos t, sin t), moon 1 is (1 − cos t, 0.5 − sin t), t ~ U[0, π], each with
  probability 1/2, plus N(0, noise²I).

  Returns:
    (points [num, 2] float32, moon index [num] int32).
  """
  k_moon, k_t, k_noise = jax.random.split(validation.check_key("key", key), 3)
  moon = jax.random.bernoulli(k_moon, 0.5, (num,)).astype(jnp.int32)
  t = jax.random.uniform(k_t, (num,), jnp.float32, 0.0, math.pi)
  outer = jnp.stack([jnp.cos(t), jnp.sin(t)], -1)
  inner = jnp.stack([1.0 - jnp.cos(t), 0.5 - jnp.sin(t)], -1)
  points = jnp.where(moon[:, None] == 0, outer, inner)
  return points + noise * jax.random.normal(k_noise, (num, 2), jnp.float32), moon


def checkerboard(key: Array, num: int) -> tuple[Array, Array]:
  """Uniform on the 8 dark squares of a 4×4 checkerboard over [-4, 4]² (FFJORD's toy,
  Grathwohl et al. 2019): square (i, j) = [-4 + 2i, -2 + 2i) × [-4 + 2j, -2 + 2j) is dark
  when i + j is even.

  Returns:
    (points [num, 2] float32, square index [num] int32 in 0..7: the dark squares in
    row-major (i, j) order).
  """
  k_square, k_pos = jax.random.split(validation.check_key("key", key))
  square = jax.random.randint(k_square, (num,), 0, 8, dtype=jnp.int32)
  i = square // 2
  j = 2 * (square % 2) + i % 2  # the two dark squares of row i
  corner = jnp.stack([-4.0 + 2.0 * i, -4.0 + 2.0 * j], -1).astype(jnp.float32)
  return corner + 2.0 * jax.random.uniform(k_pos, (num, 2), jnp.float32), square


def swiss_roll(key: Array, num: int, *, noise: float = 0.2) -> Array:
  """The 2-D swiss roll of the flow papers (FFJORD: scikit-learn's roll, (x, z) / 5):
  t ~ U[1.5π, 4.5π], point (t cos t, t sin t) / 5 + N(0, noise²I).

  Returns:
    points [num, 2] float32 (a continuum: no component index).
  """
  k_t, k_noise = jax.random.split(validation.check_key("key", key))
  t = 1.5 * math.pi * (1.0 + 2.0 * jax.random.uniform(k_t, (num,), jnp.float32))
  points = jnp.stack([t * jnp.cos(t), t * jnp.sin(t)], -1) / 5.0
  return points + noise * jax.random.normal(k_noise, (num, 2), jnp.float32)


# name -> (generator, value range or None)
_TOYS = {
    "ring": (ring_of_gaussians, None),
    "grid": (grid_of_gaussians, None),
    "moons": (two_moons, None),
    "checkerboard": (checkerboard, (-4.0, 4.0)),
    "swiss_roll": (swiss_roll, None),
}
TOY_DATASETS = tuple(_TOYS)


def toy_data_key(name: str, split: str) -> Array:
  """The fixed key of a toy dataset's split: independent of the run seed, distinct per split."""
  key = jax.random.fold_in(jax.random.key(TOY_DATA_KEY), zlib.crc32(name.encode()) % 2**31)
  return jax.random.fold_in(key, {"train": 0, "test": 1}[split])


def toy_dataset(name: str, split: str = "train", *, num_examples: int | None = None,
                **params) -> ArrayDataset:
  """A toy distribution as a dataset: 'x' float32 [N, 2] (+ 'label' int32 [N] for mixtures).

  Args:
    name: one of TOY_DATASETS: 'ring' (8 Gaussians), 'grid' (25 Gaussians), 'moons',
      'checkerboard', 'swiss_roll'.
    split: 'train' (TOY_TRAIN_SIZE points) or 'test' (TOY_TEST_SIZE), drawn with distinct
      fixed keys (`toy_data_key`).
    num_examples: N, overriding the split's default size.
    **params: the generator's keyword arguments (e.g. std=0.05 for 'ring').
  """
  if name not in _TOYS:
    raise ValueError(f"toy dataset must be one of {TOY_DATASETS}, got {name!r}")
  if split not in ("train", "test"):
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")
  generator, value_range = _TOYS[name]
  n = num_examples or (TOY_TRAIN_SIZE if split == "train" else TOY_TEST_SIZE)
  out = generator(toy_data_key(name, split), n, **params)
  arrays = {"x": np.asarray(out[0] if isinstance(out, tuple) else out)}
  num_classes = None
  if isinstance(out, tuple):
    arrays["label"] = np.asarray(out[1])
    num_classes = {"ring": params.get("num_modes", 8), "grid": params.get("side", 5)**2,
                   "moons": 2, "checkerboard": 8}[name]
  return ArrayDataset(arrays=arrays, name=f"{name}:{split}", num_classes=num_classes,
                      value_range={"x": value_range} if value_range else None)
