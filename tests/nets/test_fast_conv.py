"""Tests for gen_jax/nets/fast_conv.py: outputs and gradients equal flax.linen.ConvTranspose."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nets import fast_conv

# Both sides are float32 sums of the same products in different orders, so they agree
# to a few ulps of the tensor's magnitude: tolerance 1e-5 × max|reference| (≈ 80 ulps).
TOLERANCE = 1e-5


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


@pytest.mark.parametrize("kernel,stride,in_hw,use_bias", [
    (4, 2, (7, 6), True),      # the DCGAN layer, 7 -> 14
    (5, 2, (4, 4), True),      # odd kernel: asymmetric 'SAME' padding of the dilation
    (3, 1, (5, 5), False),     # stride 1
    (2, 3, (3, 4), True),      # stride > kernel: taps that skip outputs
])
def test_conv_transpose_matches_flax(kernel, stride, in_hw, use_bias):
  kwargs = dict(features=3, kernel_size=(kernel, kernel), strides=(stride, stride),
                padding="SAME", use_bias=use_bias)
  _compare(nn.ConvTranspose(**kwargs), fast_conv.ConvTranspose(**kwargs),
           (2,) + in_hw + (6,), seed=10 + kernel)


def test_conv_transpose2d_function_under_jit_and_validation():
  rng = np.random.default_rng(3)
  x = jnp.asarray(rng.normal(size=(2, 3, 3, 2)), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=(4, 4, 2, 3)), jnp.float32)
  got = jax.jit(lambda x, k: fast_conv.conv_transpose2d(x, k, strides=2))(x, kernel)
  want = jax.lax.conv_transpose(x, kernel, (2, 2), "SAME",
                                dimension_numbers=("NHWC", "HWIO", "NHWC"))
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
  with pytest.raises(ValueError, match="kernel"):
    fast_conv.conv_transpose2d(x, kernel[:, :, :1])


def test_conv_transpose_rejects_other_padding():
  with pytest.raises(ValueError, match="SAME"):
    fast_conv.ConvTranspose(2, (4, 4), strides=2, padding="VALID").init(
        jax.random.key(0), jnp.zeros((1, 4, 4, 1)))
