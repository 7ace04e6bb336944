"""Stateless batching: the batch of step s is a pure function of (data key, s).

Resuming at step s therefore reproduces the data order of an uninterrupted run without
storing any iterator state in the checkpoint.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import random


@functools.lru_cache(maxsize=2)
def _epoch_permutation(key_data: tuple[int, ...], epoch: int, num_examples: int) -> np.ndarray:
  key = jax.random.wrap_key_data(np.asarray(key_data, np.uint32))
  return np.asarray(jax.random.permutation(jax.random.fold_in(key, epoch), num_examples))


def batch_indices(key: jax.Array, step: int, *, num_examples: int, batch_size: int) -> np.ndarray:
  """Indices of the examples in the batch of `step` (epochs reshuffled, remainder dropped).

  Args:
    key: data-order key (a typed PRNG key).
    step: global step (>= 0).
    num_examples: dataset size.
    batch_size: global batch size, <= num_examples.
  Returns:
    int [batch_size] indices.
  """
  if not 0 < batch_size <= num_examples:
    raise ValueError(f"batch_size must be in [1, {num_examples}] (the dataset size), "
                     f"got {batch_size}")
  steps_per_epoch = num_examples // batch_size
  epoch, pos = divmod(int(step), steps_per_epoch)
  key_data = tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())
  perm = _epoch_permutation(key_data, epoch, num_examples)
  return perm[pos * batch_size:(pos + 1) * batch_size]


def dynamic_binarize(key: jax.Array, images: jax.Array) -> jax.Array:
  """Bernoulli draw per pixel with probability = intensity (Salakhutdinov & Murray 2008):
  `gen_jax.random.bernoulli` (the fast, bit-exact threefry draw) under the data's name.

  Args:
    key: PRNG key, typed or legacy (one key; vmap for per-example keys).
    images: [...] intensities in [0, 1].
  Returns:
    float32 array of 0/1 with the shape of `images`.
  """
  return random.bernoulli(random.as_key(key), images)


def static_binarize(images: jax.Array, threshold: float = 0.5) -> jax.Array:
  """Deterministic binarization: 1 where intensity > threshold."""
  return (images > threshold).astype(jnp.float32)


def check_data_keys(source, keys: Sequence[str] | None) -> tuple[str, ...]:
  """The keys a batch will hold: `keys`, or all of the source's when None.

  Raises:
    ValueError: naming the first key the source lacks and the keys it has.
  """
  available = tuple(source.element_spec)
  if keys is None:
    return available
  for k in keys:
    if k not in available:
      raise ValueError(f"the task needs data key {k!r}, but dataset "
                       f"{getattr(source, 'name', type(source).__name__)!r} provides only "
                       f"{sorted(available)}")
  return tuple(keys)


def step_batch(source, order_key: jax.Array, step: int, *, batch_size: int,
               batches_per_step: int = 1, rows: np.ndarray | None = None,
               keys: Sequence[str] | None = None,
               draw_key: jax.Array | None = None) -> dict[str, np.ndarray]:
  """The host batch of training step `step`: a pure function of (keys, step).

  Data step t = step * batches_per_step + j (j < batches_per_step) reads the examples
  `batch_indices(order_key, t)`; with `rows`, only those rows of them (this process's share
  of the global batch). A stochastic source (see `DataSource`) gets
  `jax.random.fold_in(draw_key, t)` as its key.

  Args:
    source: a `DataSource`.
    order_key: data-order key.
    step: training step.
    batch_size: global batch size.
    batches_per_step: fresh batches per step (> 1 adds a leading axis).
    rows: int [b] positions within the global batch to read (default: all).
    keys: the keys to return (default: all of the source's).
    draw_key: the key of per-step draws, required for stochastic sources.
  Returns:
    {key: [b, ...]}, or [batches_per_step, b, ...] when batches_per_step > 1.
  """
  keys = check_data_keys(source, keys)
  stochastic = getattr(source, "stochastic", False)
  if stochastic and draw_key is None:
    raise ValueError(f"{getattr(source, 'name', source)!r} is stochastic: pass draw_key")
  parts = []
  for j in range(batches_per_step):
    t = step * batches_per_step + j
    idx = batch_indices(order_key, t, num_examples=len(source), batch_size=batch_size)
    if rows is not None:
      idx = idx[rows]
    part = source.gather(idx, jax.random.fold_in(draw_key, t) if stochastic else None)
    parts.append({k: part[k] for k in keys})
  if batches_per_step == 1:
    return parts[0]
  return {k: np.stack([p[k] for p in parts]) for k in keys}


def prefetched(fn: Callable[[int], Any], start: int, stop: int, *,
               num_threads: int = 0, buffer_size: int = 2) -> Iterator[Any]:
  """fn(s) for s in range(start, stop), in order; with num_threads > 0 computed ahead in
  background threads (grain's thread prefetch) while the caller works on earlier ones.

  `fn` must be a pure function of s: since the data of step s depends on s alone, the
  prefetch holds no state a resume would need.
  """
  if num_threads <= 0 or stop <= start:
    return (fn(s) for s in range(start, stop))
  import grain  # pylint: disable=g-import-not-at-top
  dataset = grain.MapDataset.range(start, stop).map(fn)
  return iter(dataset.to_iter_dataset(grain.ReadOptions(num_threads=num_threads,
                                                        prefetch_buffer_size=buffer_size)))
