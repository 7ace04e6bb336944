"""Deprecated alias of `gen_jax.random` (the module's former name)."""

from gen_jax.random import *  # noqa: F401,F403  pylint: disable=wildcard-import
from gen_jax.random import threefry2x32  # noqa: F401
