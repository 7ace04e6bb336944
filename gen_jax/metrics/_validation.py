"""The metrics' one composite check, over `gen_jax.validation` (every other check of the
metrics is a `gen_jax.validation` call): errors are `validation.ArgumentError`s naming the
argument, the expected and the actual shape."""

from __future__ import annotations

from typing import Any

from gen_jax import validation


def check_features(name: str, x: Any, *, min_rows: int = 1) -> None:
  """[N, d] features with N >= min_rows."""
  validation.check_rank(name, x, 2, "[N, d]")
  validation.check_rows(name, x, min_rows, "[N, d]")
