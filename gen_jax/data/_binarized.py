"""Binarized images: a fixed binarization (the same bits in every run) and a dynamic one
(fresh Bernoulli draws every step, Salakhutdinov & Murray 2008)."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import random
from gen_jax.data._batching import dynamic_binarize
from gen_jax.data._dataset import ArrayDataset, DatasetInfo, SourceBase, check_indices

# The key of the fixed binarization: a property of the dataset, not of a run.
FIXED_BINARIZATION_KEY = 20240323


def fixed_binarization_key(split: str) -> jax.Array:
  return jax.random.fold_in(jax.random.key(FIXED_BINARIZATION_KEY),
                            {"train": 0, "test": 1}[split])


def fixed_binarize(key: jax.Array, images: Any) -> np.ndarray:
  """Bernoulli bits drawn once: 1 where `jax.random.uniform(key, images.shape)` < intensity.

  Args:
    key: the fixed key (`fixed_binarization_key(split)` for the named datasets).
    images: [N, ...] intensities in [0, 1].
  Returns:
    float32 0/1 array of `images`' shape.
  """
  images = np.asarray(images, np.float32)
  u = np.asarray(jax.random.uniform(key, images.shape, jnp.float32))
  return (u < images).astype(np.float32)


@jax.jit
def _binarize_rows(key: jax.Array, indices: jax.Array, images: jax.Array) -> jax.Array:
  # Example i of the batch uses fold_in(key, its dataset index): its bits depend on the
  # step and the example only, not on which rows (devices, processes) read it with it.
  keys = random.fold_in(key, indices.astype(jnp.uint32))
  return jax.vmap(dynamic_binarize)(keys, images)


@functools.lru_cache(maxsize=1)
def _host_device() -> jax.Device:
  return jax.local_devices(backend="cpu")[0]


class DynamicallyBinarized(SourceBase):
  """A `DataSource` of 0/1 images redrawn every step from stored intensities.

  `gather(indices, key)` returns 'image' float32 0/1 [b, ...] with example i's bits equal to
  `dynamic_binarize(jax.random.fold_in(key, indices[i]), intensities[indices[i]])`: a pure
  function of (run seed, data step, example), whatever the number of devices or processes.
  The draw runs on the host CPU (threefry lowered by `gen_jax.random`; ~0.1 ms for 128×784).
  Other keys ('label') pass through.

  Args:
    intensities: an `ArrayDataset` whose 'image' holds the Bernoulli means in [0, 1].
  """

  stochastic = True
  read_threads = 0

  def __init__(self, intensities: ArrayDataset, *, name: str | None = None):
    if "image" not in intensities:
      raise ValueError(f"DynamicallyBinarized needs an 'image' array; {intensities.name!r} "
                       f"has {sorted(intensities.arrays)}")
    self.intensities = intensities
    info = intensities.info
    self._info = DatasetInfo(name=name or f"{info.name}:dynamic_binarized",
                             num_examples=info.num_examples,
                             element_spec={**info.element_spec, "image": jax.ShapeDtypeStruct(
                                 info.element_spec["image"].shape, np.float32)},
                             value_range={**info.value_range, "image": (0.0, 1.0)},
                             num_classes=info.num_classes)

  def __repr__(self) -> str:
    return f"DynamicallyBinarized({self.name!r}, N={len(self)})"

  @property
  def image_shape(self) -> tuple[int, ...]:
    return self.intensities.image_shape

  def gather(self, indices: Any, key: jax.Array | None = None) -> dict[str, np.ndarray]:
    if key is None:
      raise ValueError(f"{self.name!r} draws fresh bits per step: gather needs the batch's "
                       "data key (the training loop passes it)")
    indices = check_indices(indices, len(self))
    out = self.intensities.gather(indices)
    device = _host_device()
    out["image"] = np.asarray(_binarize_rows(
        jax.device_put(key, device), jax.device_put(indices.astype(np.uint32), device),
        jax.device_put(out["image"], device)))
    return out
