"""gen_jax.nets.Dropout against flax.linen.Dropout: the same masks bit for bit, under jit."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nets.dropout import Dropout


def _both(rate, broadcast_dims, x, key):
  ours = Dropout(rate, broadcast_dims=broadcast_dims)
  flax = nn.Dropout(rate, broadcast_dims=broadcast_dims)
  run = lambda m: jax.jit(lambda x, k: m.apply({}, x, deterministic=False, rngs={"dropout": k}))
  return run(ours)(x, key), run(flax)(x, key)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9, 1e-6])
@pytest.mark.parametrize("shape,broadcast_dims", [((128, 28, 28, 32), ()), ((3, 5), ()),
                                                  ((4, 6, 6, 8), (1, 2)), ((7,), ())])
def test_masks_equal_flax(rate, shape, broadcast_dims):
  x = jax.random.normal(jax.random.key(1), shape) + 3.0  # no zeros: every drop is visible
  for key in (jax.random.key(7), jax.random.PRNGKey(7)):
    ours, flax = _both(rate, broadcast_dims, x, key)
    np.testing.assert_array_equal(ours, flax)
  dropped = float(jnp.mean(ours == 0))
  n = ours.size // max(1, np.prod([shape[d] for d in broadcast_dims]))
  # Bernoulli(rate) fraction of n independent mask values: within 5 standard errors.
  assert abs(dropped - rate) <= 5 * np.sqrt(rate * (1 - rate) / n) + 1e-12


def test_gradients_equal_flax():
  x = jax.random.normal(jax.random.key(2), (16, 10))
  key = jax.random.key(3)
  grad = lambda m: jax.jit(jax.grad(lambda x: jnp.sum(
      jnp.sin(m.apply({}, x, deterministic=False, rngs={"dropout": key})))))(x)
  np.testing.assert_array_equal(grad(Dropout(0.3)), grad(nn.Dropout(0.3)))


def test_identity_paths_and_edge_rates():
  x = jnp.arange(12.0).reshape(3, 4)
  assert Dropout(0.5).apply({}, x, deterministic=True) is x
  assert Dropout(0.0).apply({}, x, deterministic=False) is x
  np.testing.assert_array_equal(
      Dropout(1.0).apply({}, x, deterministic=False, rngs={"dropout": jax.random.key(0)}),
      jnp.zeros_like(x))
  with pytest.raises(ValueError, match="rate must be in"):
    Dropout(1.5).apply({}, x, deterministic=False, rngs={"dropout": jax.random.key(0)})
