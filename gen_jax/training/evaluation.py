"""Evaluation helpers: apply a jitted per-example function to a dataset in sharded batches."""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from gen_jax.training import sharding


def map_batches(fn: Callable[[Any], Any], arrays: Any, *, batch_size: int,
                jitted: Callable | None = None) -> Any:
  """Applies `fn` (a pure per-example-batched function) to `arrays` in batches.

  The batch is sharded over all devices; the last batch is padded (by repeating the first
  examples) and the padding dropped from the result, so any dataset size works.

  Args:
    fn: batch (pytree of [b, ...]) -> pytree of [b, ...].
    arrays: pytree of host arrays with a common leading size N.
    batch_size: examples per call (rounded up to a multiple of the device count).
    jitted: a previously returned `jax.jit(fn, ...)`, to reuse its compilation.
  Returns:
    pytree of numpy arrays [N, ...].
  """
  mesh = sharding.data_mesh()
  n_dev = mesh.devices.size
  batch_size = -(-batch_size // n_dev) * n_dev
  shard = sharding.batch_sharding(mesh)
  jitted = jitted or jax.jit(fn, in_shardings=shard, out_shardings=shard)
  leaves = jax.tree.leaves(arrays)
  n = leaves[0].shape[0]
  outs = []
  for start in range(0, n, batch_size):
    idx = np.arange(start, start + batch_size) % n
    batch = jax.tree.map(lambda a: np.asarray(a)[idx], arrays)
    out = jitted(sharding.put_batch(batch, shard))
    valid = min(batch_size, n - start)
    outs.append(jax.tree.map(lambda o: np.asarray(o)[:valid], out))
  return jax.tree.map(lambda *xs: np.concatenate(xs), *outs)
