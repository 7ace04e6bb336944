"""`Conv` and `ConvTranspose`: the one convolution entry point of gen_jax's models.

Same attributes, parameters (names, shapes, dtypes, initializers) and function as
`flax.linen.Conv` / `flax.linen.ConvTranspose`, so weights move freely between them, plus
nothing model code has to choose: each layer picks the fastest exact implementation by
itself.

* **Fast path** (`gen_jax.nets.fast_conv`): 2-D NHWC layers with one batch axis, float32
  compute, no input/kernel dilation, one feature group, padding 'SAME', 'VALID', an int
  or explicit (low, high) pairs, with or without a `mask`. On the CPU it computes
  transposed convolutions by phases, their weight gradients by the adjoint, the input
  gradients of strided convolutions by phases and the 1-channel image layers by im2col
  (measured gains in fast_conv's docstring); elsewhere it is XLA's own convolution.
  The choice between the two is made when a jit is lowered, for the platform it runs on
  (`lax.platform_dependent`), not from `jax.default_backend()`.
  A concrete `mask` (a NumPy array: `jnp.asarray` inside a jit makes a tracer, which is
  used as is) whose outer kernel rows / columns are zero (PixelCNN's causal masks:
  a 7×7 type-A kernel only reads rows −3…0, a 3×3 type-B one rows −1…0, a 1×k horizontal
  one columns ≤ 0) is applied as the convolution with the kernel cropped to the mask's
  support and the padding shifted to match (`_mask_support`): the same sums without the
  taps the mask zeroes (4/7 and 2/3 of the FLOPs of those layers), on every platform.
  Measured (one core, batch 128, 28×28, fwd+bwd): 3×3 type B 32 → 32 121.6 → 100.7 ms,
  7×7 type A 1 → 32 89.0 → 52.9 ms; the whole PixelCNN train step 658 → 545 ms.
* **oneDNN on the CPU, opt-in** (`gen_jax.nets.set_cpu_convolutions("onednn")` or
  GEN_JAX_CPU_CONVOLUTIONS=onednn, read when a layer is traced): the fast-path layers'
  CPU lowerings call oneDNN's forward, backward-data and backward-weights kernels
  through XLA's FFI instead (`gen_jax.nets.onednn`; PixelCNN's train step at batch 128,
  2 cores: 257 → 217 ms and 246 → 214 ms in two interleaved runs).
  Not the default because its sums run in another float32 order than the kernels the
  README's results were produced with.
* **Everything else** (dilations, feature groups, 'CIRCULAR' / 'REFLECT' / 'CAUSAL'
  padding, other spatial ranks or several batch axes, bfloat16 or other compute dtypes)
  is computed by flax.linen's own module on this layer's parameters: exactly Flax.

All paths support reverse mode (any order), forward mode (`jax.jvp`, `jax.jacfwd`) and
`vmap`.

Dtypes follow flax.linen: parameters are stored in `param_dtype`; the input, masked kernel
and bias are promoted to `dtype` (or, if None, to their common type).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.linen import dtypes as flax_dtypes
from flax.linen import linear as flax_linear

from gen_jax.nets import fast_conv

Array = jax.Array
Initializer = Callable[..., Array]

# Private hook (benchmarks, tests): while set, every layer is computed by flax.linen's own
# module, i.e. XLA's own convolutions. Read when a layer is traced. See
# `_xla_convolutions`.
_FORCE_XLA = False


@contextlib.contextmanager
def _xla_convolutions():
  """Private: layers traced inside this context use flax.linen's Conv/ConvTranspose.

  For benchmarks/bench_dcgan.py's "plain flax.linen convs" baseline and for tests; model
  code never uses it. Only tracing is affected: trace (call a fresh jit) inside it.
  """
  global _FORCE_XLA
  previous, _FORCE_XLA = _FORCE_XLA, True
  try:
    yield
  finally:
    _FORCE_XLA = previous


def _tuple(value, n: int, name: str) -> tuple[int, ...]:
  if value is None:
    value = 1
  if isinstance(value, int):
    return (value,) * n
  value = tuple(value)
  if len(value) != n:
    raise ValueError(f"{name} must be an int or {n} ints (one per spatial axis), got "
                     f"{value}.")
  return value


def _check_input(module: nn.Module, x: Array, kernel_size: tuple[int, ...]) -> None:
  if x.ndim < len(kernel_size) + 1:
    raise ValueError(
        f"{type(module).__name__} with kernel_size {kernel_size} expects x "
        f"[batch..., {len(kernel_size)} spatial axes, C] (e.g. [N, H, W, C]), got shape "
        f"{x.shape}.")


def _check_mask(mask: Array | None, kernel_shape: tuple[int, ...], layout: str) -> None:
  if mask is not None and tuple(mask.shape) != tuple(kernel_shape):
    raise ValueError(f"mask must have the kernel's shape {tuple(kernel_shape)} "
                     f"({layout}), got {tuple(mask.shape)}.")


def _fast_padding(padding) -> Any:
  """Padding fast_conv takes ('SAME', 'VALID', ((lo, hi), (lo, hi))), or None."""
  padding = flax_linear.canonicalize_padding(padding, 2)
  if isinstance(padding, str):
    return padding if padding in ("SAME", "VALID") else None
  return tuple(tuple(pair) for pair in padding)


def _mask_support(mask: Array | None, kernel_hw: tuple[int, int]):
  """((r0, r1), (c0, c1)): the rows / columns of a concrete [kh, kw, ...] mask that hold a
  nonzero, or None when the mask is absent, traced, all zero or nowhere croppable."""
  if mask is None or isinstance(mask, jax.core.Tracer):
    return None
  nonzero = np.asarray(mask).reshape(kernel_hw + (-1,)).any(axis=-1)
  rows, cols = np.flatnonzero(nonzero.any(axis=1)), np.flatnonzero(nonzero.any(axis=0))
  if rows.size == 0:
    return None
  support = ((int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1))
  if support == ((0, kernel_hw[0]), (0, kernel_hw[1])):
    return None
  return support


def _crop_to_support(kernel: Array, pads, support):
  """The kernel cropped to rows r0:r1 and columns c0:c1, and the padding that gives the
  same output: output o reads input s·o − lo + t at tap t, so dropping the first r0 taps
  lowers lo by r0 and dropping the last kh − r1 lowers hi by as many (either may turn
  negative: a crop of the input, which XLA's convolution takes as such)."""
  (r0, r1), (c0, c1) = support
  (lo_h, hi_h), (lo_w, hi_w) = pads
  kh, kw = kernel.shape[:2]
  pads = ((lo_h - r0, hi_h - (kh - r1)), (lo_w - c0, hi_w - (kw - c1)))
  return kernel[r0:r1, c0:c1], pads


def _fast_dtype(*arrays, dtype) -> bool:
  """Whether the compute dtype (Flax's promotion) is float32, the measured case."""
  arrays = [a for a in arrays if a is not None]
  compute = dtype if dtype is not None else jnp.result_type(*arrays)
  return jnp.dtype(compute) == jnp.float32


class _ConvBase(nn.Module):
  features: int
  kernel_size: int | Sequence[int]
  padding: Any = "SAME"
  kernel_dilation: None | int | Sequence[int] = 1
  use_bias: bool = True
  mask: Array | None = None
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: Any = None
  kernel_init: Initializer = nn.linear.default_kernel_init
  bias_init: Initializer = nn.initializers.zeros_init()

  def _kernel_and_bias(self, kernel_shape: tuple[int, ...], layout: str):
    """The parameters, named and shaped as flax.linen's (mask checked against the kernel)."""
    _check_mask(self.mask, kernel_shape, layout)
    kernel = self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype)
    bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
            if self.use_bias else None)
    return kernel, bias

  def _flax_layer(self, cls, kernel: Array, bias: Array | None, x: Array) -> Array:
    """The fallback: flax.linen's own layer (which applies the mask) on these parameters."""
    params = {"kernel": kernel, **({"bias": bias} if bias is not None else {})}
    layer = cls(**{name: getattr(self, name) for name in self._FIELDS}, parent=None)
    return layer.apply({"params": params}, x)

  def _fast_operands(self, x: Array, kernel: Array, bias: Array | None):
    """(x, masked kernel, bias) promoted to the compute dtype, as flax.linen does."""
    if self.mask is not None:
      kernel = kernel * self.mask
    return flax_dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)

  def _finish(self, y: Array, bias: Array | None) -> Array:
    if bias is not None:
      y = y + bias
    return y


