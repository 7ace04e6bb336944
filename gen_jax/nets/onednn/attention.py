"""Single-head self-attention from packed q|k|v by C++ kernels (attention.cc) on the CPU, for
the opt-in CPU backend of `gen_jax.nets` (`set_cpu_convolutions("onednn")`).

`attention(qkv)` = softmax(q kᵀ / √C) v for qkv [B, N, 3C] = [q | k | v] (the output of a
UNet attention block's q/k/v projection): per example, oneDNN's matmuls and a vectorized
softmax, the [N, N] matrices kept in cache; the backward pass recomputes them rather than
storing [B, N, N] arrays, and writes dq, dk, dv into one [B, N, 3C] cotangent (no split and
concatenation around the kernels). A `KernelOp` (kernel_op.py): every autodiff mode and
`vmap`; `reference` is the plain-JAX form the other platforms lower to. Results equal
`reference` up to float32 rounding and do not depend on the thread count (one example per
work item).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax.nets.onednn.kernel_op import KernelOp

Array = jax.Array


def attention_reference(q: Array, k: Array, v: Array) -> Array:
  """softmax(q kᵀ / √C) v for q, k, v [B, N, C], by autodiff-able einsums (the plain form
  `gen_jax.nets.unet.attention` and these kernels equal)."""
  w = jnp.einsum("bqc,bkc->bqk", q, k) * (q.shape[-1] ** -0.5)
  return jnp.einsum("bqk,bkc->bqc", jax.nn.softmax(w, axis=-1), v)


def reference(qkv: Array) -> Array:
  """`attention_reference` of the thirds q, k, v of qkv's last axis."""
  return attention_reference(*jnp.split(qkv, 3, axis=-1))


attention_op = KernelOp("gen_jax_attention", reference, num_inputs=1)


def register_cpu_lowerings(targets: dict) -> None:
  """Lower the forward and vjp primitives to the C++ handlers (called once loaded)."""
  attention_op.register_cpu(targets["attention"], targets["attention_vjp"])


def supports(qkv_shape, dtype) -> bool:
  """Whether the kernels compute this attention: float32 [B, N, 3C], N, C ≥ 1."""
  return (len(qkv_shape) == 3 and jnp.dtype(dtype) == jnp.float32 and
          qkv_shape[-1] % 3 == 0 and min(qkv_shape) >= 1)


def attention(qkv: Array) -> Array:
  """softmax(q kᵀ / √C) v for qkv [B, N, 3C] = [q | k | v] -> [B, N, C]; the C++ kernels
  on the CPU (once the extension is loaded), `reference` elsewhere.

  Raises:
    ValueError: qkv not float32 [B, N, 3C].
  """
  if not supports(qkv.shape, qkv.dtype):
    raise ValueError(f"attention: expected float32 qkv [B, N, 3C]; got {qkv.shape} "
                     f"{qkv.dtype}.")
  from gen_jax.nets import onednn  # pylint: disable=import-outside-toplevel
  onednn.available()  # builds and registers the CPU kernels (else the CPU runs `reference`)
  return attention_op(qkv)


__all__ = ["attention", "attention_reference", "reference", "supports"]
