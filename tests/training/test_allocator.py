"""Tests for gen_jax/training/allocator.py: freed host memory is reused, not page-faulted
in again, unless the environment opts out."""

import os
import subprocess
import sys
import textwrap

import pytest

from gen_jax import training

# Allocates, touches and frees eight 4 MiB buffers twice, as a step allocates its
# temporaries, and reports the minor page faults of the second round.
_PROBE = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from gen_jax.training import allocator
    applied = allocator.keep_freed_host_memory()
    def round_trip():
      buffers = [np.ones(1 << 20, np.float32) for _ in range(8)]; del buffers
    round_trip()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    round_trip()
    print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _probe(**env):
  out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                       check=True, env={**os.environ, **env}).stdout.split()
  return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_freed_memory_is_reused_and_the_opt_out_keeps_glibc_defaults():
  applied, faults = _probe()
  assert applied
  # 32 MiB is 8,192 pages; reused heap memory faults in (almost) none of them again,
  # while glibc's defaults hand them back and fault half of them in again (4,097 seen).
  assert faults < 100, faults
  applied, faults = _probe(GEN_JAX_KEEP_MALLOC_DEFAULTS="1")
  assert not applied
  assert faults > 1000, faults


def test_in_process_call_is_idempotent():
  first = training.keep_freed_host_memory()
  assert training.keep_freed_host_memory() == first
