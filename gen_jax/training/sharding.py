"""Data parallelism over every visible device: a 1-D mesh, sharded batch, replicated state."""

from __future__ import annotations

import os
from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def maybe_initialize_distributed() -> None:
  """Calls `jax.distributed.initialize()` when a multi-host environment is configured.

  Set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID (or run under a cluster
  JAX auto-detects: SLURM, Cloud TPU, ...); with none of them this is a no-op, so single-host
  runs are unaffected. Every process then runs the same program; `jax.devices()` spans all
  hosts and the mesh below covers them.
  """
  address = os.environ.get("JAX_COORDINATOR_ADDRESS")
  if address and not getattr(maybe_initialize_distributed, "_done", False):
    num = os.environ.get("JAX_NUM_PROCESSES")
    pid = os.environ.get("JAX_PROCESS_ID")
    jax.distributed.initialize(coordinator_address=address,
                               num_processes=int(num) if num else None,
                               process_id=int(pid) if pid else None)
    maybe_initialize_distributed._done = True


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, leading_axes: int = 0) -> NamedSharding:
  """Shards axis `leading_axes` (the example axis) over the mesh."""
  return NamedSharding(mesh, P(*([None] * leading_axes), DATA_AXIS))


def check_divisible(batch_size: int, mesh: Mesh) -> None:
  n = mesh.devices.size
  if batch_size % n:
    raise ValueError(f"batch_size ({batch_size}) must be divisible by the number of devices "
                     f"({n}) to shard the batch evenly")


def put_batch(batch: Any, sharding: NamedSharding) -> Any:
  """Host arrays of the whole global batch -> global jax.Arrays laid out by `sharding`.

  For callers that hold the whole batch (evaluation sets, tests): every process passes the
  same arrays and only the shards addressable here are copied. The training loop reads only
  this process's rows instead (`process_rows`, `put_process_batch`).
  """
  def put(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])
  return jax.tree.map(put, batch)


def _example_axis(sharding: NamedSharding) -> int:
  spec = tuple(sharding.spec)
  if DATA_AXIS not in spec:
    raise ValueError(f"sharding {sharding} does not split an axis over {DATA_AXIS!r}")
  return spec.index(DATA_AXIS)


def process_rows(sharding: NamedSharding, batch_size: int) -> np.ndarray:
  """Positions in the global batch whose examples live on this process's devices.

  Args:
    sharding: the batch sharding (`batch_sharding`), splitting the example axis.
    batch_size: global batch size B.
  Returns:
    int [B / process_count] ascending positions in [0, B): the rows this process reads,
    in the order `put_process_batch` expects them (all of arange(B) on one process).
  """
  axis = _example_axis(sharding)
  shape = (1,) * axis + (batch_size,)
  ranges = set()
  for index in sharding.addressable_devices_indices_map(shape).values():
    sl = index[axis]
    ranges.add((sl.start or 0, batch_size if sl.stop is None else sl.stop))
  return np.concatenate([np.arange(a, b) for a, b in sorted(ranges)])


def put_process_batch(local_batch: Any, sharding: NamedSharding, batch_size: int) -> Any:
  """This process's rows of the global batch -> global jax.Arrays laid out by `sharding`.

  Args:
    local_batch: pytree of host arrays holding the rows `process_rows(sharding, batch_size)`
      on the example axis (the whole batch on a single process).
    sharding: the batch sharding.
    batch_size: global batch size B.
  Returns:
    pytree of global arrays with B on the example axis (`jax.make_array_from_process_local_data`:
    each process copies only its own rows, so no process reads the whole batch).
  """
  axis = _example_axis(sharding)
  if jax.process_count() == 1:
    # The local rows are the whole batch; make_array_from_callback places it in 150 µs
    # where make_array_from_process_local_data took 420 µs (128 MNIST images, 4 CPU devices).
    return put_batch(local_batch, sharding)

  def put(x):
    x = np.asarray(x)
    shape = x.shape[:axis] + (batch_size,) + x.shape[axis + 1:]
    return jax.make_array_from_process_local_data(sharding, x, shape)

  return jax.tree.map(put, local_batch)
