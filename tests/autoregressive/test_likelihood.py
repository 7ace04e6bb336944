"""gen_jax.autoregressive.log_prob against NumPy float64, the naive sampler against the
conditionals it samples from, and the bad-input errors."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import autoregressive as ar
from gen_jax import validation


def test_bernoulli_log_prob_against_numpy():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(4, 3, 5)).astype(np.float32) * 3
  x = (rng.uniform(size=(4, 3, 5)) < 0.5).astype(np.float32)
  p = 1 / (1 + np.exp(-logits.astype(np.float64)))
  want = np.where(x == 1, np.log(p), np.log1p(-p)).reshape(4, -1).sum(1)
  got = jax.jit(ar.log_prob)(logits, x)
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_categorical_log_prob_against_numpy():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(3, 6, 7)).astype(np.float32) * 2
  x = rng.integers(0, 7, size=(3, 6))
  l64 = logits.astype(np.float64)
  log_p = l64 - np.log(np.exp(l64).sum(-1, keepdims=True))
  want = np.take_along_axis(log_p, x[..., None], -1).sum((1, 2))
  got = jax.jit(functools.partial(ar.log_prob, distribution="categorical"))(
      logits, x.astype(np.float32))
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_naive_sampler_follows_the_conditionals_of_a_known_chain():
  # A Markov chain in a given order: x_{o_0} ~ Bernoulli(0.8), then x_{o_t} copies x_{o_{t-1}}
  # with probability 0.9. Its marginals and agreement rates are known in closed form.
  dims, num = 6, 4000
  order = np.array([3, 1, 5, 0, 2, 4])

  def apply_fn(x):
    prev = jnp.concatenate([jnp.zeros_like(x[:, :1]), x[:, order[:-1]]], 1)  # by step
    logit_o = jnp.where(prev == 1, np.log(9.0), -np.log(9.0))
    logit_o = logit_o.at[:, 0].set(np.log(4.0))
    return jnp.zeros_like(x).at[:, order].set(logit_o)

  x = np.asarray(jax.jit(lambda k: ar.sample_naive(k, apply_fn, (num, dims), order=order))(
      jax.random.key(0)))
  assert set(np.unique(x)) <= {0.0, 1.0}
  se = 0.5 / np.sqrt(num)
  assert abs(x[:, order[0]].mean() - 0.8) < 5 * se
  for t in range(1, dims):
    agree = (x[:, order[t]] == x[:, order[t - 1]]).mean()
    assert abs(agree - 0.9) < 5 * se, (t, agree)


def test_naive_sampler_categorical_draws_the_softmax():
  logits = jnp.log(jnp.array([0.1, 0.2, 0.3, 0.4]))
  num = 4000
  x = ar.sample_naive(jax.random.key(1), lambda v: jnp.broadcast_to(logits, v.shape + (4,)),
                      (num, 2, 1), distribution="categorical", num_levels=4)
  assert x.shape == (num, 2, 1)
  freq = np.bincount(np.asarray(x).astype(int).ravel(), minlength=4) / (2 * num)
  np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=5 * 0.5 / np.sqrt(2 * num))


def test_non_binary_data_for_a_bernoulli_model_is_named():
  with pytest.raises(validation.ArgumentError, match="x must be binary"):
    ar.log_prob(jnp.zeros((2, 3)), jnp.array([[0.0, 0.5, 1.0], [1.0, 0.0, 0.0]]))
  with pytest.raises(validation.ArgumentError, match="x must be binary"):
    ar.check_data(np.array([[0, 2]]), distribution="bernoulli")


@pytest.mark.parametrize("bad", [-1.0, 256.0, 3.5])
def test_levels_outside_the_range_are_named(bad):
  x = jnp.array([[0.0, bad]])
  with pytest.raises(validation.ArgumentError, match=r"x must hold integer levels in \[0, 255\]"):
    ar.log_prob(jnp.zeros((1, 2, 256)), x, distribution="categorical")
  ar.check_data(np.array([[0, 255]]), distribution="categorical")  # valid


def test_shapes_and_names_are_checked():
  with pytest.raises(validation.ArgumentError, match="logits"):
    ar.log_prob(jnp.zeros((2, 4)), jnp.zeros((2, 3)))
  with pytest.raises(validation.ArgumentError, match="logits"):
    ar.log_prob(jnp.zeros((2, 3)), jnp.zeros((2, 3)), distribution="categorical")
  with pytest.raises(validation.ArgumentError, match="distribution"):
    ar.log_prob(jnp.zeros((2, 3)), jnp.zeros((2, 3)), distribution="gaussian")
  with pytest.raises(validation.ArgumentError, match="order"):
    ar.sample_naive(jax.random.key(0), lambda v: v, (2, 3), order=[0, 0, 1])
