"""NADE against an O(D² H) NumPy loop, the autoregressive property on its Jacobian, exact
normalization over all 2^D inputs, and its fast sampler against the naive one."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import autoregressive as ar
from gen_jax import validation

ORDER = (4, 1, 7, 0, 9, 2, 6, 3, 8, 5)
D, H = len(ORDER), 8


def _model_and_params(order=ORDER):
  model = ar.NADE(num_dims=len(order), hidden_size=H, input_order=order)
  params = model.init(jax.random.key(0), jnp.zeros((1, len(order))))
  # Nonzero biases so every term of the formula matters.
  params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(5), p.shape),
                        params)
  return model, params


def _all_binary(dims):
  return np.array(list(itertools.product([0.0, 1.0], repeat=dims)), np.float32)


def test_log_likelihood_against_a_numpy_loop():
  model, params = _model_and_params()
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)["params"]
  x = (np.random.default_rng(0).uniform(size=(6, D)) < 0.5).astype(np.float32)
  want = np.zeros(6)
  for t, d in enumerate(ORDER):  # one hidden layer per conditional: O(D^2 H)
    prev = list(ORDER[:t])
    a = p["c"] + x[:, prev] @ p["w"][prev]
    logit = p["b"][d] + (1 / (1 + np.exp(-a))) @ p["v"][d]
    prob = 1 / (1 + np.exp(-logit))
    want += np.where(x[:, d] == 1, np.log(prob), np.log1p(-prob))
  got = jax.jit(lambda x: ar.log_prob(model.apply(params, x), x))(x)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_each_logit_depends_only_on_earlier_inputs():
  model, params = _model_and_params()
  x = jax.random.uniform(jax.random.key(1), (D,))  # any real input: a generic point
  jac = np.asarray(jax.jacfwd(jax.jit(lambda v: model.apply(params, v[None])[0]))(x))
  rank = np.argsort(ORDER)
  allowed = rank[None, :] < rank[:, None]
  np.testing.assert_array_equal(jac[~allowed], 0.0)
  assert np.all(np.abs(jac[allowed]) > 0)


def test_probabilities_of_all_inputs_sum_to_one():
  model, params = _model_and_params()
  x = _all_binary(D)
  log_p = jax.jit(lambda x: ar.log_prob(model.apply(params, x), x))(x)
  np.testing.assert_allclose(jax.nn.logsumexp(log_p), 0.0, atol=1e-5)


def test_fast_and_naive_samplers_give_identical_samples():
  model, params = _model_and_params()
  key = jax.random.key(3)
  naive = jax.jit(lambda k: ar.sample_naive(k, functools.partial(model.apply, params),
                                            (64, D), order=model.order()))(key)
  fast = jax.jit(lambda k: ar.nade_sample_fast(k, model, params, 64))(key)
  np.testing.assert_array_equal(fast, naive)
  assert 0.1 < float(naive.mean()) < 0.9
  # The fast sampler draws from the model: the empirical distribution over the 2^D states
  # of 3 dimensions matches the exact marginal (computed by enumeration).
  many = np.asarray(jax.jit(lambda k: ar.nade_sample_fast(k, model, params, 20000))(key))
  x = _all_binary(D)
  prob = np.exp(np.asarray(ar.log_prob(model.apply(params, x), x), np.float64))
  for dims in [(4, 1), (0, 5)]:  # first two in the order, and two late ones
    for value in itertools.product([0, 1], repeat=2):
      sel = np.all(x[:, dims] == value, axis=1)
      emp = np.all(many[:, dims] == value, axis=1).mean()
      exact = prob[sel].sum()
      assert abs(emp - exact) < 5 * np.sqrt(exact * (1 - exact) / len(many)) + 1e-3


def test_images_keep_their_shape_and_bad_orders_are_named():
  model = ar.NADE(num_dims=12, hidden_size=4)
  x = jnp.zeros((2, 3, 4))
  params = model.init(jax.random.key(0), x)
  assert model.apply(params, x).shape == (2, 3, 4)
  with pytest.raises(validation.ArgumentError, match="input_order"):
    bad = ar.NADE(num_dims=3, hidden_size=4, input_order=(0, 2, 2))
    bad.init(jax.random.key(0), jnp.zeros((1, 3)))
  with pytest.raises(validation.ArgumentError, match="x"):
    model.apply(params, jnp.zeros((2, 5)))
