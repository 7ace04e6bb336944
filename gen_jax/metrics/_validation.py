"""Shape checks shared by the metrics: a ValueError that names the argument."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_rank(name: str, x: Any, ndim: int, expected: str) -> None:
  """Raises ValueError unless `x` has rank `ndim`; `expected` spells the shape, e.g. '[N, d]'."""
  shape = getattr(x, "shape", None)
  if shape is None or len(shape) != ndim:
    raise ValueError(f"{name} must have shape {expected}, got "
                     f"{'a non-array ' + type(x).__name__ if shape is None else tuple(shape)}")


def check_features(name: str, x: Any, *, min_rows: int = 1) -> None:
  """[N, d] features with N >= min_rows."""
  check_rank(name, x, 2, "[N, d]")
  if x.shape[0] < min_rows:
    raise ValueError(f"{name} must have at least {min_rows} rows (shape [N, d], N >= "
                     f"{min_rows}), got shape {tuple(x.shape)}")


def check_same_dim(name_a: str, a: Any, name_b: str, b: Any) -> None:
  if a.shape[-1] != b.shape[-1]:
    raise ValueError(f"{name_a} and {name_b} must have the same feature dimension, got "
                     f"{name_a}.shape={tuple(a.shape)} and {name_b}.shape={tuple(b.shape)}")


def check_key(name: str, key: Any) -> None:
  """A typed PRNG key (`jax.random.key`, shape ()) or a legacy uint32 key of shape (2,)."""
  import jax  # pylint: disable=g-import-not-at-top
  dtype = getattr(key, "dtype", None)
  shape = tuple(getattr(key, "shape", (None,)))
  if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
    if shape == ():
      return
  elif dtype == np.uint32 and shape == (2,):
    return
  got = f"a {type(key).__name__}" if dtype is None else f"dtype {dtype}, shape {shape}"
  raise ValueError(f"{name} must be a PRNG key: jax.random.key(seed) (shape ()) or a legacy "
                   f"jax.random.PRNGKey(seed) (uint32, shape (2,)); got {got}")
