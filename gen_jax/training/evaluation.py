"""Evaluation helpers: apply a jitted per-example function to a dataset in sharded batches."""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from gen_jax.training import sharding


def _is_source(data: Any) -> bool:
  return hasattr(data, "gather") and hasattr(data, "element_spec")


def _to_host(out: jax.Array) -> np.ndarray:
  if out.is_fully_addressable:
    return np.asarray(out)
  # Multi-host: every process gets the whole output.
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return np.asarray(multihost_utils.process_allgather(out, tiled=True))


def map_batches(fn: Callable[[Any], Any], arrays: Any, *, batch_size: int,
                jitted: Callable | None = None, key: jax.Array | None = None) -> Any:
  """Applies `fn` (a pure per-example-batched function) to a dataset in batches.

  The batch is sharded over all devices; the last batch is padded (by repeating the first
  examples) and the padding dropped from the result, so any dataset size works. Works with
  several processes too (each computes its shards; every process gets the whole result).

  Args:
    fn: batch (pytree of [b, ...]) -> pytree of [b, ...].
    arrays: a pytree of host arrays with a common leading size N (e.g. a dict of any
      keys and shapes), or a `gen_jax.data.DataSource`, whose `gather` dicts are the batches.
    batch_size: examples per call (rounded up to a multiple of the device count).
    jitted: a previously returned `jax.jit(fn, ...)`, to reuse its compilation.
    key: the data key passed to a stochastic source's `gather` (batch i gets
      `fold_in(key, i)`); unused otherwise.
  Returns:
    pytree of numpy arrays [N, ...].
  """
  mesh = sharding.data_mesh()
  n_dev = mesh.devices.size
  batch_size = -(-batch_size // n_dev) * n_dev
  shard = sharding.batch_sharding(mesh)
  jitted = jitted or jax.jit(fn, in_shardings=shard, out_shardings=shard)
  if _is_source(arrays):
    n = len(arrays)
    stochastic = getattr(arrays, "stochastic", False)

    def read(idx, i):
      return arrays.gather(idx, jax.random.fold_in(key, i) if stochastic else None)
  else:
    leaves = jax.tree.leaves(arrays)
    if not leaves:
      raise ValueError("map_batches needs at least one array")
    n = np.shape(leaves[0])[0]
    for path, leaf in jax.tree_util.tree_flatten_with_path(arrays)[0]:
      if np.ndim(leaf) == 0 or np.shape(leaf)[0] != n:
        raise ValueError(f"map_batches arrays{jax.tree_util.keystr(path)} must have the "
                         f"leading size {n} of the first array, got shape {np.shape(leaf)}")

    def read(idx, i):
      del i
      return jax.tree.map(lambda a: np.asarray(a)[idx], arrays)
  outs = []
  for i, start in enumerate(range(0, n, batch_size)):
    idx = np.arange(start, start + batch_size) % n
    out = jitted(sharding.put_batch(read(idx, i), shard))
    valid = min(batch_size, n - start)
    outs.append(jax.tree.map(lambda o: _to_host(o)[:valid], out))
  return jax.tree.map(lambda *xs: np.concatenate(xs), *outs)
