"""PixelRNN (Row LSTM, Diagonal BiLSTM): exact normalization by enumeration; fast sampler
equals naive."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import autoregressive as ar


def test_probabilities_sum_to_one():
  model = ar.PixelRNN(features=6, num_layers=2, first_kernel=3, kernel=3)
  params = model.init(jax.random.key(0), jnp.zeros((1, 2, 3, 1)))
  params = jax.tree.map(lambda a: a + 0.5 * jax.random.normal(jax.random.key(3), a.shape),
                        params)
  x = np.array(list(itertools.product([0, 1], repeat=6)), np.float32).reshape(-1, 2, 3, 1)
  ll = jax.jit(lambda x: ar.pixel_log_prob(model.apply(params, x), x,
                                           distribution="bernoulli"))(x)
  np.testing.assert_allclose(jax.nn.logsumexp(ll), 0.0, atol=2e-5)


def test_fast_sampler_equals_naive():
  shape = (3, 5, 6, 1)
  model = ar.PixelRNN(features=6, num_layers=2, first_kernel=5, kernel=3)
  params = model.init(jax.random.key(0), jnp.zeros((1, *shape[1:])))
  key = jax.random.key(4)
  naive = jax.jit(lambda k: ar.conv_sample_naive(k, model, params, shape))(key)
  fast = jax.jit(lambda k: ar.conv_sample(k, model, params, shape))(key)
  np.testing.assert_array_equal(np.asarray(fast), np.asarray(naive))
  assert len(np.unique(np.asarray(naive))) == 2
  given = jnp.ones(shape)
  fc = jax.jit(lambda k: ar.conv_sample(k, model, params, shape, given=given,
                                        num_given=15))(key)
  nc = jax.jit(lambda k: ar.conv_sample_naive(k, model, params, shape, given=given,
                                              num_given=15))(key)
  np.testing.assert_array_equal(np.asarray(fc), np.asarray(nc))


def test_diagonal_bilstm_normalizes_and_its_fast_sampler_equals_naive():
  model = ar.PixelRNN(features=6, num_layers=2, first_kernel=3, layer="diagonal")
  params = model.init(jax.random.key(0), jnp.zeros((1, 2, 3, 1)))
  params = jax.tree.map(lambda a: a + 0.5 * jax.random.normal(jax.random.key(3), a.shape),
                        params)
  x = np.array(list(itertools.product([0, 1], repeat=6)), np.float32).reshape(-1, 2, 3, 1)
  ll = jax.jit(lambda x: ar.pixel_log_prob(model.apply(params, x), x,
                                           distribution="bernoulli"))(x)
  np.testing.assert_allclose(jax.nn.logsumexp(ll), 0.0, atol=2e-5)

  shape = (3, 5, 6, 1)
  model = ar.PixelRNN(features=6, num_layers=2, first_kernel=5, layer="diagonal")
  params = model.init(jax.random.key(0), jnp.zeros((1, *shape[1:])))
  params = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(jax.random.key(5), a.shape),
                        params)
  key = jax.random.key(4)
  naive = jax.jit(lambda k: ar.conv_sample_naive(k, model, params, shape))(key)
  fast = jax.jit(lambda k: ar.conv_sample(k, model, params, shape))(key)
  np.testing.assert_array_equal(np.asarray(fast), np.asarray(naive))
  assert len(np.unique(np.asarray(naive))) == 2
  given = jnp.ones(shape)
  fc = jax.jit(lambda k: ar.conv_sample(k, model, params, shape, given=given,
                                        num_given=15))(key)
  nc = jax.jit(lambda k: ar.conv_sample_naive(k, model, params, shape, given=given,
                                              num_given=15))(key)
  np.testing.assert_array_equal(np.asarray(fc), np.asarray(nc))
