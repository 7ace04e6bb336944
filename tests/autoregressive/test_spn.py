"""The random region-graph SPN against brute-force enumeration of its joint over <= 12
binary variables: normalization, marginals, conditionals, MPE and (conditional) sampling."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import autoregressive as ar
from gen_jax import validation


def _setup(dims, depth, seed=0):
  model = ar.SPN(num_dims=dims, depth=depth, num_repetitions=3, num_sums=3, num_inputs=2,
                 structure_seed=seed)
  x_all = np.array(list(itertools.product([0.0, 1.0], repeat=dims)), np.float32)
  params = model.init(jax.random.key(seed), x_all[:1])
  log_joint = np.asarray(jax.jit(lambda x: model.apply(params, x))(x_all), np.float64)
  return model, params, x_all, log_joint


def _log_sum(log_joint, sel):
  return np.log(np.exp(log_joint[sel]).sum())


@pytest.mark.parametrize("dims,depth", [
    (12, 2), pytest.param(11, 3, marks=pytest.mark.slow)])  # 11-3: 13 s
def test_the_joint_sums_to_one_and_marginals_are_sums_over_it(dims, depth):
  model, params, x_all, log_joint = _setup(dims, depth)
  np.testing.assert_allclose(np.log(np.exp(log_joint).sum()), 0.0, atol=1e-5)
  rng = np.random.default_rng(0)
  x = x_all[rng.integers(0, len(x_all), 6)]
  observed = rng.uniform(size=(6, dims)) < 0.5
  got = jax.jit(lambda x, o: ar.spn_log_prob(model, params, x, o))(x, observed)
  for i in range(6):
    sel = np.all(x_all[:, observed[i]] == x[i, observed[i]], axis=1)
    np.testing.assert_allclose(got[i], _log_sum(log_joint, sel), rtol=1e-5, atol=1e-5)


def test_conditionals_against_the_joint():
  dims = 12
  model, params, x_all, log_joint = _setup(dims, 2)
  evidence = np.zeros(dims, bool)
  evidence[:6] = True                                      # top half given
  query = np.zeros(dims, bool)
  query[6:9] = True
  x = x_all[[5, 1000, 4000]]
  got = jax.jit(lambda x: ar.spn_log_prob(model, params, x, evidence | query,
                                          given=evidence))(x)
  for i in range(3):
    both = np.all(x_all[:, evidence | query] == x[i, evidence | query], axis=1)
    given = np.all(x_all[:, evidence] == x[i, evidence], axis=1)
    want = _log_sum(log_joint, both) - _log_sum(log_joint, given)
    np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-5)


def test_mpe_completion_is_the_best_tree_consistent_with_the_evidence():
  dims = 10
  model, params, x_all, _ = _setup(dims, 2, seed=1)
  observed = np.arange(dims) < 5
  x = x_all[[3, 100, 700]]
  done = jax.jit(lambda x: ar.spn_complete(model, params, x, observed, mode="mpe"))(x)
  np.testing.assert_array_equal(np.asarray(done)[:, observed], x[:, observed])
  best_tree = np.asarray(jax.jit(lambda x: model.apply(params, x, method=ar.SPN.max_product))(
      x_all))
  got = np.asarray(model.apply(params, done, method=ar.SPN.max_product))
  for i in range(3):
    sel = np.all(x_all[:, observed] == x[i, observed], axis=1)
    np.testing.assert_allclose(got[i], best_tree[sel].max(), rtol=1e-6)


def test_ancestral_and_conditional_samples_follow_the_exact_distribution():
  dims, num = 8, 20000
  model, params, x_all, log_joint = _setup(dims, 2, seed=2)
  prob = np.exp(log_joint)
  samples = np.asarray(jax.jit(lambda k: ar.spn_sample(k, model, params, num))(
      jax.random.key(0)))
  assert set(np.unique(samples)) <= {0.0, 1.0}
  marg = (prob[:, None] * x_all).sum(0)
  np.testing.assert_allclose(samples.mean(0), marg, atol=5 * 0.5 / np.sqrt(num))
  # Conditional: the bottom 4 variables given the top 4, over all 16 completions.
  observed = np.arange(dims) < 4
  x = np.broadcast_to(x_all[9], (num, dims))
  done = np.asarray(jax.jit(lambda k: ar.spn_complete(model, params, x, observed, key=k,
                                                      mode="sample"))(jax.random.key(1)))
  np.testing.assert_array_equal(done[:, observed], x[:, observed])
  given = np.all(x_all[:, observed] == x_all[9, observed], axis=1)
  for row in np.flatnonzero(given):
    exact = prob[row] / prob[given].sum()
    emp = np.all(done == x_all[row], axis=1).mean()
    assert abs(emp - exact) < 5 * np.sqrt(exact * (1 - exact) / num) + 1e-3, (row, emp, exact)


def test_gradient_ascent_on_the_exact_likelihood_fits_data():
  dims = 8
  model = ar.SPN(num_dims=dims, depth=2, num_repetitions=2, num_sums=4, num_inputs=4)
  rng = np.random.default_rng(0)
  # Two clusters: all-zeros / all-ones with 10 % bit flips.
  base = (rng.uniform(size=(256, 1)) < 0.5).astype(np.float32)
  data = np.abs(base - (rng.uniform(size=(256, dims)) < 0.1)).astype(np.float32)
  params = model.init(jax.random.key(0), data[:1])
  opt = optax.adam(0.05)
  state = opt.init(params)

  @jax.jit
  def step(params, state):
    loss, grads = jax.value_and_grad(lambda p: -model.apply(p, data).mean())(params)
    updates, state = opt.update(grads, state)
    return optax.apply_updates(params, updates), state, loss

  first = None
  for _ in range(150):
    params, state, loss = step(params, state)
    first = float(loss) if first is None else first
  # The data's entropy under the generating mixture is about 8 * H(0.1) + ln 2 = 3.29 nats.
  assert float(loss) < 0.7 * first and float(loss) < 4.0, (first, float(loss))


def test_bad_input_is_named():
  model = ar.SPN(num_dims=4, depth=1, num_repetitions=1, num_sums=2, num_inputs=2)
  params = model.init(jax.random.key(0), jnp.zeros((1, 4)))
  with pytest.raises(validation.ArgumentError, match="x must be binary"):
    model.apply(params, jnp.array([[0.0, 1.0, 0.3, 1.0]]))
  with pytest.raises(validation.ArgumentError, match="depth"):
    ar.SPN(num_dims=4, depth=3).init(jax.random.key(0), jnp.zeros((1, 4)))
  with pytest.raises(validation.ArgumentError, match="key"):
    ar.spn_complete(model, params, jnp.zeros((1, 4)), np.ones(4, bool), mode="sample")
