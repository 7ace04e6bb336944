"""gen_jax.validation: every check names the argument, what it expected and what it got,
and raises `ArgumentError` (a ValueError carrying the argument's name) — also at trace time."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import validation
from gen_jax.validation import ArgumentError


def _raises(argument: str, *pieces: str):
  """pytest.raises for an ArgumentError on `argument` whose message holds every piece, in
  order (each matched literally)."""
  return pytest.raises(ArgumentError,
                       match=".*".join(re.escape(p) for p in (argument,) + pieces))


def test_argument_error_is_a_value_error_with_the_argument():
  with pytest.raises(ValueError) as info:
    validation.check_int("steps", -1, low=0)
  assert isinstance(info.value, ArgumentError) and info.value.argument == "steps"


# (call, argument, pieces of the message: the expected, then the actual value)
FAILURES = [
    (lambda: validation.check_rank("x", np.zeros((2, 3, 4)), 2, "[B, D]"),
     "x", "must have shape [B, D]", "got shape (2, 3, 4)"),
    (lambda: validation.check_rank("x", [1.0, 2.0], (1, 2), "[B] or [B, D]"),
     "x", "must have shape [B] or [B, D]", "got a non-array list"),
    (lambda: validation.check_shape("w", np.zeros((3, 4)), (3, None, 2)),
     "w", "must have shape [3, *, 2]", "got shape (3, 4)"),
    (lambda: validation.check_same_shape(("a", "b"), (np.zeros(2), np.zeros(3))),
     "a and b", "must have equal shapes", "a: (2,), b: (3,)"),
    (lambda: validation.check_same_shape(("a", "b"), (np.zeros(()), np.zeros(())),
                                         batched=True),
     "a", "must have a batch axis [B, ...]", "got shape ()"),
    (lambda: validation.check_leading(("x", "y"), (np.zeros((2, 3)), np.zeros((4,)))),
     "x and y", "must share their leading (example) axis", "x: (2, 3), y: (4,)"),
    (lambda: validation.check_min_rank("real", np.zeros(4), 2, "[B, ...]"),
     "real", "must have shape [B, ...] (at least 2 axes)", "got shape (4,)"),
    (lambda: validation.check_rows("features", np.zeros((3, 2)), 5, "[N, d]"),
     "features", "must have at least 5 rows (shape [N, d], N >= 5)", "got shape (3, 2)"),
    (lambda: validation.check_trailing(("real", "fake"), (np.zeros((5, 2)), np.zeros((4, 3)))),
     "real and fake", "must share their last (feature) axis", "real: (5, 2), fake: (4, 3)"),
    (lambda: validation.check_broadcastable("log_var", np.zeros(4), "x", (2, 3)),
     "log_var", "must broadcast to the shape of x (2, 3)", "got shape (4,)"),
    # Broadcasting that would grow the target is refused too.
    (lambda: validation.check_broadcastable("log_var", np.zeros((5, 3)), "x", (3,)),
     "log_var", "must broadcast to the shape of x (3,)", "got shape (5, 3)"),
    (lambda: validation.check_dtype("codes", np.zeros(3, np.float32), "int"),
     "codes", "must have an int dtype", "got float32"),
    (lambda: validation.check_dtype("key", np.zeros(2, np.uint32), "key"),
     "key", "must have a key dtype", "got uint32"),
    (lambda: validation.check_int("num", 2.0, low=1),
     "num", "must be an integer >= 1", "got 2.0"),
    (lambda: validation.check_int("num", True),
     "num", "must be an integer", "got True"),
    (lambda: validation.check_int("k", 7, low=1, high=5),
     "k", "must be an integer in [1, 5]", "got 7"),
    (lambda: validation.check_number("rate", 0.0, low=0.0, low_inclusive=False),
     "rate", "must be a number > 0.0", "got 0.0"),
    (lambda: validation.check_number("decay", 1.0, low=0.0, high=1.0, high_inclusive=False),
     "decay", "must be a number in [0.0, 1.0)", "got 1.0"),
    (lambda: validation.check_number("scale", float("nan")),
     "scale", "must be a number", "got nan"),
    (lambda: validation.check_choice("loss", "wgan", ("minimax", "hinge")),
     "loss", "must be one of ('minimax', 'hinge')", "got 'wgan'"),
    (lambda: validation.check_range("images", np.array([0.0, 1.5]), 0.0, 1.0),
     "images", "must lie in [0.0, 1.0]", "got values in [0.0, 1.5]"),
    (lambda: validation.check_range("images", np.array([0.5, np.nan]), 0.0, 1.0),
     "images", "must lie in [0.0, 1.0]", "and NaN"),
    (lambda: validation.check_key("key", np.zeros(2, np.float32)),
     "key", "must be a PRNG key: jax.random.key(seed) (shape ())",
     "jax.random.PRNGKey(seed) (uint32, shape (2,))", "got dtype float32, shape (2,)"),
    (lambda: validation.check_key("key", jax.random.split(jax.random.key(0), 3)),
     "key", "must be a PRNG key", "shape (3,)"),
    (lambda: validation.check_key("key", 0),
     "key", "must be a PRNG key", "got a non-array int"),
    (lambda: validation.check_key("keys", jax.random.key(0), batched=True),
     "keys", "must be [B] PRNG keys", "shape ()"),
]


@pytest.mark.parametrize("call, argument, pieces", [(c, a, p) for c, a, *p in FAILURES])
def test_failing_check_names_argument_expected_and_actual(call, argument, pieces):
  with _raises(argument, *pieces) as info:
    call()
  assert info.value.argument == argument.split(" and ")[0]


def test_passing_checks_return_what_they_checked():
  x = np.zeros((4, 3))
  validation.check_rank("x", x, 2, "[B, D]")
  validation.check_shape("x", x, (None, 3))
  validation.check_same_shape(("x", "y"), (x, np.ones((4, 3))), batched=True)
  assert validation.check_leading(("x", "y"), (x, np.zeros(4))) == 4
  validation.check_min_rank("x", x, 2, "[B, ...]")
  validation.check_rows("x", x, 4)
  assert validation.check_trailing(("x", "y"), (x, np.zeros((7, 3)))) == 3
  validation.check_broadcastable("s", np.zeros(()), "x", x.shape)
  validation.check_broadcastable("s", np.zeros((1, 3)), "x", x.shape)
  validation.check_dtype("x", x, "float")
  assert validation.check_int("n", np.int64(3), low=0) == 3
  assert validation.check_number("r", 1, low=0.0) == 1.0
  assert validation.check_choice("c", "a", "ab") == "a"
  validation.check_range("x", x, 0.0, 1.0)


@pytest.mark.parametrize("make", [jax.random.key, jax.random.PRNGKey])
def test_check_key_returns_the_typed_key_of_either_kind(make):
  key = validation.check_key("key", make(3))
  assert jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ()
  np.testing.assert_array_equal(jax.random.key_data(key),
                                jax.random.key_data(jax.random.key(3)))
  keys = validation.check_key("keys", jax.random.split(make(3), 4), batched=True)
  assert keys.shape == (4,)
  # Under jit too: the check reads only the abstract shape and dtype.
  out = jax.jit(lambda k: jax.random.normal(validation.check_key("key", k), (2,)))(make(3))
  np.testing.assert_array_equal(out, jax.random.normal(jax.random.key(3), (2,)))


def test_shape_checks_fail_at_trace_time():
  traces = []

  def f(a, b):
    traces.append(1)
    validation.check_same_shape(("a", "b"), (a, b))
    validation.check_rank("a", a, 1, "[B]")
    return a + b

  with _raises("a and b", "must have equal shapes", "a: (3,), b: (4,)"):
    jax.jit(f)(jnp.zeros(3), jnp.zeros(4))
  with _raises("a", "must have shape [B]", "got shape (3, 1)"):
    jax.jit(f)(jnp.zeros((3, 1)), jnp.zeros((3, 1)))
  assert len(traces) == 2  # each failed while tracing, before anything ran


def test_config_keys_prefixes_the_argument():
  with pytest.raises(ArgumentError, match=r"--config\.latent_dim must be an integer >= 1, "
                     r"got 0") as info:
    with validation.config_keys():
      validation.check_int("latent_dim", 0, low=1)
  assert info.value.argument == "--config.latent_dim"
