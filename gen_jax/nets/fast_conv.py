"""Strided and transposed 2-D convolutions with fast forward and backward passes on XLA:CPU.

The fast path of `gen_jax.nets.Conv` / `ConvTranspose` (model code uses those, never this
module): the functions of `lax.conv_general_dilated` / `lax.conv_transpose` for 2-D NHWC
inputs, HWIO kernels, no dilation or groups, with 'SAME', 'VALID' or explicit (low, high)
padding (the phase and adjoint algebra below holds for any padding, including negative);
only the way XLA is asked to compute them differs. Four rewrites, each exact algebra
(results equal XLA's own up to float32 summation order; tests/nets/test_fast_conv.py and
test_convolution.py check outputs and derivatives against Flax):

1. **Transposed convolutions by phases.** XLA:CPU runs a transposed (input-dilated)
   convolution ~1.5× slower than an ordinary one of the same FLOPs. With stride s,
   output position o = s·i + p of y = conv_transpose(x, W) only meets the kernel taps
   t ≡ lo − p (mod s), so each of the s² output phases p is an ordinary stride-1
   correlation of x with the sub-kernel W[t₀(p)::s] (shifted by d_p); the phases are
   then interleaved:
     y[s·i + p] = Σ_u W[t₀ + s·u] · x[i + u + d_p].
   Same FLOPs, no multiplications by the dilation's zeros.
2. **Input gradient of a strided convolution** = a transposed convolution of the
   cotangent with the kernel flipped and its in/out channels swapped (low padding
   k − 1 − lo), computed by phases as in 1.
3. **Weight gradient of a transposed convolution** (the reason this module was written):
   XLA:CPU lowers it to a convolution over the s-dilated input at ~1–6 GFLOP/s. Its
   adjoint in x is the ordinary strided correlation A(dy; V) = conv(dy, V, stride s),
   V = W flipped and swapped, so ⟨dy, conv_transpose(x, W)⟩ = ⟨A(dy; V), x⟩ and dW is
   the weight gradient of that *ordinary* strided conv at input dy with cotangent x.
4. **Small patches by im2col.** A conv whose patch kh·kw·C has ≤ 64 values (the
   1-channel image layers) is one GEMM of its kh·kw strided views with the kernel; a
   transposed conv with few output channels is the linear transpose of such an im2col
   conv (its adjoint).

Derivatives: each rewritten function is a `jax.custom_jvp` whose tangent rule is linear
and written as JAX's transpose of the fast adjoint form (`_transpose_of`), so reverse
mode, transposing it back, computes the forms above (2, 3 and XLA's kernel gradient of
the strided conv), while forward mode (`jax.jvp`, `jax.jacfwd`), higher orders and
`vmap` work as for any JAX function.

With `gen_jax.nets.set_cpu_convolutions("onednn")` the CPU branch of `conv2d` and
`conv_transpose2d` calls oneDNN's kernels instead (`gen_jax.nets.onednn`; a transposed
conv as the backward-data kernel of its adjoint strided conv) wherever their padding is
one oneDNN takes; otherwise, and by default, the forms below.

The rewrites apply where a computation is lowered for the CPU (`lax.platform_dependent`,
decided per jit at lowering, so a computation placed on a CPU device gets them even when
an accelerator is the default backend); on GPU and TPU the functions are XLA's own
convolutions (no accelerator was available to measure the rewrites there).

Measured on the DCGAN layers (batch 128, 2-core CPU, the Eigen convolutions that
`gen_jax.training.compiler` selects; benchmarks/bench_dcgan.py times the whole step): the
7×7×128 → 14×14×64 transposed conv 15.9 ms as XLA's dilated conv, 11.2 ms by phases; the
input gradient of D's 14×14×64 → 7×7×128 conv 15.1 → 11.0 ms; the transposed conv's weight
gradient ~280–1000 → 11.5 ms by the adjoint (k·k GEMMs of x with strided slices of dy,
stacked in one batched GEMM: 34–50 ms). With the custom_jvp rules (this version), the
same layers under contention (interleaved, min of 5): transposed conv forward 5.6 ms /
backward 11.4 ms (custom_vjp version 6.9 / 11.2), D's conv forward 3.8 / backward 11.1
(4.5 / 13.5), the 14×14×64 → 28×28×1 image layer 0.36 / 0.54 (0.39 / 0.72). Phases lose below 16 output channels, where
XLA's dilated conv (or 4, for the image layers) is used. im2col + GEMM for the wide layers
was slower still: XLA:CPU's fused slices, pads and concatenations copy their 25 MB patch matrices at 1–3 GB/s.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax

from gen_jax.nets import onednn

Array = jax.Array
Padding = tuple[tuple[int, int], tuple[int, int]]
_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _pair(value, name: str) -> tuple[int, int]:
  if isinstance(value, int):
    return (value, value)
  value = tuple(int(v) for v in value)
  if len(value) != 2:
    raise ValueError(f"{name} must be an int or a pair, got {value}.")
  return value


# Private test hook: None lets each computation pick its form from the platform it is
# lowered for (`lax.platform_dependent`); "cpu" / "xla" force the CPU rewrites / XLA's own
# convolutions everywhere. Read at trace time. See `_forced_form`.
_FORM: str | None = None


@contextlib.contextmanager
def _forced_form(form: str | None):
  """Private: trace the functions below with the CPU rewrites ("cpu") or XLA's own
  convolutions ("xla") on every platform, or per platform (None, the default)."""
  global _FORM
  if form not in (None, "cpu", "xla"):
    raise ValueError(f"form must be None, 'cpu' or 'xla', got {form!r}.")
  previous, _FORM = _FORM, form
  try:
    yield
  finally:
    _FORM = previous


def _by_platform(cpu: Callable[..., Array], xla: Callable[..., Array], *operands) -> Array:
  """cpu(*operands) where the computation is lowered for the CPU, else xla(*operands).

  The choice is made when the jit is lowered, for the platform it runs on (a
  computation placed on a CPU device takes the rewrites even when the default backend
  is an accelerator, and vice versa); only the chosen branch is compiled.
  """
  if _FORM == "cpu":
    return cpu(*operands)
  if _FORM == "xla":
    return xla(*operands)
  return lax.platform_dependent(*operands, cpu=cpu, default=xla)


def _check_operands(x: Array, kernel: Array) -> None:
  if x.ndim != 4 or kernel.ndim != 4 or kernel.shape[2] != x.shape[3]:
    raise ValueError(f"expected x [N, H, W, C] and kernel [kh, kw, C, F], got "
                     f"{x.shape} and {kernel.shape}.")


def _flip_swap(kernel: Array) -> Array:
  """[kh, kw, I, O] -> spatially flipped [kh, kw, O, I]: the adjoint's kernel."""
  return jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)


