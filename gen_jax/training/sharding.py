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
  """Host arrays of the global batch -> global jax.Arrays laid out by `sharding`.

  Each process provides the full global batch (identical on every host, since the data
  order is a pure function of the step); only the shards addressable here are copied.
  """
  def put(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])
  return jax.tree.map(put, batch)
