"""PixelRNN (Row LSTM, Diagonal BiLSTM): exact normalization by enumeration; fast sampler
equals naive."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import autoregressive as ar


def _perturbed(model, shape, scale, seed):
  params = model.init(jax.random.key(0), jnp.zeros((1, *shape[1:])))
  return jax.tree.map(lambda a: a + scale * jax.random.normal(jax.random.key(seed), a.shape),
                      params)


@pytest.mark.parametrize("layer", ["row", "diagonal"])
def test_probabilities_sum_to_one(layer):
  model = ar.PixelRNN(features=6, num_layers=2, first_kernel=3, kernel=3, layer=layer)
  params = _perturbed(model, (1, 2, 3, 1), 0.5, 3)
  x = np.array(list(itertools.product([0, 1], repeat=6)), np.float32).reshape(-1, 2, 3, 1)
  ll = jax.jit(lambda x: ar.pixel_log_prob(model.apply(params, x), x,
                                           distribution="bernoulli"))(x)
  np.testing.assert_allclose(jax.nn.logsumexp(ll), 0.0, atol=2e-5)


@pytest.mark.parametrize("layer,scale", [("row", 0.0), ("diagonal", 0.3)])
def test_fast_sampler_equals_naive(layer, scale):
  shape = (3, 5, 6, 1)
  model = ar.PixelRNN(features=6, num_layers=2, first_kernel=5, kernel=3, layer=layer)
  params = _perturbed(model, shape, scale, 5)
  key = jax.random.key(4)
  for given, num_given in ((None, 0), (jnp.ones(shape), 15)):
    sample = lambda fn: jax.jit(lambda k: fn(k, model, params, shape, given=given,
                                             num_given=num_given))(key)
    naive = np.asarray(sample(ar.conv_sample_naive))
    np.testing.assert_array_equal(np.asarray(sample(ar.conv_sample)), naive)
    assert len(np.unique(naive)) == 2