def conv_padding(n: int, k: int, s: int) -> tuple[int, int]:
  """(low, high) padding of an ordinary conv with padding 'SAME' (XLA's / Flax's rule)."""
  out = -(-n // s)
  total = max((out - 1) * s + k - n, 0)
  return total // 2, total - total // 2


def conv_transpose_padding(k: int, s: int) -> tuple[int, int]:
  """(low, high) padding of the s-dilated input in `lax.conv_transpose(..., 'SAME')`."""
  low = k - 1 if s > k - 1 else -(-(k + s - 2) // 2)
  return low, k + s - 2 - low


def _dilated_conv(x: Array, kernel: Array, strides: tuple[int, int],
                  padding: Padding, precision=None) -> Array:
  """XLA's own transposed conv: stride-1 conv of the s-dilated, padded x (reference form)."""
  return lax.conv_general_dilated(x, kernel, (1, 1), padding, lhs_dilation=strides,
                                  dimension_numbers=_DIMENSIONS, precision=precision)


def _dilated_out_hw(in_hw, kernel_hw, strides, pads) -> list[int]:
  """Output size of the stride-1 conv over the s-dilated input padded by `pads`."""
  return [s * (n - 1) + 1 + lo + hi - k + 1
          for n, k, s, (lo, hi) in zip(in_hw, kernel_hw, strides, pads)]


def _phase_plan(n: int, k: int, s: int, low: int, high: int):
  """Per output phase p: (first tap t₀, input offset d_p, phase length), and the length.

  Output o = s·i + p of the dilated correlation meets input m only through the taps
  t ≡ low − p (mod s): m = i + u + d_p for tap t₀ + s·u.
  """
  (out,) = _dilated_out_hw((n,), (k,), (s,), ((low, high),))
  plan = []
  for p in range(s):
    t0 = (low - p) % s
    plan.append((t0, (p + t0 - low) // s, max(0, -(-(out - p) // s))))
  return plan, out


def transposed_conv_by_phases(x: Array, kernel: Array, strides: tuple[int, int],
                              padding: Padding) -> Array:
  """`_dilated_conv(x, kernel, strides, padding)` as s_h·s_w interleaved stride-1 convs.

  Args:
    x: [N, H, W, C]; kernel: [kh, kw, C, F] (not flipped); strides: (s_h, s_w);
    padding: ((lo, hi), (lo, hi)) of the dilated input, as in `lax.conv_general_dilated`.
  Returns:
    [N, H', W', F], H' = s_h(H − 1) + 1 + lo + hi − kh + 1 (likewise W').
  """
  (kh, kw), (sh, sw) = kernel.shape[:2], strides
  plan_h, out_h = _phase_plan(x.shape[1], kh, sh, *padding[0])
  plan_w, out_w = _phase_plan(x.shape[2], kw, sw, *padding[1])
  rows_h, rows_w = -(-out_h // sh), -(-out_w // sw)
  phases = []
  for t0h, dh, len_h in plan_h:
    row = []
    for t0w, dw, len_w in plan_w:
      sub = kernel[t0h::sh, t0w::sw]
      if sub.shape[0] == 0 or sub.shape[1] == 0 or len_h == 0 or len_w == 0:
        y = jnp.zeros((x.shape[0], len_h, len_w, kernel.shape[3]), x.dtype)
      else:
        # The phase reads input rows d_p … d_p + len + taps − 2, zero outside x: the
        # conv's own padding where that reaches beyond x (no separate pad op), a crop
        # of x where it stops short.
        pads = ((-dh, dh + len_h + sub.shape[0] - 1 - x.shape[1]),
                (-dw, dw + len_w + sub.shape[1] - 1 - x.shape[2]))
        crop = [(max(0, -lo), n - max(0, -hi)) for (lo, hi), n in zip(pads, x.shape[1:3])]
        xc = x[:, crop[0][0]:crop[0][1], crop[1][0]:crop[1][1]]
        y = lax.conv_general_dilated(xc, sub, (1, 1),
                                     [(max(0, lo), max(0, hi)) for lo, hi in pads],
                                     dimension_numbers=_DIMENSIONS)
      row.append(jnp.pad(y, ((0, 0), (0, rows_h - len_h), (0, rows_w - len_w), (0, 0))))
    phases.append(jnp.stack(row, axis=3))        # [N, rows_h, rows_w, s_w, F]
  y = jnp.stack(phases, axis=2)                  # [N, rows_h, s_h, rows_w, s_w, F]
  y = y.reshape(x.shape[0], rows_h * sh, rows_w * sw, kernel.shape[3])
  return y[:, :out_h, :out_w]


# Patches of at most this many values (kh·kw·C) go through im2col: the 1-channel image
# layers, where XLA's convolutions are slowest (D's 28×28×1 → 14×14×64 4×4 conv at batch
# 128: forward 1.97 → 1.09 ms, input gradient 2.79 → 1.29, kernel gradient 1.46 → 1.09).
_MAX_IM2COL_PATCH = 64


def _conv_im2col(x: Array, kernel: Array, strides: tuple[int, int], pads: Padding) -> Array:
  """The strided conv as one GEMM of the kh·kw strided views (patches) with the kernel."""
  (kh, kw, c, f), (sh, sw) = kernel.shape, strides
  # lax.pad: the adjoint convs of `conv_transpose2d` may have negative (cropping) pads.
  xp = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), *((lo, hi, 0) for lo, hi in pads),
                                           (0, 0, 0)))
  out_h = (xp.shape[1] - kh) // sh + 1
  out_w = (xp.shape[2] - kw) // sw + 1
  taps = [xp[:, i:i + sh * (out_h - 1) + 1:sh, j:j + sw * (out_w - 1) + 1:sw]
          for i in range(kh) for j in range(kw)]
  patches = jnp.stack(taps, axis=3).reshape(-1, kh * kw * c)   # [N·H'·W', (tap, C)]
  return (patches @ kernel.reshape(kh * kw * c, f)).reshape(x.shape[0], out_h, out_w, f)


def _small_patches(kernel: Array) -> bool:
  return kernel.shape[0] * kernel.shape[1] * kernel.shape[2] <= _MAX_IM2COL_PATCH


def _strided_conv(x: Array, kernel: Array, strides: tuple[int, int], pads: Padding) -> Array:
  """An ordinary (strided) conv, by im2col for small patches, else XLA's."""
  if _small_patches(kernel):
    return _conv_im2col(x, kernel, strides, pads)
  return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=_DIMENSIONS)


# Below this many output channels XLA's dilated conv beats phases: 14×14×64 → 28×28×F at
# batch 128 took 2.2 / 4.3 / 9.5 / 18.8 ms for F = 1 / 4 / 8 / 16, by phases 5.2 / 13.2 /
# 10.2 / 9.1.
_MIN_PHASE_FEATURES = 16


def _transposed_conv(x, kernel, strides, padding):
  """The dilated conv (a transposed conv) by the fastest of three exact forms."""
  kh, kw, _, features = kernel.shape
  if strides != (1, 1) and kh * kw * features <= _MAX_IM2COL_PATCH:
    # Few output channels (an image layer): the transpose of the adjoint strided conv,
    # which has small patches and so goes through im2col (14×14×64 → 28×28×1: 2.09 →
    # 0.83 ms).
    out = _dilated_out_hw(x.shape[1:3], (kh, kw), strides, padding)
    pads = _adjoint_pads(x.shape[1:3], out, (kh, kw), strides, padding)
    adjoint = lambda y: _conv_im2col(y, _flip_swap(kernel), strides, pads)
    y_shape = jax.ShapeDtypeStruct((x.shape[0], *out, features), x.dtype)
    return jax.linear_transpose(adjoint, y_shape)(x)[0]
  if strides == (1, 1) or features < _MIN_PHASE_FEATURES:
    return _dilated_conv(x, kernel, strides, padding)
  return transposed_conv_by_phases(x, kernel, strides, padding)


# ------------------------------------------------------------- transposed convolution


def _conv_transpose_pads(kernel_hw, strides) -> Padding:
  return tuple(conv_transpose_padding(k, s) for k, s in zip(kernel_hw, strides))


def _adjoint_pads(n_in, n_out, kernel_hw, strides, pads) -> Padding:
  """Padding of the strided conv (n_out -> n_in) adjoint to a dilated conv (n_in -> n_out,
  dilated-input padding `pads`): low k − 1 − low, high from the lengths."""
  out = []
  for n, m, k, s, (low, _) in zip(n_in, n_out, kernel_hw, strides, pads):
    a = k - 1 - low
    out.append((a, s * (n - 1) + k - a - m))
  return tuple(out)


def _dilated_adjoint_pads(n_in, n_out, kernel_hw, strides, pads) -> Padding:
  """Dilated-input padding of the transposed conv (n_out -> n_in) adjoint to a strided
  conv (n_in -> n_out, padding `pads`): low k − 1 − low, high from the lengths."""
  out = []
  for n, m, k, s, (low, _) in zip(n_in, n_out, kernel_hw, strides, pads):
    a = k - 1 - low
    out.append((a, n - s * (m - 1) - 2 - a + k))
  return tuple(out)


def _is_zero(tangent) -> bool:
  return isinstance(tangent, jax.custom_derivatives.SymbolicZero)


def _transpose_of(adjoint: Callable[[Array], Array], out_like) -> Callable[[Array], Array]:
  """The linear map L whose transpose is `adjoint` (L: x-space -> out_like's space).

  Written as JAX's transpose of `adjoint`, so that reverse mode, transposing L again,
  computes `adjoint`'s own (fast) operations: a tangent rule built from such maps keeps
  reverse-mode gradients on the rewrites while forward mode (jvp, jacfwd) works too.
  """
  return lambda v: jax.linear_transpose(adjoint, out_like)(v)[0]


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _conv_transpose_fast(x: Array, kernel: Array, strides: tuple[int, int],
                         pads: Padding) -> Array:
  return _transposed_conv(x, kernel, strides, pads)


@functools.partial(_conv_transpose_fast.defjvp, symbolic_zeros=True)
def _conv_transpose_fast_jvp(strides, pads, primals, tangents):
  (x, kernel), (tx, tkernel) = primals, tangents
  y = _transposed_conv(x, kernel, strides, pads)
  y_like = jax.ShapeDtypeStruct(y.shape, y.dtype)
  adj_pads = _adjoint_pads(x.shape[1:3], y.shape[1:3], kernel.shape[:2], strides, pads)
  v_like = jax.ShapeDtypeStruct(_flip_swap(kernel).shape, kernel.dtype)
  ty = jnp.zeros_like(y)
  if not _is_zero(tx):
    # dx = A(dy; V), the ordinary strided conv adjoint to the transposed conv.
    ty = ty + _transpose_of(
        lambda dy: _strided_conv(dy, _flip_swap(kernel), strides, adj_pads), y_like)(tx)
  if not _is_zero(tkernel):
    # Since ⟨dy, conv_transpose(x, W)⟩ = ⟨A(dy; V), x⟩ for all x, dy, the kernel gradient
    # is the weight gradient of that *ordinary* strided conv at input dy, cotangent x.
    def kernel_adjoint(dy):
      (dv,) = jax.linear_transpose(lambda v: _strided_conv(dy, v, strides, adj_pads),
                                   v_like)(x)
      return _flip_swap(dv)
    ty = ty + _transpose_of(kernel_adjoint, y_like)(tkernel)
  return y, ty


def _resolve(padding, kernel_hw, strides, in_hw, transposed: bool) -> Padding:
  """Explicit ((lo, hi), (lo, hi)) pads: of the input (conv) or of the s-dilated input
  (transposed conv, `lax.conv_transpose`'s convention)."""
  if isinstance(padding, str):
    if padding == "SAME":
      return (_conv_transpose_pads(kernel_hw, strides) if transposed
              else _conv_pads(in_hw, kernel_hw, strides))
    if padding == "VALID":
      if transposed:  # lax.conv_transpose's 'VALID': the full transposed conv
        return tuple((k - 1, s - 1 + max(k - s, 0)) for k, s in zip(kernel_hw, strides))
      return ((0, 0), (0, 0))
    raise ValueError(f"padding must be 'SAME', 'VALID' or ((lo, hi), (lo, hi)), got "
                     f"{padding!r}.")
  pads = tuple(tuple(int(v) for v in pair) for pair in padding)
  if len(pads) != 2 or any(len(pair) != 2 for pair in pads):
    raise ValueError(f"padding must be 'SAME', 'VALID' or ((lo, hi), (lo, hi)), got "
                     f"{padding!r}.")
  return pads


def conv_transpose2d(x: Array, kernel: Array, *, strides=(2, 2), padding="SAME",
                     precision=None) -> Array:
  """`lax.conv_transpose(x, kernel, strides, padding)` (NHWC, HWIO), fast on XLA:CPU.

  Args:
    x: [N, H, W, C] input.
    kernel: [kh, kw, C, F] kernel (Flax ConvTranspose layout, not flipped).
    strides: (sh, sw).
    padding: 'SAME', 'VALID' or ((lo, hi), (lo, hi)) of the s-dilated input, as in
      `lax.conv_transpose`.
    precision: passed to XLA's convolution off CPU (XLA:CPU computes float32 exactly).
  Returns:
    [N, H', W', F] (H' = sh·H for 'SAME'), equal to `lax.conv_transpose` up to float32
    summation order, in value and in all derivatives (reverse mode by the adjoint forms,
    forward mode too).
  """
  _check_operands(x, kernel)
  strides = _pair(strides, "strides")
  pads = _resolve(padding, kernel.shape[:2], strides, x.shape[1:3], transposed=True)
  xla = lambda x, k: _dilated_conv(x, k, strides, pads, precision)

  def cpu(x, k):
    if onednn.onednn_selected():
      out = _dilated_out_hw(x.shape[1:3], k.shape[:2], strides, pads)
      adj = _adjoint_pads(x.shape[1:3], out, k.shape[:2], strides, pads)
      if onednn.supports((x.shape[0], *out, k.shape[3]), _flip_swap(k).shape, strides, adj,
                         jnp.result_type(x, k)):
        return onednn.conv_transpose2d(x, _flip_swap(k), strides, adj, tuple(out))
    return _conv_transpose_fast(x, k, strides, pads)

  return _by_platform(cpu, xla, x, kernel)


# ------------------------------------------------------------- strided convolution


def _conv_pads(hw, kernel_hw, strides) -> Padding:
  return tuple(conv_padding(n, k, s) for n, k, s in zip(hw, kernel_hw, strides))


def _xla_conv(x, kernel, strides, pads, precision=None):
  return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=_DIMENSIONS,
                                  precision=precision)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _conv_fast(x: Array, kernel: Array, strides: tuple[int, int], pads: Padding) -> Array:
  return _xla_conv(x, kernel, strides, pads)


