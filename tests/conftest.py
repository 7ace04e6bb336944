"""Test configuration: 4 emulated CPU devices, float32 defaults, deterministic keys.

XLA_FLAGS must be set before jax is first imported, so it happens here at collection.
"""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

assert jax.device_count() == 4, "tests expect 4 emulated CPU devices"
