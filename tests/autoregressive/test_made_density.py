"""The MADE density model: exact normalization over all inputs (single MADE and an ensemble
of orders), the autoregressive property of each ensemble member, order-agnostic training
drawing its mask from the key, and the fast sampler against the naive one."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import autoregressive as ar
from gen_jax import validation


def _init(model, dims, seed=0):
  params = model.init(jax.random.key(seed), jnp.zeros((1, dims)))
  return jax.tree.map(lambda p: p + 0.2 * jax.random.normal(jax.random.key(seed + 9), p.shape),
                      params)


def _all_binary(dims):
  return np.array(list(itertools.product([0.0, 1.0], repeat=dims)), np.float32)


@pytest.mark.parametrize("num_masks,agnostic", [(1, False), (3, True)])
def test_probabilities_of_all_inputs_sum_to_one(num_masks, agnostic):
  dims = 10
  model = ar.MADE(num_dims=dims, hidden_sizes=(16, 16), num_masks=num_masks,
                  order_agnostic=agnostic, connectivity_agnostic=agnostic,
                  input_order=(9, 3, 0, 1, 8, 2, 7, 4, 6, 5))
  params = _init(model, dims)
  x = _all_binary(dims)
  log_p = jax.jit(lambda x: ar.made_log_prob(model, params, x))(x)
  np.testing.assert_allclose(jax.nn.logsumexp(log_p), 0.0, atol=1e-5)


def test_categorical_probabilities_sum_to_one():
  dims, levels = 3, 5
  model = ar.MADE(num_dims=dims, hidden_sizes=(12,), distribution="categorical",
                  num_levels=levels, input_order=(2, 0, 1))
  params = _init(model, dims)
  x = np.array(list(itertools.product(range(levels), repeat=dims)), np.float32)
  log_p = jax.jit(lambda x: ar.made_log_prob(model, params, x))(x)
  np.testing.assert_allclose(jax.nn.logsumexp(log_p), 0.0, atol=1e-5)


def test_every_ensemble_member_is_autoregressive_in_its_order():
  dims = 7
  model = ar.MADE(num_dims=dims, hidden_sizes=(32, 32), num_masks=3, order_agnostic=True,
                  connectivity_agnostic=True, activation=jnp.tanh)
  params = _init(model, dims)
  x = jax.random.normal(jax.random.key(1), (dims,))
  orders = []
  jacobian = jax.jit(jax.jacfwd(lambda v, m: model.apply(params, v[None], mask_index=m)[0]))
  for m in range(3):
    order = np.asarray(model.order(m))
    orders.append(tuple(order))
    jac = np.asarray(jacobian(x, m))
    rank = np.argsort(order)
    allowed = rank[None, :] < rank[:, None]
    np.testing.assert_array_equal(jac[~allowed], 0.0)
    assert np.any(jac[allowed] != 0)
  assert len(set(orders)) == 3


def test_a_training_key_picks_a_mask_from_the_ensemble():
  dims = 6
  model = ar.MADE(num_dims=dims, hidden_sizes=(16,), num_masks=4, order_agnostic=True)
  params = _init(model, dims)
  x = (jax.random.uniform(jax.random.key(2), (3, dims)) < 0.5).astype(jnp.float32)
  member = jax.jit(lambda m: model.apply(params, x, mask_index=m))
  members = [np.asarray(member(m)) for m in range(4)]
  apply = jax.jit(lambda k: model.apply(params, x, key=k))
  picked = set()
  for seed in range(12):
    out = np.asarray(apply(jax.random.key(seed)))
    match = [m for m in range(4) if np.allclose(out, members[m], atol=1e-6)]
    assert len(match) == 1
    picked.add(match[0])
  assert len(picked) >= 3


@pytest.mark.parametrize("kw", [
    dict(hidden_sizes=(32, 24), input_order=(5, 2, 0, 7, 1, 3, 6, 4)),
    dict(hidden_sizes=(20,), num_masks=2, order_agnostic=True, connectivity_agnostic=True),
    dict(hidden_sizes=(16,), distribution="categorical", num_levels=6),
    dict(hidden_sizes=(), distribution="categorical", num_levels=4),
])
def test_fast_and_naive_samplers_give_identical_samples(kw):
  dims = 8
  model = ar.MADE(num_dims=dims, **kw)
  params = _init(model, dims)
  mask_index = model.num_masks - 1
  key = jax.random.key(4)
  shape = (64, dims)
  naive = jax.jit(lambda k: ar.sample_naive(
      k, lambda v: model.apply(params, v, mask_index=mask_index), shape,
      distribution=model.distribution, order=model.order(mask_index),
      num_levels=model.num_levels))(key)
  fast = jax.jit(lambda k: ar.made_sample_fast(k, model, params, 64,
                                               mask_index=mask_index))(key)
  np.testing.assert_array_equal(fast, naive)
  assert len(np.unique(np.asarray(naive))) > 1


def test_bad_settings_are_named():
  with pytest.raises(validation.ArgumentError, match="distribution"):
    ar.MADE(num_dims=3, hidden_sizes=(4,), distribution="gaussian").init(
        jax.random.key(0), jnp.zeros((1, 3)))
  with pytest.raises(validation.ArgumentError, match="input_order"):
    ar.MADE(num_dims=3, hidden_sizes=(4,), input_order=(1, 2, 3)).init(
        jax.random.key(0), jnp.zeros((1, 3)))
