"""Shape checks shared by the metrics: a ValueError that names the argument."""

from __future__ import annotations

from typing import Any


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
