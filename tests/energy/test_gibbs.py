"""gen_jax.energy._gibbs: systematic Gibbs sweeps on discrete tables against the exact
transition kernel enumerated in NumPy."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import energy
from gen_jax import validation

# The seed notes' table: P(X, Y) with X indexing rows, Y columns.
NOTES_TABLE = np.array([[0.1, 0.4], [0.3, 0.2]])


def sweep_kernel(probs: np.ndarray) -> tuple[np.ndarray, list]:
  """The exact one-sweep transition matrix K[s, s'] of systematic Gibbs on `probs`, the
  product of the D single-site kernels (variable 0 first), over the states in
  itertools.product order."""
  probs = probs / probs.sum()
  states = list(itertools.product(*(range(n) for n in probs.shape)))
  index = {s: i for i, s in enumerate(states)}
  kernel = np.eye(len(states))
  for d in range(probs.ndim):
    site = np.zeros_like(kernel)
    for s in states:
      weights = np.array([probs[s[:d] + (x,) + s[d + 1:]] for x in range(probs.shape[d])])
      for x, w in enumerate(weights / weights.sum()):
        site[index[s], index[s[:d] + (x,) + s[d + 1:]]] = w
    kernel = kernel @ site
  return kernel, states


def asymptotic_variance(kernel: np.ndarray, pi: np.ndarray, f: np.ndarray) -> float:
  """lim N·Var[(1/N) Σ_t f(X_t)] for the chain K started in π: Var_π f + 2 Σ_k Cov(f₀, f_k),
  from the fundamental matrix Z = (I − K + 1πᵀ)⁻¹ (Kemeny & Snell): 2⟨f̄, Z f̄⟩_π − ⟨f̄, f̄⟩_π."""
  centred = f - pi @ f
  fundamental = np.linalg.inv(np.eye(len(pi)) - kernel + np.outer(np.ones(len(pi)), pi))
  return float(2 * pi @ (centred * (fundamental @ centred)) - pi @ centred**2)


def test_notes_table_joint_within_the_chains_standard_error():
  num_steps = 40_000
  samples = jax.jit(lambda key: energy.gibbs_discrete(
      key, energy.log_probs_from_table(NOTES_TABLE), num_steps=num_steps))(jax.random.key(0))
  samples = np.asarray(samples)
  assert samples.shape == (num_steps, 2) and samples.dtype == np.int32
  kernel, states = sweep_kernel(NOTES_TABLE)
  pi = np.array([NOTES_TABLE[s] for s in states])
  np.testing.assert_allclose(pi @ kernel, pi, atol=1e-12)
  for i, s in enumerate(states):
    indicator = (samples == np.array(s)).all(-1)
    # The tolerance comes from the exact kernel's asymptotic variance of the cell's indicator
    # (its integrated autocorrelation), not the iid binomial error.
    sigma = np.sqrt(asymptotic_variance(kernel, pi, np.eye(len(states))[i]) / num_steps)
    assert abs(indicator.mean() - pi[i]) < 5 * sigma, (s, indicator.mean(), pi[i], sigma)


def test_three_variable_table_transitions_match_the_enumerated_kernel():
  probs = np.asarray(jax.random.uniform(jax.random.key(1), (2, 3, 2), minval=0.05), np.float64)
  kernel, states = sweep_kernel(probs)
  pi = np.array([probs[s] for s in states]) / probs.sum()
  np.testing.assert_allclose(pi @ kernel, pi, atol=1e-12)   # stationarity of π under K
  num_steps = 30_000
  samples = np.asarray(jax.jit(lambda key: energy.gibbs_discrete(
      key, jnp.log(jnp.asarray(probs, jnp.float32)), num_steps=num_steps,
      init=jnp.array([1, 2, 0])))(jax.random.key(2)))
  flat = np.ravel_multi_index(samples.T, probs.shape)
  counts = np.zeros_like(kernel)
  np.add.at(counts, (flat[:-1], flat[1:]), 1)
  visits = counts.sum(1, keepdims=True)
  assert (visits > 500).all()
  # Given the current state, the next is a fresh draw from K[s, :] (the Markov property),
  # so each row of empirical frequencies has the multinomial standard error.
  empirical = counts / visits
  sigma = np.sqrt(kernel * (1 - kernel) / visits)
  assert (np.abs(empirical - kernel) <= 5 * sigma + 1e-9).all(), np.abs(empirical - kernel).max()
  assert (counts[kernel == 0] == 0).all()   # no impossible transition


def test_typed_and_legacy_keys_give_identical_chains():
  fn = jax.jit(lambda key: energy.gibbs_discrete(
      key, jnp.log(jnp.asarray(NOTES_TABLE, jnp.float32)), num_steps=64))
  np.testing.assert_array_equal(fn(jax.random.key(3)), fn(jax.random.PRNGKey(3)))


def test_init_is_the_state_before_the_first_sweep():
  # P(0, 1) = P(1, 0) = ½: x_0 given x_1 is 1 − x_1 and x_1 given x_0 is 1 − x_0, so the
  # first sweep is decided by init's x_1 and the chain never leaves where it lands.
  log_probs = jnp.log(jnp.array([[0.0, 1.0], [1.0, 0.0]]))
  for init, state in ((None, [1, 0]), (jnp.array([1, 0]), [1, 0]), (jnp.array([0, 1]), [0, 1])):
    samples = energy.gibbs_discrete(jax.random.key(0), log_probs, num_steps=3, init=init)
    np.testing.assert_array_equal(samples, [state] * 3)


@pytest.mark.parametrize("table, message", [
    (np.array([[0.0, np.nan], [0.0, 0.0]], np.float32), "NaN"),
    (np.full((2, 2), -np.inf, np.float32), "all -inf"),
    (np.array([[0.0, np.inf], [0.0, 0.0]], np.float32), r"\+inf"),
])
def test_bad_tables_are_refused(table, message):
  with pytest.raises(validation.ArgumentError, match=message) as info:
    energy.gibbs_discrete(jax.random.key(0), jnp.asarray(table), num_steps=2)
  assert info.value.argument == "log_probs"


def test_bad_table_under_jit_gives_minus_one():
  fn = jax.jit(lambda table: energy.gibbs_discrete(jax.random.key(0), table, num_steps=2))
  np.testing.assert_array_equal(fn(jnp.full((2, 2), -jnp.inf)), -np.ones((2, 2)))
  assert (np.asarray(fn(jnp.zeros((2, 2)))) >= 0).all()


def test_bad_arguments_name_themselves():
  log_probs = jnp.zeros((2, 3))
  key = jax.random.key(0)
  cases = [
      (lambda: energy.gibbs_discrete(key, log_probs, num_steps=0), "num_steps", ">= 1"),
      (lambda: energy.gibbs_discrete(key, log_probs, num_steps=1, init=jnp.array([0])),
       "init", r"\[2\]"),
      (lambda: energy.gibbs_discrete(key, log_probs, num_steps=1, init=jnp.array([0, 3])),
       "init", "within"),
      (lambda: energy.gibbs_discrete(key, log_probs, num_steps=1, init=jnp.array([0., 1.])),
       "init", "int dtype"),
      (lambda: energy.gibbs_discrete(key, jnp.zeros((2, 2), jnp.int32), num_steps=1),
       "log_probs", "float dtype"),
      (lambda: energy.gibbs_discrete(jnp.zeros(3), log_probs, num_steps=1), "key", "PRNG"),
      (lambda: energy.gibbs_sweep(key, log_probs, jnp.array([0, 0, 0])), "state", r"\[2\]"),
      (lambda: energy.log_probs_from_table([[0.5, -0.1], [0.3, 0.3]]), "probs", "non-negative"),
      (lambda: energy.log_probs_from_table([[0.0, 0.0]]), "probs", "positive entry"),
      (lambda: energy.log_probs_from_table([[np.nan, 1.0]]), "probs", "finite"),
  ]
  for call, argument, message in cases:
    with pytest.raises(validation.ArgumentError, match=message) as info:
      call()
    assert info.value.argument == argument
