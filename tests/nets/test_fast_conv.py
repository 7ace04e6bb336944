"""Tests for gen_jax/nets/fast_conv.py (through gen_jax.nets.Conv / ConvTranspose, whose
fast path it is): outputs and gradients equal flax.linen's Conv and ConvTranspose, and the
phase decomposition equals XLA's input-dilated convolution."""

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gen_jax import nets
from gen_jax.nets import fast_conv

# Both sides are float32 sums of the same products in different orders, so they agree
# to a few ulps of the tensor's magnitude: tolerance 1e-5 × max|reference| (≈ 80 ulps).
TOLERANCE = 1e-5
DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _assert_close(got, want, name):
  scale = float(jnp.max(jnp.abs(want)))
  np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE * scale, err_msg=name)


def _compare(ref_module, fast_module, x_shape, seed):
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.normal(size=x_shape), jnp.float32)
  variables = ref_module.init(jax.random.key(seed), x)
  # Non-zero bias, so its gradient path is exercised too.
  variables = jax.tree.map(lambda v: v + 0.1, variables)
  fast_variables = fast_module.init(jax.random.key(seed), x)
  assert (jax.tree.map(jnp.shape, fast_variables) == jax.tree.map(jnp.shape, variables))

  @jax.jit
  def both(variables, x, cotangent):
    outs, grads = [], []
    for module in (ref_module, fast_module):
      y, vjp = jax.vjp(lambda v, inp: module.apply(v, inp), variables, x)
      outs.append(y)
      grads.append(vjp(cotangent))
    return outs, grads

  y_shape = jax.eval_shape(ref_module.apply, variables, x).shape
  cotangent = jnp.asarray(rng.normal(size=y_shape), jnp.float32)
  (y_ref, y_fast), ((dv_ref, dx_ref), (dv_fast, dx_fast)) = both(variables, x, cotangent)
  assert y_fast.shape == y_ref.shape
  _assert_close(y_fast, y_ref, "output")
  _assert_close(dx_fast, dx_ref, "input gradient")
  _assert_close(dv_fast["params"]["kernel"], dv_ref["params"]["kernel"], "kernel gradient")
  if "bias" in dv_ref["params"]:
    _assert_close(dv_fast["params"]["bias"], dv_ref["params"]["bias"], "bias gradient")


# Feature counts on both sides of fast_conv's switches: phases for ≥ 16 output channels,
# im2col for patches (kh·kw·C) of ≤ 64 values.
CASES = [
    (4, 2, (7, 6), 8, 1),      # an image layer: 1 channel, im2col (of the adjoint)
    (3, 2, (5, 4), 6, 2),      # odd kernel, few channels
    (4, 2, (7, 6), 3, 5),      # the DCGAN layer shape, few channels: XLA's dilated conv
    (4, 2, (7, 6), 5, 16),     # the DCGAN layer by phases
    (5, 2, (4, 4), 3, 16),     # odd kernel: asymmetric 'SAME' padding, uneven phases
    (3, 1, (5, 5), 4, 16),     # stride 1
    (2, 3, (3, 4), 3, 17),     # stride > kernel: phases without taps
    (6, 3, (4, 5), 2, 16),     # kernel a multiple of the stride, s² = 9 phases
]


@pytest.mark.parametrize("kernel,stride,in_hw,in_features,features", CASES)
def test_conv_transpose_matches_flax(kernel, stride, in_hw, in_features, features):
  kwargs = dict(features=features, kernel_size=(kernel, kernel), strides=(stride, stride),
                padding="SAME")
  _compare(nn.ConvTranspose(**kwargs), nets.ConvTranspose(**kwargs),
           (2,) + in_hw + (in_features,), seed=10 + kernel)


@pytest.mark.parametrize("kernel,stride,in_hw,in_features,features", CASES)
def test_conv_matches_flax(kernel, stride, in_hw, in_features, features):
  # The input gradient is the transposed conv back to `in_features` channels: swap the
  # counts so that both the dilated and the phase path are taken.
  kwargs = dict(features=in_features, kernel_size=(kernel, kernel), strides=(stride, stride),
                padding="SAME", use_bias=kernel != 5)
  in_hw = tuple(stride * n + 1 for n in in_hw)  # odd sides: uneven 'SAME' padding
  _compare(nn.Conv(**kwargs), nets.Conv(**kwargs), (2,) + in_hw + (features,),
           seed=20 + kernel)