class Conv(_ConvBase):
  """`flax.linen.Conv` (same attributes and parameters), fast where exact.

  Attributes (flax.linen.Conv's): features; kernel_size; strides; padding ('SAME',
  'VALID', 'CIRCULAR', 'REFLECT', 'CAUSAL', an int or (low, high) pairs); input_dilation;
  kernel_dilation; feature_group_count; use_bias; mask (an array of the kernel's shape
  [*kernel_size, C / feature_group_count, features], multiplied into the kernel before
  use: masked convolutions as in PixelCNN); dtype (compute); param_dtype (storage);
  precision; kernel_init; bias_init.

  Call: x [batch..., *spatial, C] -> [batch..., *spatial', features].
  """
  strides: None | int | Sequence[int] = 1
  input_dilation: None | int | Sequence[int] = 1
  feature_group_count: int = 1

  _FIELDS = ("features", "kernel_size", "strides", "padding", "input_dilation",
             "kernel_dilation", "feature_group_count", "use_bias", "mask", "dtype",
             "param_dtype", "precision", "kernel_init", "bias_init")

  @nn.compact
  def __call__(self, x: Array) -> Array:
    kernel_size = _tuple(self.kernel_size, 1 if isinstance(self.kernel_size, int)
                         else len(self.kernel_size), "kernel_size")
    _check_input(self, x, kernel_size)
    n = len(kernel_size)
    if x.shape[-1] % self.feature_group_count:
      raise ValueError(f"x's {x.shape[-1]} channels must be divisible by "
                       f"feature_group_count={self.feature_group_count}.")
    kernel_shape = kernel_size + (x.shape[-1] // self.feature_group_count, self.features)
    kernel, bias = self._kernel_and_bias(
        kernel_shape, "[*kernel_size, C / feature_group_count, features]")
    padding = _fast_padding(self.padding) if n == 2 else None
    fast = (not _FORCE_XLA and x.ndim == 4 and n == 2 and padding is not None
            and self.feature_group_count == 1
            and _tuple(self.input_dilation, n, "input_dilation") == (1, 1)
            and _tuple(self.kernel_dilation, n, "kernel_dilation") == (1, 1)
            and _fast_dtype(x, kernel, bias, dtype=self.dtype))
    if not fast:
      return self._flax_layer(nn.Conv, kernel, bias, x)
    x, kernel, bias = self._fast_operands(x, kernel, bias)
    strides = _tuple(self.strides, 2, "strides")
    support = _mask_support(self.mask, kernel_size)
    if support is not None:
      pads = fast_conv._resolve(padding, kernel_size, strides, x.shape[1:3],  # pylint: disable=protected-access
                                transposed=False)
      kernel, padding = _crop_to_support(kernel, pads, support)
    y = fast_conv.conv2d(x, kernel, strides=strides, padding=padding,
                         precision=self.precision)
    return self._finish(y, bias)


class ConvTranspose(_ConvBase):
  """`flax.linen.ConvTranspose` (same attributes and parameters), fast where exact.

  Attributes (flax.linen.ConvTranspose's): features; kernel_size; strides; padding
  ('SAME', 'VALID', 'CIRCULAR', an int or (low, high) pairs of the stride-dilated input,
  as in `lax.conv_transpose`); kernel_dilation; use_bias; mask (an array of the kernel's
  shape, multiplied into it before use); dtype; param_dtype; precision; kernel_init;
  bias_init; transpose_kernel (kernel [*kernel_size, features, C], flipped: the
  gradient of a Conv with that kernel).

  Call: x [batch..., *spatial, C] -> [batch..., *spatial', features].
  """
  strides: None | int | Sequence[int] = None
  transpose_kernel: bool = False

  _FIELDS = ("features", "kernel_size", "strides", "padding", "kernel_dilation", "use_bias",
             "mask", "dtype", "param_dtype", "precision", "kernel_init", "bias_init",
             "transpose_kernel")

  @nn.compact
  def __call__(self, x: Array) -> Array:
    kernel_size = _tuple(self.kernel_size, 1 if isinstance(self.kernel_size, int)
                         else len(self.kernel_size), "kernel_size")
    _check_input(self, x, kernel_size)
    n = len(kernel_size)
    if self.transpose_kernel:
      kernel_shape, layout = kernel_size + (self.features, x.shape[-1]), "[*kernel_size, " \
          "features, C] (transpose_kernel=True)"
    else:
      kernel_shape, layout = kernel_size + (x.shape[-1], self.features), "[*kernel_size, " \
          "C, features]"
    kernel, bias = self._kernel_and_bias(kernel_shape, layout)
    padding = _fast_padding(self.padding) if n == 2 else None
    fast = (not _FORCE_XLA and x.ndim == 4 and n == 2 and padding is not None
            and _tuple(self.kernel_dilation, n, "kernel_dilation") == (1, 1)
            and _fast_dtype(x, kernel, bias, dtype=self.dtype))
    if not fast:
      return self._flax_layer(nn.ConvTranspose, kernel, bias, x)
    x, kernel, bias = self._fast_operands(x, kernel, bias)
    if self.transpose_kernel:  # lax.conv_transpose flips the kernel and swaps its I/O
      kernel = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)
    y = fast_conv.conv_transpose2d(x, kernel, strides=_tuple(self.strides, 2, "strides"),
                                   padding=padding, precision=self.precision)
    return self._finish(y, bias)


__all__ = ["Conv", "ConvTranspose"]
