"""Argument checks shared by every module of gen_jax: one error style everywhere.

Each check raises `ArgumentError` (a ValueError) whose message names the argument, what was
expected and what was given — shape, dtype or value — e.g.
  "mean and log_var must have equal shapes, got mean: (4, 2), log_var: (4, 3)".
Shape and dtype checks run at trace time (on abstract values under jit), so a bad input
fails before XLA compiles anything. `ArgumentError.argument` holds the argument's name, which
experiment entry points map back to their config keys (`--config.<name>`).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterable, Sequence

import jax.numpy as jnp
import numpy as np


class ArgumentError(ValueError):
  """A bad argument; `argument` is its name."""

  def __init__(self, argument: str, message: str):
    super().__init__(message)
    self.argument = argument


def _shape(x: Any) -> tuple[int, ...] | None:
  shape = getattr(x, "shape", None)
  return None if shape is None else tuple(shape)


def _describe(x: Any) -> str:
  shape = _shape(x)
  return f"shape {shape}" if shape is not None else f"a non-array {type(x).__name__}"


def check_rank(name: str, x: Any, ndim: int | Sequence[int], expected: str) -> None:
  """`x` has rank `ndim` (or one of several); `expected` spells the shape, e.g. '[B, D]'."""
  allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
  shape = _shape(x)
  if shape is None or len(shape) not in allowed:
    raise ArgumentError(name, f"{name} must have shape {expected}, got {_describe(x)}")


def check_shape(name: str, x: Any, expected: Sequence[int | None]) -> None:
  """`x` has shape `expected`; None entries match any size."""
  shape = _shape(x)
  ok = shape is not None and len(shape) == len(expected) and all(
      e is None or e == s for e, s in zip(expected, shape))
  if not ok:
    spelled = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
    raise ArgumentError(name, f"{name} must have shape {spelled}, got {_describe(x)}")


def check_same_shape(names: Sequence[str], arrays: Sequence[Any], *,
                     batched: bool = False) -> None:
  """All `arrays` have one shape; with `batched`, at least a leading batch axis."""
  shapes = [_shape(a) for a in arrays]
  if any(s != shapes[0] for s in shapes):
    detail = ", ".join(f"{n}: {s}" for n, s in zip(names, shapes))
    raise ArgumentError(names[0], f"{' and '.join(names)} must have equal shapes, got "
                        f"{detail}")
  if batched and (shapes[0] is None or len(shapes[0]) < 1):
    raise ArgumentError(names[0], f"{names[0]} must have a batch axis [B, ...], got "
                        f"{_describe(arrays[0])}")


def check_leading(names: Sequence[str], arrays: Sequence[Any]) -> int:
  """All `arrays` share their leading (example) axis; returns its size."""
  sizes = [_shape(a)[0] if _shape(a) else None for a in arrays]
  if None in sizes or len(set(sizes)) != 1:
    detail = ", ".join(f"{n}: {_shape(a)}" for n, a in zip(names, arrays))
    raise ArgumentError(names[0], f"{' and '.join(names)} must share their leading (example) "
                        f"axis, got {detail}")
  return sizes[0]


def check_min_rank(name: str, x: Any, min_ndim: int, expected: str) -> None:
  """`x` has at least `min_ndim` axes; `expected` spells the shape, e.g. '[B, ...]'."""
  shape = _shape(x)
  if shape is None or len(shape) < min_ndim:
    raise ArgumentError(name, f"{name} must have shape {expected} (at least {min_ndim} axes), "
                        f"got {_describe(x)}")


def check_rows(name: str, x: Any, min_rows: int, expected: str = "[N, ...]") -> None:
  """`x` has at least `min_rows` entries along its leading axis (`expected` spells its shape,
  whose first letter names that axis)."""
  shape = _shape(x)
  if shape is None or len(shape) < 1 or shape[0] < min_rows:
    axis = expected.strip("[").split(",")[0].strip() or "N"
    raise ArgumentError(name, f"{name} must have at least {min_rows} rows (shape {expected}, "
                        f"{axis} >= {min_rows}), got {_describe(x)}")


def check_trailing(names: Sequence[str], arrays: Sequence[Any],
                   what: str = "last (feature) axis") -> int:
  """All `arrays` have the same size along their last axis; returns it."""
  sizes = [_shape(a)[-1] if _shape(a) else None for a in arrays]
  if None in sizes or len(set(sizes)) != 1:
    detail = ", ".join(f"{n}: {_shape(a)}" for n, a in zip(names, arrays))
    raise ArgumentError(names[0], f"{' and '.join(names)} must share their {what}, got "
                        f"{detail}")
  return sizes[0]


def check_broadcastable(name: str, x: Any, target_name: str,
                        target_shape: Sequence[int]) -> None:
  """`x` broadcasts to `target_shape` (the shape of the argument `target_name`)."""
  shape = _shape(x)
  target_shape = tuple(target_shape)
  ok = shape is not None
  if ok:
    try:
      ok = np.broadcast_shapes(shape, target_shape) == target_shape
    except ValueError:
      ok = False
  if not ok:
    raise ArgumentError(name, f"{name} must broadcast to the shape of {target_name} "
                        f"{target_shape}, got {_describe(x)}")


def check_key(name: str, key: Any, *, batched: bool = False) -> Any:
  """One PRNG key of either kind, returned as a typed key: a typed key of shape ()
  (`jax.random.key(seed)`) or a legacy uint32 key of shape (2,) (`jax.random.PRNGKey(seed)`).
  With `batched`, [B] keys instead (legacy: uint32 [B, 2], e.g. per-example keys)."""
  from gen_jax import random  # pylint: disable=g-import-not-at-top
  try:
    typed = random.as_key(key, name=name)
  except ValueError:
    typed = None
  if typed is None or typed.ndim != (1 if batched else 0):
    if batched:
      expected = ("[B] PRNG keys: typed keys of shape [B] (jax.random.split(key, B)) or legacy "
                  "uint32 keys of shape [B, 2]")
    else:
      expected = ("a PRNG key: jax.random.key(seed) (shape ()) or a legacy "
                  "jax.random.PRNGKey(seed) (uint32, shape (2,))")
    dtype = getattr(key, "dtype", None)
    got = (f"a non-array {type(key).__name__}" if dtype is None
           else f"dtype {dtype}, shape {_shape(key)}")
    raise ArgumentError(name, f"{name} must be {expected}, got {got}")
  return typed


def check_dtype(name: str, x: Any, kind: str) -> None:
  """`x`'s dtype is of `kind`: 'float', 'int', 'bool' or 'key' (a typed PRNG key)."""
  import jax  # pylint: disable=g-import-not-at-top
  dtype = getattr(x, "dtype", None)
  tests = {"float": lambda d: jnp.issubdtype(d, jnp.floating),
           "int": lambda d: jnp.issubdtype(d, jnp.integer),
           "bool": lambda d: d == jnp.bool_,
           "key": lambda d: jnp.issubdtype(d, jax.dtypes.prng_key)}
  if dtype is None or not tests[kind](dtype):
    article = "an" if kind[0] in "aeiou" else "a"
    raise ArgumentError(name, f"{name} must have {article} {kind} dtype, got {dtype}")


