"""Test configuration: 4 emulated CPU devices and fast compilation.

XLA_FLAGS must be set before jax is first imported, so it happens here at collection; the
subprocesses that tests start inherit it.
- 4 host devices: every test exercises the sharded path, and 1-device meshes are compared.
- Backend optimization level 0: the test models are tiny, so XLA's compile time, not run
  time, dominates; this cuts it by about 3x. Numerics are compared with tolerances, and
  bitwise checks compare runs under the same flags.
- A persistent compilation cache: identical programs built by different tests compile once.
"""

import os
import tempfile

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4"
                           " --xla_backend_optimization_level=0").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_CACHE = os.path.join(tempfile.gettempdir(), "gen_jax_test_compilation_cache")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _CACHE)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

assert jax.device_count() == 4, "tests expect 4 emulated CPU devices"
