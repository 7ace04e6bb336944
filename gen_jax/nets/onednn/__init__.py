"""oneDNN convolutions for XLA:CPU: the optional CPU convolution backend of `nets.Conv`.

XLA:CPU computes convolutions with its Eigen or YNNPACK kernels; PyTorch on the same CPU
uses oneDNN's, which are faster, above all for the backward passes (PixelCNN's 2×3 masked
32 → 32 layer at batch 128, forward + both gradients on 2 cores: 36–51 ms with XLA's,
22–27 ms with oneDNN's). This module calls oneDNN (the `onednn-cpu-gomp` wheel) from inside
jitted computations through XLA's FFI: three JAX primitives, one per bilinear map of an
ordinary 2-D convolution (NHWC input, HWIO kernel, strides, non-negative padding):

    conv(x, w)           y  = F(x, w)     oneDNN forward
    conv_data(dy, w)     dx = D(dy, w)    oneDNN backward data     (F's adjoint in x)
    conv_weights(x, dy)  dw = W(x, dy)    oneDNN backward weights  (F's adjoint in w)

They are closed under transposition (each one's adjoints are the other two), so reverse
mode of any order, forward mode (`jax.jvp`, `jax.jacfwd`) and their compositions are
these same kernels; `vmap` is computed by XLA's own convolutions (the reference forms).

The same backend moves three more layer kinds onto C++ kernels, each a forward and a
vector-Jacobian-product handler wrapped by `kernel_op.KernelOp` (every autodiff mode, vmap):
  * `nets.GroupNorm` (optionally fused with swish): gen_jax's own loops (group_norm.cc,
    `onednn.group_norm`; oneDNN 3.2 has no group normalization, and XLA:CPU's reductions
    over a channels-last group are slow);
  * `nets.Dense` over the channels of a [B, H, W, C] / [B, N, C] input: the 1×1 `conv2d`
    here (no transposes for its weight gradient);
  * `unet.qkv_attention`: oneDNN matmuls and a vectorized softmax per example
    (attention.cc, `onednn.attention`).

Not the default: `nets.Conv` uses it on the CPU only after `set_cpu_convolutions("onednn")`
(or with the environment variable GEN_JAX_CPU_CONVOLUTIONS=onednn), because its results
differ from XLA's by float32 summation order, and the README's results were produced with
XLA's kernels. Reproducibility holds as for XLA's: each call splits the batch into a fixed
number of chunks run single-threaded on XLA's own thread pool, so results are bitwise
identical run to run and independent of the core count (the C++ source, conv.cc, says how).

Several CPU devices: the custom calls carry no partitioning rule, so under a batch-sharded
jit (a mesh of several CPU devices) XLA all-gathers their operands and every device runs the
whole batch: correct (tested), not faster. Use the backend with one CPU device (JAX's
default on the CPU); accelerators never take it.

The extension (conv.cc, group_norm.cc, attention.cc, kernels.h) is compiled on first use
with the system C++ compiler ($CXX or g++, -O3 -march=native) against jaxlib's FFI headers and
the oneDNN wheel, and cached under $GEN_JAX_CACHE_DIR (default ~/.cache/gen_jax) per source,
jaxlib, oneDNN and CPU model; `available()` says whether that worked and
`unavailable_reason()` why not.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

Array = jax.Array
Padding = tuple[tuple[int, int], tuple[int, int]]

_DIR = os.path.dirname(os.path.abspath(__file__))
_SOURCES = tuple(os.path.join(_DIR, name) for name in ("conv.cc", "group_norm.cc", "attention.cc"))
_HEADER = os.path.join(_DIR, "kernels.h")
_TARGETS = {"conv": "GenJaxOnednnConv", "conv_data": "GenJaxOnednnConvData",
            "conv_weights": "GenJaxOnednnConvWeights", "group_norm": "GenJaxGroupNorm",
            "group_norm_vjp": "GenJaxGroupNormVjp", "attention": "GenJaxAttention",
            "attention_vjp": "GenJaxAttentionVjp"}
_DIMENSIONS = ("NHWC", "HWIO", "NHWC")
_ENV = "GEN_JAX_CPU_CONVOLUTIONS"
_BACKENDS = ("xla", "onednn")

# ------------------------------------------------------------------ backend selection

_backend = os.environ.get(_ENV, "xla")
if _backend not in _BACKENDS:
  raise ValueError(f"{_ENV} must be one of {_BACKENDS}, got {_backend!r}.")


def cpu_convolutions() -> str:
  """The CPU convolution backend `nets.Conv` traces with now: 'xla' or 'onednn'."""
  return _backend


def set_cpu_convolutions(backend: str) -> None:
  """Choose the kernels of `nets.Conv` / `nets.ConvTranspose` (and of `nets.GroupNorm`,
  `nets.Dense` over image channels and `unet.qkv_attention`) on the CPU.

  Args:
    backend: 'xla' (default: XLA's own convolutions, with gen_jax.nets.fast_conv's
      rewrites, and flax.linen's GroupNorm / Dense) or 'onednn' (this module's kernels).
      Read when a layer is traced: call it before
      the first call of a jitted function (an already compiled one keeps its kernels).
  Raises:
    ValueError: for another name.
    RuntimeError: 'onednn' when the extension cannot be built here (with the reason).
  """
  global _backend
  if backend not in _BACKENDS:
    raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}.")
  if backend == "onednn":
    _require()
  _backend = backend


@contextlib.contextmanager
def using_cpu_convolutions(backend: str):
  """Context manager form of `set_cpu_convolutions` (restores the previous backend)."""
  previous = _backend
  set_cpu_convolutions(backend)
  try:
    yield
  finally:
    set_cpu_convolutions(previous)


def onednn_selected() -> bool:
  """True when CPU lowerings of `nets.Conv` and the other layers above should use this
  module (and it is built)."""
  if _backend != "onednn":
    return False
  _require()
  return True


# ------------------------------------------------------------------ building the extension

_lock = threading.Lock()
_state: dict = {}


def _onednn_prefix() -> str | None:
  """The installation prefix holding include/oneapi/dnnl and lib/libdnnl.so.3."""
  candidates = [sysconfig.get_paths()["data"], sys.prefix, sys.base_prefix]
  for prefix in candidates:
    if (os.path.exists(os.path.join(prefix, "include", "oneapi", "dnnl", "dnnl.hpp")) and
        os.path.exists(os.path.join(prefix, "lib", "libdnnl.so.3"))):
      return prefix
  return None


def _cache_dir() -> str:
  root = os.environ.get("GEN_JAX_CACHE_DIR",
                        os.path.join(os.path.expanduser("~"), ".cache", "gen_jax"))
  return os.path.join(root, "onednn")


def _cpu_identity() -> bytes:
  """The CPU model and instruction-set flags (the build uses -march=native)."""
  try:
    with open("/proc/cpuinfo", "rb") as f:
      lines = f.read().splitlines()
  except OSError:
    return b""
  return b"\n".join(sorted({l for l in lines if l.startswith((b"model name", b"flags"))}))


def _build() -> str:
  """Compile conv.cc, group_norm.cc and attention.cc (once per source / jaxlib / oneDNN
  version / CPU) and return the .so path."""
  if not sys.platform.startswith("linux"):
    raise RuntimeError(f"the oneDNN backend is built for Linux only (this is {sys.platform}).")
  prefix = _onednn_prefix()
  if prefix is None:
    raise RuntimeError("oneDNN's headers and library were not found: install the "
                       "'onednn-cpu-gomp' and 'onednn-devel-cpu-gomp' wheels (a dependency "
                       "of gen_jax on Linux x86-64).")
  compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
  if compiler is None:
    raise RuntimeError("no C++ compiler found (set $CXX or install g++).")
  source = b""
  for path in (*_SOURCES, _HEADER):
    with open(path, "rb") as f:
      source += f.read()
  import jaxlib  # pylint: disable=import-outside-toplevel
  digest = hashlib.sha256(source + jaxlib.__version__.encode() + prefix.encode() +
                          _cpu_identity()).hexdigest()
  target = os.path.join(_cache_dir(), digest[:16], "libgen_jax_onednn.so")
  if os.path.exists(target):
    return target
  try:
    os.makedirs(os.path.dirname(target), exist_ok=True)
  except OSError:  # an unwritable home: a per-user temporary directory instead
    target = os.path.join(tempfile.gettempdir(), f"gen_jax-{os.getuid()}", "onednn",
                          digest[:16], "libgen_jax_onednn.so")
    if os.path.exists(target):
      return target
    os.makedirs(os.path.dirname(target), exist_ok=True)
  lib = os.path.join(prefix, "lib")
  with tempfile.TemporaryDirectory(dir=os.path.dirname(target)) as tmp:
    out = os.path.join(tmp, "lib.so")
    cmd = [compiler, "-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-fopenmp",
           "-w", f"-I{jax.ffi.include_dir()}", f"-I{os.path.join(prefix, 'include')}",
           *_SOURCES,
           f"-L{lib}", "-l:libdnnl.so.3", f"-Wl,-rpath,{lib}", "-o", out]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
      raise RuntimeError(f"compiling {' '.join(_SOURCES)} failed ({' '.join(cmd)}):\n"
                         f"{result.stderr[-2000:]}")
    os.replace(out, target)  # atomic: concurrent builders all end with a complete file
  return target


def _load() -> None:
  with _lock:
    if "error" in _state or "library" in _state:
      return
    try:
      path = _build()
      library = ctypes.cdll.LoadLibrary(path)
      for target in _TARGETS.values():
        jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(getattr(library, target)),
                                    platform="cpu")
      group_norm.register_cpu_lowerings(_TARGETS)
      attention.register_cpu_lowerings(_TARGETS)
      _state["library"] = library
    except (RuntimeError, OSError) as e:
      _state["error"] = str(e)


def available() -> bool:
  """Whether the oneDNN extension is (or can be) built and loaded in this process."""
  _load()
  return "library" in _state


def unavailable_reason() -> str | None:
  """Why `available()` is False (None when it is True)."""
  _load()
  return _state.get("error")


def _require() -> None:
  if not available():
    raise RuntimeError(f"the oneDNN CPU convolutions are unavailable: {_state['error']}")


# ------------------------------------------------------------------ shapes and checks


def output_hw(in_hw, kernel_hw, strides, pads) -> tuple[int, int]:
  return tuple((n + lo + hi - k) // s + 1
               for n, k, s, (lo, hi) in zip(in_hw, kernel_hw, strides, pads))


def supports(x_shape, kernel_shape, strides, pads, dtype) -> bool:
  """Whether the three kernels compute this conv: float32 NHWC / HWIO, non-negative
  padding, a non-empty output, and padding that lands inside the kernel window."""
  if len(x_shape) != 4 or len(kernel_shape) != 4 or jnp.dtype(dtype) != jnp.float32:
    return False
  if any(lo < 0 or hi < 0 for lo, hi in pads):
    return False
  if any(lo >= k or hi >= k for (lo, hi), k in zip(pads, kernel_shape[:2])):
    return False  # oneDNN's checks; such (rare) pads go to XLA
  out = output_hw(x_shape[1:3], kernel_shape[:2], strides, pads)
  return min(out) >= 1 and min(x_shape) >= 1 and min(kernel_shape) >= 1


def _attributes(strides, pads) -> dict:
  (sh, sw), ((plh, phh), (plw, phw)) = strides, pads
  return {k: np.int64(v) for k, v in
          dict(sh=sh, sw=sw, plh=plh, phh=phh, plw=plw, phw=phw).items()}


# ------------------------------------------------------------------ reference forms (XLA)


def _ref_conv(x, w, *, strides, pads):
  return lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=_DIMENSIONS)


def _ref_conv_data(dy, w, *, strides, pads, x_shape):
  like = jax.ShapeDtypeStruct(x_shape, dy.dtype)
  return jax.linear_transpose(lambda x: _ref_conv(x, w, strides=strides, pads=pads),
                              like)(dy)[0]


def _ref_conv_weights(x, dy, *, strides, pads, kernel_shape):
  like = jax.ShapeDtypeStruct(kernel_shape, dy.dtype)
  return jax.linear_transpose(lambda w: _ref_conv(x, w, strides=strides, pads=pads),
                              like)(dy)[0]


# ------------------------------------------------------------------ primitives

conv_p = Primitive("gen_jax_onednn_conv")
conv_data_p = Primitive("gen_jax_onednn_conv_data")
conv_weights_p = Primitive("gen_jax_onednn_conv_weights")


def _conv_abstract(x, w, *, strides, pads):
  out = output_hw(x.shape[1:3], w.shape[:2], strides, pads)
  return jax.core.ShapedArray((x.shape[0], *out, w.shape[3]), x.dtype)


def _conv_data_abstract(dy, w, *, strides, pads, x_shape):
  return jax.core.ShapedArray(x_shape, dy.dtype)


def _conv_weights_abstract(x, dy, *, strides, pads, kernel_shape):
  return jax.core.ShapedArray(kernel_shape, x.dtype)


for _prim, _abstract in ((conv_p, _conv_abstract), (conv_data_p, _conv_data_abstract),
                         (conv_weights_p, _conv_weights_abstract)):
  _prim.def_abstract_eval(_abstract)
  _prim.def_impl(functools.partial(
      lambda prim, *args, **params: jax.jit(functools.partial(prim.bind, **params))(*args),
      _prim))


def _lowering(target: str):
  lower = jax.ffi.ffi_lowering(target)

  def rule(ctx, a, b, *, strides, pads, **_):
    return lower(ctx, a, b, **_attributes(strides, pads))
  return rule


mlir.register_lowering(conv_p, _lowering(_TARGETS["conv"]), platform="cpu")
mlir.register_lowering(conv_data_p, _lowering(_TARGETS["conv_data"]), platform="cpu")
mlir.register_lowering(conv_weights_p, _lowering(_TARGETS["conv_weights"]), platform="cpu")


def _aval_shape(v):
  """The shape of a transpose rule's operand: a value, or a linear (undefined) input."""
  aval = getattr(v, "aval", None)
  return tuple(aval.shape) if aval is not None else tuple(np.shape(v))