@pytest.mark.parametrize("kernel,stride,size", itertools.product((2, 3, 4), (2, 3), (3, 4)))
def test_phases_equal_the_input_dilated_conv_for_any_padding(kernel, stride, size):
  rng = np.random.default_rng(kernel * 10 + stride + size)
  x = jnp.asarray(rng.normal(size=(2, size, size + 1, 3)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(kernel, kernel, 3, 4)), jnp.float32)
  phases = jax.jit(fast_conv.transposed_conv_by_phases, static_argnums=(2, 3))
  for pads in itertools.product(range(4), repeat=2):
    padding = ((pads[0], pads[1]), (pads[1], pads[0]))
    want = lax.conv_general_dilated(x, w, (1, 1), padding, lhs_dilation=(stride, stride),
                                    dimension_numbers=DIMENSIONS)
    got = phases(x, w, (stride, stride), padding)
    assert got.shape == want.shape, padding
    _assert_close(got, want, f"padding {padding}")


@pytest.mark.parametrize("n,k,s", itertools.product((5, 6, 7, 14), (1, 2, 3, 4, 5), (1, 2, 3)))
def test_same_paddings_match_lax(n, k, s):
  assert [fast_conv.conv_padding(n, k, s)] == lax.padtype_to_pads((n,), (k,), (s,), "SAME")
  x = jnp.ones((1, n, 1, 1))
  w = jnp.ones((k, 1, 1, 1))
  low, high = fast_conv.conv_transpose_padding(k, s)
  got = lax.conv_general_dilated(x, w, (1, 1), ((low, high), (0, 0)), lhs_dilation=(s, 1),
                                 dimension_numbers=DIMENSIONS)
  want = lax.conv_transpose(x, w, (s, 1), "SAME", dimension_numbers=DIMENSIONS)
  np.testing.assert_array_equal(got, want)


def test_functions_under_jit_and_validation():
  rng = np.random.default_rng(3)
  x = jnp.asarray(rng.normal(size=(2, 3, 3, 2)), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=(4, 4, 2, 16)), jnp.float32)
  got = jax.jit(lambda x, k: fast_conv.conv_transpose2d(x, k, strides=2))(x, kernel)
  want = lax.conv_transpose(x, kernel, (2, 2), "SAME", dimension_numbers=DIMENSIONS)
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)
  got = jax.jit(lambda x, k: fast_conv.conv2d(x, k, strides=2))(x, kernel)
  want = lax.conv_general_dilated(x, kernel, (2, 2), "SAME", dimension_numbers=DIMENSIONS)
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)
  for function in (fast_conv.conv_transpose2d, fast_conv.conv2d):
    with pytest.raises(ValueError, match=r"kernel \[kh, kw, C, F\]"):
      function(x, kernel[:, :, :1])
    with pytest.raises(ValueError, match="strides"):
      function(x, kernel, strides=(2, 2, 2))


def test_second_order_gradients_match_flax():
  """The penalties (WGAN-GP, DRAGAN) and the unrolled GAN differentiate gradients."""
  rng = np.random.default_rng(5)
  x = jnp.asarray(rng.normal(size=(2, 8, 8, 16)), jnp.float32)
  modules = [(nn.Conv(16, (4, 4), strides=2), nn.ConvTranspose(16, (4, 4), strides=2)),
             (nets.Conv(16, (4, 4), strides=2), nets.ConvTranspose(16, (4, 4), strides=2))]
  variables = [m.init(jax.random.key(i), x if i == 0 else jnp.zeros((2, 4, 4, 16)))
               for i, m in enumerate(modules[0])]

  def penalty(v, modules):
    conv, deconv = modules
    critic = lambda inp: jnp.sum(jnp.tanh(deconv.apply(v[1], conv.apply(v[0], inp))))
    grad_x = jax.grad(critic)(x)
    return jnp.sum(jnp.square(grad_x))

  want, got = (jax.jit(jax.grad(lambda v, m=m: penalty(v, m)))(variables) for m in modules)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    _assert_close(g, w, "gradient of the input-gradient norm")


