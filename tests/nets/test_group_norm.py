"""Tests for gen_jax.nets.GroupNorm and its CPU kernels (gen_jax/nets/onednn/group_norm.*).

References: GroupNorm + swish in NumPy float64 (the forward) and autodiff of the plain-JAX
form `reference` (derivatives); the C++ kernels sum in double and in another order, so
they agree to 1e-5 × the reference's magnitude. The default layer must be flax.linen's
GroupNorm (then swish) bit for bit.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import nets
from gen_jax.nets import onednn
from gen_jax.nets.onednn import group_norm as native

needs_onednn = pytest.mark.skipif(not onednn.available(),
                                  reason=f"oneDNN extension: {onednn.unavailable_reason()}")
TOLERANCE = 1e-5


def _close(got, want, name=""):
  scale = float(np.max(np.abs(want)))
  np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE * scale, err_msg=name)


def _numpy_group_norm(x, scale, bias, groups, eps, act):
  x = np.asarray(x, np.float64)
  b, c = x.shape[0], x.shape[-1]
  xr = x.reshape(b, -1, groups, c // groups)
  mean = xr.mean(axis=(1, 3), keepdims=True)
  var = ((xr - mean) ** 2).mean(axis=(1, 3), keepdims=True)
  z = ((xr - mean) / np.sqrt(var + eps)).reshape(x.shape) * scale + bias
  return z / (1 + np.exp(-z)) if act == 1 else z


# (x shape, groups): channels off the 16-lane width (tail lanes), one group, one channel
# per group, a single spatial position, 3-D and 5-D inputs.
SHAPES = [((6, 5, 7, 24), 4), ((3, 4, 4, 40), 8), ((2, 9, 9, 3), 1), ((4, 3, 3, 16), 16),
          ((5, 1, 1, 32), 8), ((3, 11, 20), 5), ((2, 3, 2, 2, 12), 3)]


def _inputs(shape, seed=0):
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.normal(1.0, 3.0, shape), jnp.float32)
  c = shape[-1]
  return (x, jnp.asarray(rng.normal(size=c), jnp.float32),
          jnp.asarray(rng.normal(size=c), jnp.float32))


@pytest.mark.parametrize("act", [0, 1])
@pytest.mark.parametrize("shape,groups", SHAPES)
def test_reference_matches_numpy(shape, groups, act):
  x, s, b = _inputs(shape)
  got = jax.jit(lambda x, s, b: native.reference(x, s, b, groups=groups, eps=1e-6,
                                                  act=act))(x, s, b)
  _close(got, _numpy_group_norm(x, s, b, groups, 1e-6, act))


@needs_onednn
@pytest.mark.parametrize("activation", [None, "swish"])
@pytest.mark.parametrize("shape,groups", SHAPES)
def test_kernels_match_numpy_and_autodiff_of_the_reference(shape, groups, activation):
  x, s, b = _inputs(shape, seed=1)
  act = native.ACTIVATIONS[activation]
  f = lambda x, s, b: native.group_norm(x, s, b, num_groups=groups, epsilon=1e-6,
                                        activation=activation)
  r = lambda x, s, b: native.reference(x, s, b, groups=groups, eps=1e-6, act=act)
  fwd = jax.jit(f)
  assert "GenJaxGroupNorm" in fwd.lower(x, s, b).as_text()
  _close(fwd(x, s, b), _numpy_group_norm(x, s, b, groups, 1e-6, act), "forward")
  dy = jnp.asarray(np.random.default_rng(2).normal(size=shape), jnp.float32)
  vjp = jax.jit(lambda *a: jax.vjp(f, *a)[1](dy))
  assert "GenJaxGroupNormVjp" in vjp.lower(x, s, b).as_text()
  want = jax.jit(lambda *a: jax.vjp(r, *a)[1](dy))(x, s, b)
  for name, g, w in zip(("dx", "dscale", "dbias"), vjp(x, s, b), want):
    _close(g, w, name)


@needs_onednn
def test_forward_mode_second_order_and_vmap_match_the_reference():
  x, s, b = _inputs((4, 5, 6, 12), seed=3)
  f = lambda x, s, b: native.group_norm(x, s, b, num_groups=3, activation="swish")
  r = lambda x, s, b: native.reference(x, s, b, groups=3, eps=1e-6, act=1)
  tangents = (0.3 * x, 0.5 * s, -b)
  _close(jax.jit(lambda *p: jax.jvp(f, p, tangents)[1])(x, s, b),
         jax.jvp(r, (x, s, b), tangents)[1], "jvp")
  second = lambda fn: jax.jit(jax.grad(
      lambda x, s: jnp.sum(jax.grad(lambda x, s: jnp.sum(fn(x, s, b) ** 2), (0, 1))(x, s)[0]
                           ** 2), (0, 1)))
  for name, g, w in zip(("x", "scale"), second(f)(x, s), second(r)(x, s)):
    _close(g, w, f"grad of grad, {name}")
  batched = jax.jit(jax.vmap(f, in_axes=(0, None, None)))(jnp.stack([x, 2 * x]), s, b)
  _close(batched[1], r(2 * x, s, b), "vmap")


@needs_onednn
def test_swish_holds_at_large_and_non_finite_inputs():
  """The kernel's exp is clamped to [−87, 88]: swish(±100) must still be ±100 and 0, and a
  NaN input must give NaN outputs (the trainer's non-finite guard relies on it)."""
  x = jnp.zeros((2, 4, 4, 16)).at[0, 0, 0, :].set(400.0)
  s, b = jnp.ones(16), jnp.zeros(16)
  scale = jnp.full(16, 100.0)
  for bias, want in ((jnp.full(16, 100.0), 100.0), (jnp.full(16, -100.0), 0.0)):
    y = jax.jit(lambda x: native.group_norm(x, 0 * scale, bias, num_groups=4,
                                            activation="swish"))(x)
    np.testing.assert_allclose(y, want, atol=1e-30, rtol=1e-6)
  y = jax.jit(lambda x: native.group_norm(x, s, b, num_groups=4, activation="swish"))(
      x.at[1, 2, 2, 3].set(jnp.nan))
  assert bool(jnp.all(jnp.isnan(y[1, ..., :4]))) and bool(jnp.all(jnp.isfinite(y[0])))


def _layer_pair(activation, **kwargs):
  layer = nets.GroupNorm(num_groups=4, epsilon=1e-6, activation=activation, **kwargs)
  flax_layer = nn.GroupNorm(num_groups=4, epsilon=1e-6, **kwargs)
  act = nn.swish if activation == "swish" else (lambda v: v)
  return layer, (lambda variables, x: act(flax_layer.apply(variables, x)))


@pytest.mark.parametrize("activation", [None, "swish"])
def test_the_default_layer_is_flax_then_swish_bit_for_bit(activation):
  x, _, _ = _inputs((3, 6, 6, 16), seed=4)
  layer, flax_fn = _layer_pair(activation)
  variables = layer.init(jax.random.key(0), x)
  assert jax.tree.structure(variables) == jax.tree.structure(
      nn.GroupNorm(num_groups=4).init(jax.random.key(0), x))
  variables = jax.tree.map(lambda v: v + 0.1 * jnp.arange(v.size).reshape(v.shape),
                           variables)
  np.testing.assert_array_equal(jax.jit(layer.apply)(variables, x),
                                jax.jit(flax_fn)(variables, x))


@needs_onednn
@pytest.mark.parametrize("activation", [None, "swish"])
def test_the_layer_on_the_cpu_backend_matches_flax(activation):
  x, _, _ = _inputs((3, 6, 6, 16), seed=5)
  layer, flax_fn = _layer_pair(activation)
  variables = layer.init(jax.random.key(0), x)
  variables = jax.tree.map(lambda v: v + 0.1 * jnp.arange(v.size).reshape(v.shape),
                           variables)
  loss = lambda fn: jax.jit(jax.value_and_grad(
      lambda v, x: jnp.sum(jnp.sin(fn(v, x))), (0, 1)))
  with nets.using_cpu_convolutions("onednn"):
    assert "GenJaxGroupNorm" in jax.jit(layer.apply).lower(variables, x).as_text()
    got = loss(layer.apply)(variables, x)
  want = loss(flax_fn)(variables, x)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    _close(g, w)


@needs_onednn
def test_layers_the_kernels_do_not_cover_stay_flax():
  """group_size, masks and non-float32 inputs are flax.linen's module even on the backend."""
  x, _, _ = _inputs((2, 4, 4, 8), seed=6)
  with nets.using_cpu_convolutions("onednn"):
    for layer, inputs in ((nets.GroupNorm(num_groups=None, group_size=2), x),
                          (nets.GroupNorm(num_groups=2), x.astype(jnp.bfloat16))):
      variables = layer.init(jax.random.key(0), inputs)
      lowered = jax.jit(layer.apply).lower(variables, inputs).as_text()
      assert "GenJaxGroupNorm" not in lowered
      flax_layer = nn.GroupNorm(num_groups=layer.num_groups, group_size=layer.group_size)
      np.testing.assert_array_equal(layer.apply(variables, inputs),
                                    flax_layer.apply(variables, inputs))


def test_bad_input_is_named():
  x, s, b = _inputs((2, 4, 4, 6))
  with pytest.raises(ValueError, match="activation"):
    nets.GroupNorm(num_groups=2, activation="relu").init(jax.random.key(0), x)
  with pytest.raises(ValueError, match=r"activation must be one of"):
    native.group_norm(x, s, b, num_groups=2, activation="gelu")
  with pytest.raises(ValueError, match=r"C divisible by num_groups=4; got x \(2, 4, 4, 6\)"):
    native.group_norm(x, s, b, num_groups=4)
  with pytest.raises(ValueError, match=r"float32 x .* got x \(2, 4, 4, 6\) int32"):
    native.group_norm(x.astype(jnp.int32), s, b, num_groups=2)
  with pytest.raises(ValueError, match=r"scale must be float32 \[6\], got \(5,\)"):
    native.group_norm(x, s[:5], b, num_groups=2)