# Transposes: F(x, w) -> D, W; D(dy, w) -> F, W; W(x, dy) -> D, F.
def _conv_t_x(ct, x, w, *, strides, pads):
  return conv_data_p.bind(ct, w, strides=strides, pads=pads, x_shape=_aval_shape(x))


def _conv_t_w(ct, x, w, *, strides, pads):
  return conv_weights_p.bind(x, ct, strides=strides, pads=pads, kernel_shape=_aval_shape(w))


def _data_t_dy(ct, dy, w, *, strides, pads, x_shape):
  return conv_p.bind(ct, w, strides=strides, pads=pads)


def _data_t_w(ct, dy, w, *, strides, pads, x_shape):
  return conv_weights_p.bind(ct, dy, strides=strides, pads=pads, kernel_shape=_aval_shape(w))


def _weights_t_x(ct, x, dy, *, strides, pads, kernel_shape):
  return conv_data_p.bind(dy, ct, strides=strides, pads=pads, x_shape=_aval_shape(x))


def _weights_t_dy(ct, x, dy, *, strides, pads, kernel_shape):
  return conv_p.bind(x, ct, strides=strides, pads=pads)


ad.defbilinear(conv_p, _conv_t_x, _conv_t_w)
ad.defbilinear(conv_data_p, _data_t_dy, _data_t_w)
ad.defbilinear(conv_weights_p, _weights_t_x, _weights_t_dy)


