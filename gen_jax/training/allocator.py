"""Host allocator settings for training processes: keep freed memory instead of returning it.

XLA:CPU allocates a step's temporary buffer (69 MiB for the batch-128 DCGAN step) and its
kernels' scratch space with malloc on every execution. glibc serves blocks above its
mmap threshold (≤ 32 MiB) with fresh mmap'd pages and trims the heap top above 128 KiB,
so each step page-faults and zero-fills that memory again: 15,000–17,000 minor faults
per DCGAN step, 10–18 % of its time (measured with getrusage; benchmarks/bench_dcgan.py).
With the settings below the faults drop to ~10 per step, at the price of keeping the
process's peak heap resident (+110 MB RSS for that step).

`keep_freed_host_memory` is called by the experiment command line
(`gen_jax.training.cli.run_experiment`) and by the benchmarks (which then apply it to
PyTorch too, in the same process); never by library calls such as `gen_jax.training.train`,
since it changes the whole process. A program that calls `train` itself can call it first
for the same speed-up. It is a no-op off glibc, and when the environment sets
GEN_JAX_KEEP_MALLOC_DEFAULTS=1.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

# mallopt(3) parameters (glibc malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
_TRIM_THRESHOLD = 1 << 30   # keep up to 1 GiB of free heap top
_TOP_PAD = 64 << 20         # grow the heap in 64 MiB steps


@functools.cache
def keep_freed_host_memory() -> bool:
  """Makes glibc malloc reuse freed memory rather than unmap/trim it (process-wide).

  Returns:
    True if the settings were applied (glibc, not opted out), False otherwise.
  """
  if os.environ.get("GEN_JAX_KEEP_MALLOC_DEFAULTS") == "1":
    return False
  name = ctypes.util.find_library("c")
  if name is None:
    return False
  try:
    mallopt = ctypes.CDLL(name).mallopt
  except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt)
    return False
  mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
  # All three must succeed: mallopt returns 1 on success, 0 on error.
  return bool(mallopt(_M_MMAP_MAX, 0) & mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) &
              mallopt(_M_TOP_PAD, _TOP_PAD))
