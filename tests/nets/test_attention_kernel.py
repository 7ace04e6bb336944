"""Tests for gen_jax.nets.onednn.attention (attention.cc) and `unet.qkv_attention`.

References: softmax attention in NumPy float64 (forward) and autodiff of the plain-JAX
`reference` (derivatives); the kernels multiply with oneDNN in another summation order, so
they agree to 1e-5 × the reference's magnitude.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import nets
from gen_jax.nets import onednn
from gen_jax.nets import unet
from gen_jax.nets.onednn import attention as native

needs_onednn = pytest.mark.skipif(not onednn.available(),
                                  reason=f"oneDNN extension: {onednn.unavailable_reason()}")


def _close(got, want, name="", tolerance=1e-5):
  scale = float(np.max(np.abs(want)))
  np.testing.assert_allclose(got, want, rtol=0, atol=tolerance * scale, err_msg=name)


def _numpy_attention(qkv):
  qkv = np.asarray(qkv, np.float64)
  q, k, v = np.split(qkv, 3, axis=-1)
  w = np.einsum("bqc,bkc->bqk", q, k) / np.sqrt(q.shape[-1])
  p = np.exp(w - w.max(-1, keepdims=True))
  return np.einsum("bqk,bkc->bqc", p / p.sum(-1, keepdims=True), v)


# [B, N, 3C]: N off the 16-lane width, N = 1, odd C, the UNet's 14×14 positions.
SHAPES = [(3, 10, 24), (2, 37, 15), (5, 1, 6), (2, 196, 24), (1, 17, 48)]


def _qkv(shape, seed=0):
  return jnp.asarray(np.random.default_rng(seed).normal(0, 2.0, shape), jnp.float32)


@pytest.mark.parametrize("shape", SHAPES)
def test_reference_matches_numpy(shape):
  qkv = _qkv(shape)
  _close(jax.jit(native.reference)(qkv), _numpy_attention(qkv))


@needs_onednn
@pytest.mark.parametrize("shape", SHAPES)
def test_kernels_match_numpy_and_autodiff_of_the_reference(shape):
  qkv = _qkv(shape, seed=1)
  fwd = jax.jit(native.attention)
  assert "GenJaxAttention" in fwd.lower(qkv).as_text()
  _close(fwd(qkv), _numpy_attention(qkv), "forward")
  dout = jnp.asarray(np.random.default_rng(2).normal(size=(*shape[:2], shape[2] // 3)),
                     jnp.float32)
  vjp = jax.jit(lambda x: jax.vjp(native.attention, x)[1](dout)[0])
  assert "GenJaxAttentionVjp" in vjp.lower(qkv).as_text()
  _close(vjp(qkv), jax.jit(lambda x: jax.vjp(native.reference, x)[1](dout)[0])(qkv), "vjp")


@needs_onednn
def test_large_logits_do_not_overflow():
  """Softmax subtracts the row maximum: logits of ±1e4 give the one-hot average."""
  qkv = _qkv((2, 9, 12), seed=3).at[..., :4].multiply(300.0).at[..., 4:8].multiply(300.0)
  _close(jax.jit(native.attention)(qkv), _numpy_attention(qkv))


@needs_onednn
def test_forward_mode_second_order_and_vmap_match_the_reference():
  qkv = _qkv((3, 11, 12), seed=4)
  t = _qkv((3, 11, 12), seed=5)
  _close(jax.jit(lambda x: jax.jvp(native.attention, (x,), (t,))[1])(qkv),
         jax.jvp(native.reference, (qkv,), (t,))[1], "jvp")
  second = lambda fn: jax.jit(jax.grad(
      lambda x: jnp.sum(jax.grad(lambda x: jnp.sum(jnp.sin(fn(x))))(x) ** 2)))
  _close(second(native.attention)(qkv), second(native.reference)(qkv), "grad of grad")
  batched = jax.jit(jax.vmap(native.attention))(jnp.stack([qkv, 2 * qkv]))
  _close(batched[1], native.reference(2 * qkv), "vmap")


def test_qkv_attention_is_split_then_attention_by_default():
  qkv = _qkv((2, 16, 24), seed=6)
  q, k, v = jnp.split(qkv, 3, axis=-1)
  np.testing.assert_array_equal(jax.jit(unet.qkv_attention)(qkv),
                                jax.jit(unet.attention)(q, k, v))


@needs_onednn
def test_attention_block_on_the_cpu_backend_matches_the_default():
  """A UNet attention block (GroupNorm, q/k/v Dense, attention, output Dense): value and
  gradients on the backend (all three kernels) against the default computation."""
  block = unet.AttentionBlock(num_groups=4)
  x = _qkv((2, 6, 6, 16), seed=7)
  variables = block.init(jax.random.key(0), x)
  variables = jax.tree.map(lambda v: v + 0.05 * jnp.cos(jnp.arange(v.size)).reshape(v.shape),
                           variables)
  # A fresh function per backend: jit caches traces, and the backend is read when tracing.
  loss = lambda: jax.jit(jax.value_and_grad(
      lambda v, x: jnp.sum(jnp.sin(block.apply(v, x))), (0, 1)))
  want = loss()(variables, x)
  with nets.using_cpu_convolutions("onednn"):
    lowered = loss().lower(variables, x).as_text()
    got = loss()(variables, x)
  for target in ("GenJaxAttention", "GenJaxAttentionVjp", "GenJaxGroupNorm",
                 "GenJaxOnednnConv"):
    assert target in lowered, target
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    _close(g, w, tolerance=2e-5)


def test_bad_input_is_named():
  with pytest.raises(ValueError, match=r"float32 qkv \[B, N, 3C\]; got \(2, 5, 7\)"):
    native.attention(jnp.zeros((2, 5, 7)))
  with pytest.raises(ValueError, match=r"got \(2, 5, 6\) int32"):
    native.attention(jnp.zeros((2, 5, 6), jnp.int32))