def _batching(ref):
  def rule(args, dims, **params):
    axes = tuple(d if isinstance(d, int) else None for d in dims)  # not mapped: None
    return jax.vmap(functools.partial(ref, **params), in_axes=axes)(*args), 0
  return rule


batching.primitive_batchers[conv_p] = _batching(_ref_conv)
batching.primitive_batchers[conv_data_p] = _batching(_ref_conv_data)
batching.primitive_batchers[conv_weights_p] = _batching(_ref_conv_weights)


# ------------------------------------------------------------------ public functions


def _check(x_shape, x_dtype, kernel: Array, strides, pads, name: str) -> None:
  if (len(x_shape) != 4 or kernel.ndim != 4 or jnp.dtype(x_dtype) != jnp.float32 or
      not supports(x_shape, kernel.shape, strides, pads, kernel.dtype)):
    raise ValueError(
        f"oneDNN {name}: expected float32 x [N, H, W, C] and kernel [kh, kw, C, F] with "
        f"non-negative padding smaller than the kernel and a non-empty output; got x "
        f"{tuple(x_shape)} {jnp.dtype(x_dtype)}, kernel {kernel.shape} {kernel.dtype}, "
        f"strides {strides}, padding {pads}.")
  if kernel.shape[2] != x_shape[3]:
    raise ValueError(f"oneDNN {name}: kernel in-channels {kernel.shape[2]} != x channels "
                     f"{x_shape[3]} (x {tuple(x_shape)}, kernel {kernel.shape}).")


