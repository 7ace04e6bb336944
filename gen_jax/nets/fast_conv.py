"""A transposed convolution with a fast weight gradient on XLA:CPU.

Why: XLA:CPU lowers the *weight gradient* of `lax.conv_transpose` to a convolution over
the s-dilated input that runs at ~1–6 GFLOP/s; for DCGAN's 7×7×128 → 14×14×64 layer at
batch 128 it alone takes 0.3–1 s, most of the train step. Ordinary strided
convolutions do not have this problem: XLA computes their forward pass, input gradient
and weight gradient at GEMM speed (100+ GFLOP/s on 2 cores).

The fix is exact algebra, via `custom_vjp`. With Flax's semantics
  y = conv_transpose(x, W),  y[o] = Σ_t W[t]·x_dil[o + t − lo]
(x dilated by s, 'SAME' padding lo, kernel not flipped), its adjoint in x is the
ordinary strided correlation A(dy; V) = conv(dy, V, stride s) with V = W flipped
spatially, in/out channels swapped (padding P = k − 1 − lo). So
  dx = A(dy; V),  and because ⟨dy, conv_transpose(x, W)⟩ = ⟨A(dy; V), x⟩,
  dW = flip/swap of ∂⟨A(dy; V), x⟩/∂V,
the weight gradient of an *ordinary* strided convolution (input dy, cotangent x) —
XLA's fast path. The forward pass stays `lax.conv_transpose`. Results equal XLA's own
gradients up to float32 summation order.

Alternatives measured on the DCGAN layer (2-core CPU, ms for the weight gradient; see
benchmarks/bench_dcgan.py for the whole step): XLA's own VJP ~280–1000; k·k GEMMs of x
with strided slices of dy, stacked in one batched GEMM ~34–50; this adjoint ~18.
Phase decomposition (s² stride-1 sub-convolutions) and im2col + GEMM forwards were
slower still: XLA:CPU concatenates strided slices at < 1 GB/s.

`ConvTranspose` mirrors `flax.linen.ConvTranspose` (NHWC, kernel [kh, kw, in, out],
same param names and shapes; padding 'SAME'), so params are interchangeable;
tests/nets/test_fast_conv.py checks outputs and gradients against Flax.
"""

import functools
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
Initializer = Callable[..., Array]
_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _pair(value, name: str) -> tuple[int, int]:
  if isinstance(value, int):
    return (value, value)
  value = tuple(int(v) for v in value)
  if len(value) != 2:
    raise ValueError(f"{name} must be an int or a pair, got {value}.")
  return value


def _same_lo(k: int, s: int) -> int:
  """Low padding of the dilated input in `lax.conv_transpose(..., 'SAME')`."""
  return k - 1 if s > k - 1 else -(-(k + s - 2) // 2)


def _conv_transpose(x: Array, kernel: Array, strides: tuple[int, int]) -> Array:
  return lax.conv_transpose(x, kernel, strides, "SAME", dimension_numbers=_DIMENSIONS)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv_transpose_adjoint_vjp(x: Array, kernel: Array, strides: tuple[int, int]) -> Array:
  return _conv_transpose(x, kernel, strides)


def _forward(x, kernel, strides):
  return _conv_transpose(x, kernel, strides), (x, kernel)


def _backward(strides, residuals, dy):
  x, kernel = residuals
  kh, kw = kernel.shape[:2]
  (sh, sw), (h, w), (ho, wo) = strides, x.shape[1:3], dy.shape[1:3]
  # The adjoint of x ↦ conv_transpose(x, W) is the strided correlation
  # A(dy; V) = conv(dy, V, stride s, pads (P, ·)) with V = W flipped spatially and with
  # in/out channels swapped, P = k − 1 − lo. Hence dx = A(dy; V), and since
  # ⟨dy, conv_transpose(x, W)⟩ = ⟨A(dy; V), x⟩ for all x, dy, the weight gradient is
  # the weight gradient of that *ordinary* strided conv at input dy with cotangent x.
  pads = []
  for k, s, n_in, n_out in ((kh, sh, h, ho), (kw, sw, w, wo)):
    low = k - 1 - _same_lo(k, s)
    pads.append((low, s * (n_in - 1) + k - low - n_out))
  adjoint_kernel = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)

  def adjoint(v):
    return lax.conv_general_dilated(dy, v, (sh, sw), pads, dimension_numbers=_DIMENSIONS)

  dx, adjoint_vjp = jax.vjp(adjoint, adjoint_kernel)
  (dv,) = adjoint_vjp(x)
  return dx, jnp.flip(dv, (0, 1)).transpose(0, 1, 3, 2)


_conv_transpose_adjoint_vjp.defvjp(_forward, _backward)


def conv_transpose2d(x: Array, kernel: Array, *, strides=(2, 2)) -> Array:
  """`lax.conv_transpose(x, kernel, strides, 'SAME')` (NHWC, HWIO) with a fast VJP.

  Args:
    x: [N, H, W, C] input.
    kernel: [kh, kw, C, F] kernel (Flax ConvTranspose layout, not flipped).
    strides: (sh, sw).
  Returns:
    [N, sh·H, sw·W, F], identical to Flax's ConvTranspose(padding='SAME'); the weight
    gradient equals XLA's up to float32 summation order.
  """
  if x.ndim != 4 or kernel.ndim != 4 or kernel.shape[2] != x.shape[3]:
    raise ValueError(f"expected x [N, H, W, C] and kernel [kh, kw, C, F], got "
                     f"{x.shape} and {kernel.shape}.")
  return _conv_transpose_adjoint_vjp(x, kernel, _pair(strides, "strides"))


class ConvTranspose(nn.Module):
  """Drop-in for `flax.linen.ConvTranspose(padding='SAME')` (2-D, NHWC), fast on CPU."""
  features: int
  kernel_size: Sequence[int]
  strides: Sequence[int] | int = 1
  padding: str = "SAME"
  use_bias: bool = True
  kernel_init: Initializer = nn.linear.default_kernel_init
  bias_init: Initializer = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, x: Array) -> Array:
    if self.padding != "SAME":
      raise ValueError(f"ConvTranspose supports padding='SAME' only, got "
                       f"{self.padding!r}; use flax.linen.ConvTranspose.")
    kh, kw = _pair(self.kernel_size, "kernel_size")
    kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features),
                        jnp.float32)
    y = conv_transpose2d(x, kernel.astype(x.dtype), strides=_pair(self.strides, "strides"))
    if self.use_bias:
      y = y + self.param("bias", self.bias_init, (self.features,), jnp.float32)
    return y