def _convolutions(function, *args, platform="cpu"):
  """The lowered stablehlo.convolution ops of jit(function) for `platform`."""
  exported = jax.export.export(jax.jit(function), platforms=(platform,))(*args)
  return [line for line in exported.mlir_module().splitlines()
          if "stablehlo.convolution" in line]


def test_the_platform_a_computation_is_lowered_for_picks_the_form():
  """CPU: the rewrites; other platforms (lowered here without the device): lax's ops."""
  rng = np.random.default_rng(6)
  x = jnp.asarray(rng.normal(size=(2, 6, 6, 16)), jnp.float32)
  image = jnp.asarray(rng.normal(size=(2, 12, 12, 1)), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=(4, 4, 16, 16)), jnp.float32)
  deconv = lambda x, k: fast_conv.conv_transpose2d(x, k, strides=2)
  conv = lambda x, k: fast_conv.conv2d(x, k[:, :, :1], strides=2)
  # CPU: 4 phases; im2col (a dot, no convolution) for the image layer.
  assert len(_convolutions(deconv, x, kernel)) == 4
  assert len(_convolutions(conv, image, kernel)) == 0
  for platform in ("cuda", "tpu"):
    (op,) = _convolutions(deconv, x, kernel, platform=platform)
    assert "lhs_dilate = [2, 2]" in op
    assert len(_convolutions(conv, image, kernel, platform=platform)) == 1
  # The private hook forces either form; values agree.
  want = lax.conv_transpose(x, kernel, (2, 2), "SAME", dimension_numbers=DIMENSIONS)
  for form, count in (("xla", 1), ("cpu", 4)):
    with fast_conv._forced_form(form):  # read at trace time: trace a fresh function
      fresh = lambda x, k: fast_conv.conv_transpose2d(x, k, strides=2)
      assert len(_convolutions(fresh, x, kernel, platform="cuda")) == count
      np.testing.assert_allclose(jax.jit(fresh)(x, kernel), want, rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="form"):
    with fast_conv._forced_form("gpu"):
      pass


def test_computation_placed_on_a_cpu_device_takes_the_cpu_form():
  device = jax.devices("cpu")[1]
  x = jax.device_put(jnp.ones((2, 6, 6, 16)), device)
  kernel = jax.device_put(jnp.ones((4, 4, 16, 16)), device)
  f = jax.jit(lambda x, k: fast_conv.conv_transpose2d(x, k, strides=2))
  assert f.lower(x, kernel).as_text().count("stablehlo.convolution") == 4  # phases
  assert f(x, kernel).devices() == {device}


def test_stride_one_convolutions_are_xla_own_with_their_derivatives():
  """Stride 1 (patches above the im2col size) is lax's convolution: value and both
  gradients equal XLA's bit for bit on the CPU form."""
  rng = np.random.default_rng(5)
  x = jnp.asarray(rng.standard_normal((3, 9, 8, 12)), jnp.float32)
  kernel = jnp.asarray(rng.standard_normal((2, 3, 12, 5)), jnp.float32)
  cot = jnp.asarray(rng.standard_normal((3, 9, 8, 5)), jnp.float32)
  pads = ((1, 0), (1, 1))

  def pulled(conv):
    y, pull = jax.vjp(conv, x, kernel)
    return (y, *pull(cot))

  with fast_conv._forced_form("cpu"):  # pylint: disable=protected-access
    fast = jax.jit(lambda: pulled(lambda a, b: fast_conv.conv2d(a, b, padding=pads)))()
  plain = jax.jit(lambda: pulled(lambda a, b: lax.conv_general_dilated(
      a, b, (1, 1), pads, dimension_numbers=("NHWC", "HWIO", "NHWC"))))()
  for got, want in zip(fast, plain):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
