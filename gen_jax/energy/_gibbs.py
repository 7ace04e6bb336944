"""Systematic-scan Gibbs sampling over the joint of a few discrete variables given as a table.

The seed notes' example: X, Y ∈ {0, 1} with P = [[0.1, 0.4], [0.3, 0.2]]. Only the
conditionals P(X | Y) and P(Y | X) are used; the chain's states are draws whose long-run
frequencies are P (Geman & Geman 1984; Bishop, PRML §11.3).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import random
from gen_jax import validation


def log_probs_from_table(probs) -> jax.Array:
  """log of a (possibly unnormalized) probability table, checked: the input of `gibbs_discrete`.

  Args:
    probs: [n_1, ..., n_D] non-negative finite numbers, not all zero (a concrete array:
      the values are checked on the host).
  Returns:
    float32 [n_1, ..., n_D] log-probabilities (−inf where probs is 0).
  Raises:
    ArgumentError: naming `probs`, for a negative, NaN or infinite entry, or an all-zero table.
  """
  table = np.asarray(probs, dtype=np.float64)
  if table.ndim < 1 or table.size == 0:
    raise validation.ArgumentError(
        "probs", f"probs must have shape [n_1, ..., n_D] (D >= 1, n_d >= 1), got shape "
        f"{table.shape}")
  if not np.isfinite(table).all():
    raise validation.ArgumentError("probs", "probs must be finite, got NaN or infinite entries")
  if (table < 0).any():
    raise validation.ArgumentError(
        "probs", f"probs must be non-negative, got minimum {table.min()}")
  if not (table > 0).any():
    raise validation.ArgumentError("probs", "probs must have a positive entry, got all zeros")
  with np.errstate(divide="ignore"):
    return jnp.asarray(np.log(table), dtype=jnp.float32)


def _check_table(log_probs) -> None:
  """Values of a concrete table (a traced one is checked inside the sampler instead)."""
  try:
    table = np.asarray(log_probs)
  except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
    return
  if np.isnan(table).any():
    raise validation.ArgumentError("log_probs", "log_probs must not contain NaN, got NaN entries")
  if np.isposinf(table).any():
    raise validation.ArgumentError("log_probs", "log_probs must be < +inf, got +inf entries")
  if not np.isfinite(table).any():
    raise validation.ArgumentError(
        "log_probs", "log_probs must have a finite entry (a state of positive probability), "
        "got all -inf")


def _table_is_valid(log_probs: jax.Array) -> jax.Array:
  return (~jnp.isnan(log_probs).any() & ~jnp.isposinf(log_probs).any()
          & jnp.isfinite(log_probs).any())


def gibbs_sweep(key: jax.Array, log_probs: jax.Array, state: jax.Array) -> jax.Array:
  """One systematic Gibbs sweep: x_d ~ p(x_d | x_{-d}) for d = 0, ..., D-1 in turn.

  Each conditional is the table's slice through the current values of the other variables,
  normalized (a categorical on logits). Variable d uses `random.split(key, D)[d]`.

  Args:
    key: one PRNG key, typed or legacy.
    log_probs: float [n_1, ..., n_D] unnormalized log-probabilities.
    state: int [D] current values.
  Returns:
    int32 [D], the state after the sweep.
  """
  key = validation.check_key("key", key)
  validation.check_min_rank("log_probs", log_probs, 1, "[n_1, ..., n_D]")
  num_vars = log_probs.ndim
  validation.check_shape("state", state, (num_vars,))
  validation.check_dtype("state", state, "int")
  keys = random.split(key, num_vars)
  state = state.astype(jnp.int32)
  for d in range(num_vars):
    # The conditional of x_d: move axis d last and index the others at their values.
    others = tuple(state[j] for j in range(num_vars) if j != d)
    logits = jnp.moveaxis(log_probs, d, -1)[others]
    state = state.at[d].set(jax.random.categorical(keys[d], logits).astype(jnp.int32))
  return state


def gibbs_discrete(key: jax.Array, log_probs: jax.Array, *, num_steps: int,
                   init: jax.Array | None = None) -> jax.Array:
  """Systematic-scan Gibbs sampling from the joint p(x) ∝ exp(log_probs[x]) of D discrete
  variables, one compiled `lax.scan` over sweeps.

  Sweep t uses the key `random.fold_in(key, t)`; each sweep resamples x_0, ..., x_{D-1} in
  order from its exact conditional given the others (`gibbs_sweep`). The chain is
  irreducible when every state has positive probability; zero-probability states (−inf) are
  allowed but can disconnect the chain.

  Args:
    key: one PRNG key, typed (`jax.random.key`) or legacy (`jax.random.PRNGKey`); both kinds
      give the same samples.
    log_probs: float [n_1, ..., n_D] unnormalized log-probabilities (D >= 1); e.g.
      `log_probs_from_table(P)` for a probability table. No NaN, no +inf, not all −inf:
      checked at call time for a concrete table; under jit, where the values are unknown,
      an invalid table yields samples that are all −1.
    num_steps: number of sweeps (>= 1).
    init: int [D] starting state; default all zeros (the state (0, ..., 0)). It is not
      itself returned: samples[0] is the state after the first sweep.
  Returns:
    int32 [num_steps, D], the state after each sweep.
  Raises:
    ArgumentError: for a bad shape, dtype, num_steps or (concrete) table values.
  """
  key = validation.check_key("key", key)
  validation.check_min_rank("log_probs", log_probs, 1, "[n_1, ..., n_D]")
  validation.check_dtype("log_probs", log_probs, "float")
  num_steps = validation.check_int("num_steps", num_steps, low=1)
  _check_table(log_probs)
  num_vars = log_probs.ndim
  if init is None:
    init = jnp.zeros((num_vars,), jnp.int32)
  validation.check_shape("init", init, (num_vars,))
  validation.check_dtype("init", init, "int")
  try:
    init_values = np.asarray(init)
  except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
    init_values = None
  if init_values is not None and ((init_values < 0).any()
                                  or (init_values >= np.array(log_probs.shape)).any()):
    raise validation.ArgumentError(
        "init", f"init must lie within the table's shape {tuple(log_probs.shape)} "
        f"(0 <= init[d] < n_d), got {init_values.tolist()}")

  def body(state, t):
    state = gibbs_sweep(random.fold_in(key, t), log_probs, state)
    return state, state

  _, samples = jax.lax.scan(body, init.astype(jnp.int32), jnp.arange(num_steps))
  return jnp.where(_table_is_valid(log_probs), samples, -1)
