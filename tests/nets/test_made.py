"""gen_jax.nets MADE masks and module: the autoregressive property read off dense Jacobians
(jax.jacfwd), for several orders, hidden sizes, random degrees and a context input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import nets
from gen_jax import validation


def _allowed(order, num_outputs=1):
  """allowed[d, k, j] = input j precedes dimension d in the order (NumPy reference)."""
  rank = np.argsort(order)
  allowed = rank[None, :] < rank[:, None]                    # [D (output), D (input)]
  return np.repeat(allowed[:, None, :], num_outputs, axis=1)


def _jacobian(model, params, x, **kw):
  f = jax.jit(lambda v: model.apply(params, v[None], **kw)[0])
  return np.asarray(jax.jacfwd(f)(x))                        # [D, K, D]


@pytest.mark.parametrize("order,hidden,num_outputs", [
    ([0, 1, 2, 3, 4, 5], (32,), 1),
    ([3, 0, 5, 1, 4, 2], (40, 30), 2),
    ([2, 4, 1, 0, 3], (), 3),
    ([1, 0, 2, 4, 3, 6, 5], (64, 64, 64), 1),
])
def test_jacobian_is_zero_exactly_where_the_order_says(order, hidden, num_outputs):
  d = len(order)
  model = nets.MADE(num_dims=d, hidden_sizes=hidden, num_outputs=num_outputs,
                    input_order=tuple(order), activation=jnp.tanh)
  x = jax.random.normal(jax.random.key(1), (d,))
  params = model.init(jax.random.key(0), x[None])
  jac = _jacobian(model, params, x)
  allowed = _allowed(np.array(order), num_outputs)
  assert jac.shape == allowed.shape
  np.testing.assert_array_equal(jac[~allowed], 0.0)
  # Generic elsewhere: every allowed dependency is present (tanh, random weights).
  assert np.all(np.abs(jac[allowed]) > 1e-7), np.argwhere(allowed & (np.abs(jac) <= 1e-7))


def test_random_degrees_and_masks_passed_at_call_time_keep_the_property():
  d, hidden = 8, (24, 24)
  model = nets.MADE(num_dims=d, hidden_sizes=hidden, activation=jnp.tanh)
  x = jax.random.normal(jax.random.key(2), (d,))
  params = model.init(jax.random.key(0), x[None])
  for seed in range(3):
    k_order, k_deg = jax.random.split(jax.random.key(10 + seed))
    order = np.asarray(jax.random.permutation(k_order, d))
    masks = jax.jit(lambda k, o: nets.made_masks(o, hidden, key=k))(k_deg, order)
    jac = _jacobian(model, params, x, masks=masks)
    allowed = _allowed(order)
    np.testing.assert_array_equal(jac[~allowed], 0.0)
    assert np.any(jac[allowed] != 0.0)
  # Random degrees differ from key to key and stay in range.
  deg_a = nets.made_degrees(np.arange(d), (50,), key=jax.random.key(0))[1]
  deg_b = nets.made_degrees(np.arange(d), (50,), key=jax.random.key(1))[1]
  assert not np.array_equal(deg_a, deg_b)
  assert deg_a.min() >= 1 and deg_a.max() <= d - 1


def test_masks_against_the_degree_rule():
  order = np.array([2, 0, 3, 1])
  masks = nets.made_masks(order, (5,), num_outputs=2)
  deg_in = np.array([2, 4, 1, 3])                              # 1 + position in the order
  deg_h = 1 + np.arange(5) % 3                                 # cycles through 1..D-1
  np.testing.assert_array_equal(masks[0], (deg_h[None] >= deg_in[:, None]).astype(np.float32))
  out = np.repeat(deg_in, 2)
  np.testing.assert_array_equal(masks[1], (out[None] > deg_h[:, None]).astype(np.float32))
  np.testing.assert_array_equal(nets.order_degrees(order), deg_in)


def test_context_reaches_every_output_and_x_keeps_the_property():
  d, c = 5, 3
  model = nets.MADE(num_dims=d, hidden_sizes=(32,), num_outputs=2, activation=jnp.tanh)
  x = jax.random.normal(jax.random.key(1), (d,))
  ctx = jax.random.normal(jax.random.key(2), (c,))
  params = model.init(jax.random.key(0), x[None], ctx[None])
  f = jax.jit(lambda v, u: model.apply(params, v[None], u[None])[0])
  jac_x = np.asarray(jax.jacfwd(f, 0)(x, ctx))
  jac_c = np.asarray(jax.jacfwd(f, 1)(x, ctx))
  np.testing.assert_array_equal(jac_x[~_allowed(np.arange(d), 2)], 0.0)
  assert np.all(np.abs(jac_c) > 0)


def test_masked_dense_is_a_dense_layer_with_a_masked_kernel():
  x = jax.random.normal(jax.random.key(0), (3, 4))
  mask = (jax.random.uniform(jax.random.key(1), (4, 5)) > 0.5).astype(jnp.float32)
  layer = nets.MaskedDense(5)
  params = layer.init(jax.random.key(2), x, mask)
  w, b = params["params"]["kernel"], params["params"]["bias"]
  np.testing.assert_allclose(jax.jit(layer.apply)(params, x, mask),
                             np.asarray(x) @ (np.asarray(w) * np.asarray(mask)) + b,
                             rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("order", [[0, 1, 1], [0, 2, 3], [[0, 1]], [0.5, 1, 2], []])
def test_an_order_that_is_not_a_permutation_is_named(order):
  with pytest.raises(validation.ArgumentError, match="input_order"):
    nets.made_masks(np.array(order), (4,))


def test_wrong_widths_are_named():
  with pytest.raises(validation.ArgumentError, match="hidden_sizes"):
    nets.made_masks([0, 1], (0,))
  with pytest.raises(validation.ArgumentError, match="num_outputs"):
    nets.made_masks([0, 1], (4,), num_outputs=0)
  with pytest.raises(validation.ArgumentError, match="input_order"):
    nets.MADE(num_dims=3, hidden_sizes=(4,), input_order=(0, 1)).init(
        jax.random.key(0), jnp.zeros((1, 3)))