@functools.partial(_conv_fast.defjvp, symbolic_zeros=True)
def _conv_fast_jvp(strides, pads, primals, tangents):
  (x, kernel), (tx, tkernel) = primals, tangents
  y = _xla_conv(x, kernel, strides, pads)
  ty = jnp.zeros_like(y)
  if not _is_zero(tx):
    # dx = Σ_t W[t]ᵀ dy[i] at n = s·i + t − lo: a transposed conv of dy with the flipped,
    # swapped kernel, dilated-input padding (k − 1 − lo, ·) and output length n.
    dx_pads = _dilated_adjoint_pads(x.shape[1:3], y.shape[1:3], kernel.shape[:2], strides,
                                    pads)
    adjoint = lambda dy: _transposed_conv(dy, _flip_swap(kernel), strides, dx_pads)
    ty = ty + _transpose_of(adjoint, jax.ShapeDtypeStruct(y.shape, y.dtype))(tx)
  if not _is_zero(tkernel):
    ty = ty + _xla_conv(x, tkernel, strides, pads)  # XLA's kernel gradient, transposed
  return y, ty


def conv2d(x: Array, kernel: Array, *, strides=(1, 1), padding="SAME",
           precision=None) -> Array:
  """`lax.conv_general_dilated(x, kernel, strides, padding)` (NHWC, HWIO), fast on XLA:CPU.

  The forward pass and the kernel gradient are XLA's and, for strides > 1, the input
  gradient is computed by phases (see the module docstring); stride-1 convolutions are
  XLA's own, derivatives included; patches of ≤ 64 values (kh·kw·C, the image layers)
  are computed by im2col and one GEMM.

  Args:
    x: [N, H, W, C] input.
    kernel: [kh, kw, C, F] kernel (Flax Conv layout).
    strides: (sh, sw).
    padding: 'SAME', 'VALID' or ((lo, hi), (lo, hi)).
    precision: passed to XLA's convolution off CPU (XLA:CPU computes float32 exactly).
  Returns:
    [N, H', W', F] (⌈H/sh⌉ × ⌈W/sw⌉ for 'SAME'), equal to Flax's Conv up to float32
    summation order, in value and in all derivatives.
  """
  _check_operands(x, kernel)
  strides = _pair(strides, "strides")
  pads = _resolve(padding, kernel.shape[:2], strides, x.shape[1:3], transposed=False)

  def cpu(x, kernel):
    if onednn.onednn_selected() and onednn.supports(x.shape, kernel.shape, strides, pads,
                                                    jnp.result_type(x, kernel)):
      return onednn.conv2d(x, kernel, strides, pads)
    if _small_patches(kernel):
      # im2col, whose autodiff derivatives are the fast ones there too.
      return _conv_im2col(x, kernel, strides, pads)
    if strides == (1, 1):
      # No phases to gain from; XLA's own derivatives skip the custom rule's kernel flip
      # and tangent sum (PixelCNN's 2×3 32 → 32 layer, batch 128, fwd + bwd, 2 cores,
      # interleaved: 58.0 → 54.5 ms) and are the same computation (bitwise equal there).
      return _xla_conv(x, kernel, strides, pads)
    return _conv_fast(x, kernel, strides, pads)

  return _by_platform(cpu, lambda x, k: _xla_conv(x, k, strides, pads, precision), x, kernel)


__all__ = ["conv2d", "conv_transpose2d", "conv_padding", "conv_transpose_padding",
           "transposed_conv_by_phases"]