def conv2d(x: Array, kernel: Array, strides: tuple[int, int], pads: Padding) -> Array:
  """`lax.conv_general_dilated(x, kernel, strides, pads)` (NHWC, HWIO) by oneDNN.

  CPU only (the primitives lower for the CPU); explicit ((lo, hi), (lo, hi)) padding.
  """
  strides = tuple(int(s) for s in strides)
  pads = tuple(tuple(int(v) for v in p) for p in pads)
  _require()
  _check(x.shape, x.dtype, kernel, strides, pads, "conv2d")
  return conv_p.bind(x, kernel, strides=strides, pads=pads)


def conv_transpose2d(x: Array, kernel: Array, strides: tuple[int, int], pads: Padding,
                     out_hw: tuple[int, int]) -> Array:
  """The transposed conv whose adjoint is the strided conv y -> conv2d(y, v, strides, pads)
  with v = `kernel` [kh, kw, F, C] (F output channels, C = x's channels): D(x, v).

  Args:
    x: [N, h, w, C]; kernel: v [kh, kw, F, C]; out_hw: (H, W) of the result, with
      conv2d's output size for an [N, H, W, F] input equal to (h, w).
  """
  strides = tuple(int(s) for s in strides)
  pads = tuple(tuple(int(v) for v in p) for p in pads)
  y_shape = (x.shape[0], *out_hw, kernel.shape[2])
  _require()
  _check(y_shape, x.dtype, kernel, strides, pads, "conv_transpose2d")
  if output_hw(out_hw, kernel.shape[:2], strides, pads) != tuple(x.shape[1:3]):
    raise ValueError(f"oneDNN conv_transpose2d: out_hw {out_hw} does not map to x's "
                     f"{x.shape[1:3]} under strides {strides}, padding {pads}.")
  return conv_data_p.bind(x, kernel, strides=strides, pads=pads, x_shape=y_shape)


# The kernels beside the convolutions (imported last: they only need this module lazily).
from gen_jax.nets.onednn import attention  # pylint: disable=wrong-import-position
from gen_jax.nets.onednn import group_norm  # pylint: disable=wrong-import-position

__all__ = ["attention", "available", "conv2d", "conv_transpose2d", "cpu_convolutions",
           "group_norm", "onednn_selected", "set_cpu_convolutions", "supports",
           "unavailable_reason",
           "using_cpu_convolutions"]