def check_int(name: str, value: Any, *, low: int | None = None,
              high: int | None = None) -> int:
  """`value` is a Python/NumPy integer (not bool) in [low, high]; returns it as int."""
  ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
  if ok and low is not None:
    ok = value >= low
  if ok and high is not None:
    ok = value <= high
  if not ok:
    raise ArgumentError(name, f"{name} must be an integer{_interval(low, high, True, True)}, "
                        f"got {value!r}")
  return int(value)


def check_number(name: str, value: Any, *, low: float | None = None,
                 high: float | None = None, low_inclusive: bool = True,
                 high_inclusive: bool = True) -> float:
  """`value` is a finite real number in the interval; returns it as float."""
  ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
  if ok:
    v = float(value)
    ok = math.isfinite(v)
    if ok and low is not None:
      ok = v >= low if low_inclusive else v > low
    if ok and high is not None:
      ok = v <= high if high_inclusive else v < high
  if not ok:
    raise ArgumentError(name, f"{name} must be a number"
                        f"{_interval(low, high, low_inclusive, high_inclusive)}, got {value!r}")
  return float(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
  """`value` is one of `choices`."""
  choices = tuple(choices)
  if value not in choices:
    raise ArgumentError(name, f"{name} must be one of {choices}, got {value!r}")
  return value


def check_range(name: str, x: Any, low: float, high: float) -> None:
  """Every element of the *concrete* array `x` lies in [low, high] (host data only: values
  are unknown at trace time)."""
  x = np.asarray(x)
  if x.size and (np.nanmin(x) < low or np.nanmax(x) > high or np.isnan(x).any()):
    raise ArgumentError(name, f"{name} must lie in [{low}, {high}], got values in "
                        f"[{np.nanmin(x)}, {np.nanmax(x)}]"
                        + (" and NaN" if np.isnan(x).any() else ""))


def _interval(low, high, low_inclusive, high_inclusive) -> str:
  if low is None and high is None:
    return ""
  if high is None:
    return f" {'>=' if low_inclusive else '>'} {low}"
  if low is None:
    return f" {'<=' if high_inclusive else '<'} {high}"
  return (f" in {'[' if low_inclusive else '('}{low}, {high}"
          f"{']' if high_inclusive else ')'}")


@contextlib.contextmanager
def config_keys(prefix: str = "--config."):
  """Re-raises the `ArgumentError`s of the block with `prefix` before the argument's name:
  an experiment builds its typed specs from its config inside this, so a bad value is
  reported under the command-line flag that set it (the spec's fields are named after the
  config keys)."""
  try:
    yield
  except ArgumentError as e:
    raise ArgumentError(prefix + e.argument, prefix + str(e)) from None
