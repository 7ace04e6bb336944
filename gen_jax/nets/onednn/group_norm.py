"""GroupNorm (+ swish) for XLA:CPU by gen_jax's own C++ loops (group_norm.cc), for the
opt-in CPU backend of `gen_jax.nets` (`set_cpu_convolutions("onednn")`).

oneDNN 3.2 has no group normalization, and XLA:CPU's reductions over an NHWC tensor's
spatial axes and a group's channels are slow: on the ddpm_mnist UNet's [128, 28, 28, 96]
activations, GroupNorm + swish forward takes 21 ms with XLA against PyTorch's 7 ms. The
handlers here compute, per example and group, the two-pass mean and variance in double,
then z = (x − μ)·r·γ + β and y = z or swish(z), in a few vectorized passes over each
example (which stays in cache); the backward pass recomputes the statistics and needs two
more passes. See group_norm.cc.

Three primitives, so that every autodiff mode works:

    group_norm(x, γ, β)                  y          the C++ forward on the CPU
    group_norm_jvp(x, γ, β, tx, tγ, tβ)  ty         linear in (tx, tγ, tβ); plain JAX
    group_norm_vjp(x, γ, β, dy)          dx, dγ, dβ  linear in dy; the C++ backward on the CPU

group_norm's tangent is group_norm_jvp, whose transpose is group_norm_vjp (and back), so
reverse mode runs the C++ backward; derivatives of the last two (second order) and `vmap`
use the reference form `reference` (plain JAX), as do all lowerings for other platforms.
Results equal `reference` up to float32 rounding; they are bitwise reproducible and do not
depend on the thread count (per-example work items; dγ, dβ summed in example order).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

Array = jax.Array
ACTIVATIONS = {None: 0, "swish": 1}


def reference(x: Array, scale: Array, bias: Array, *, groups: int, eps: float,
              act: int) -> Array:
  """GroupNorm over x [B, ..., C] (groups of C/groups consecutive channels, statistics over
  the non-batch axes; two-pass variance), then swish when act == 1."""
  b, c = x.shape[0], x.shape[-1]
  xr = x.reshape(b, -1, groups, c // groups)
  mean = jnp.mean(xr, axis=(1, 3), keepdims=True)
  var = jnp.mean(jnp.square(xr - mean), axis=(1, 3), keepdims=True)
  z = ((xr - mean) * lax.rsqrt(var + eps)).reshape(x.shape) * scale + bias
  return jax.nn.silu(z) if act == 1 else z


def _ref_jvp(x, scale, bias, tx, tscale, tbias, **params):
  return jax.jvp(functools.partial(reference, **params), (x, scale, bias),
                 (tx, tscale, tbias))[1]


def _ref_vjp(x, scale, bias, dy, **params):
  return tuple(jax.vjp(functools.partial(reference, **params), x, scale, bias)[1](dy))


group_norm_p = Primitive("gen_jax_group_norm")
group_norm_jvp_p = Primitive("gen_jax_group_norm_jvp")
group_norm_vjp_p = Primitive("gen_jax_group_norm_vjp")
group_norm_vjp_p.multiple_results = True

group_norm_p.def_abstract_eval(lambda x, scale, bias, **_: jax.core.ShapedArray(x.shape,
                                                                                 x.dtype))
group_norm_jvp_p.def_abstract_eval(
    lambda x, *_, **__: jax.core.ShapedArray(x.shape, x.dtype))
group_norm_vjp_p.def_abstract_eval(
    lambda x, scale, bias, dy, **_: (jax.core.ShapedArray(x.shape, x.dtype),
                                     jax.core.ShapedArray(scale.shape, scale.dtype),
                                     jax.core.ShapedArray(bias.shape, bias.dtype)))

_REFS = {group_norm_p: reference, group_norm_jvp_p: _ref_jvp, group_norm_vjp_p: _ref_vjp}
for _prim, _ref in _REFS.items():
  _prim.def_impl(functools.partial(
      lambda prim, *args, **params: jax.jit(functools.partial(prim.bind, **params))(*args),
      _prim))
  mlir.register_lowering(_prim, mlir.lower_fun(_ref, multiple_results=_prim.multiple_results))


def _ffi_rule(target: str):
  lower = jax.ffi.ffi_lowering(target)

  def rule(ctx, *args, groups, eps, act):
    return lower(ctx, *args, groups=np.int64(groups), eps=np.float32(eps), act=np.int64(act))
  return rule


def register_cpu_lowerings(targets: dict) -> None:
  """Lower the forward and vjp primitives to the C++ handlers on the CPU (called by the
  package once the extension is loaded)."""
  mlir.register_lowering(group_norm_p, _ffi_rule(targets["group_norm"]), platform="cpu")
  mlir.register_lowering(group_norm_vjp_p, _ffi_rule(targets["group_norm_vjp"]),
                         platform="cpu")


# ------------------------------------------------------------------ autodiff


def _instantiate(tangents, primals):
  return [ad.instantiate_zeros(t) if type(t) is ad.Zero else t  # pylint: disable=unidiomatic-typecheck
          for t, p in zip(tangents, primals)]


def _group_norm_jvp_rule(primals, tangents, **params):
  x, scale, bias = primals
  y = group_norm_p.bind(x, scale, bias, **params)
  ty = group_norm_jvp_p.bind(x, scale, bias, *_instantiate(tangents, primals), **params)
  return y, ty


def _jvp_transpose(ct, x, scale, bias, tx, tscale, tbias, **params):
  if any(ad.is_undefined_primal(v) for v in (x, scale, bias)):
    raise NotImplementedError("group_norm_jvp is linear in its tangents only.")
  if type(ct) is ad.Zero:  # pylint: disable=unidiomatic-typecheck
    return [None] * 3 + [ad.Zero(v.aval) if ad.is_undefined_primal(v) else None
                         for v in (tx, tscale, tbias)]
  grads = group_norm_vjp_p.bind(x, scale, bias, ct, **params)
  return [None] * 3 + [g if ad.is_undefined_primal(v) else None
                       for g, v in zip(grads, (tx, tscale, tbias))]


def _vjp_transpose(cts, x, scale, bias, dy, **params):
  if any(ad.is_undefined_primal(v) for v in (x, scale, bias)):
    raise NotImplementedError("group_norm_vjp is linear in dy only.")
  cts = [ad.instantiate_zeros(c) if type(c) is ad.Zero else c  # pylint: disable=unidiomatic-typecheck
         for c in cts]
  return [None] * 3 + [group_norm_jvp_p.bind(x, scale, bias, *cts, **params)]


def _reference_jvp_rule(ref, multiple_results):
  """Derivatives of the linear primitives in their other operands: those of `ref`."""
  def rule(primals, tangents, **params):
    out, tout = jax.jvp(functools.partial(ref, **params), tuple(primals),
                        tuple(_instantiate(tangents, primals)))
    return (list(out), list(tout)) if multiple_results else (out, tout)
  return rule


ad.primitive_jvps[group_norm_p] = _group_norm_jvp_rule
ad.primitive_jvps[group_norm_jvp_p] = _reference_jvp_rule(_ref_jvp, False)
ad.primitive_jvps[group_norm_vjp_p] = _reference_jvp_rule(_ref_vjp, True)
ad.primitive_transposes[group_norm_jvp_p] = _jvp_transpose
ad.primitive_transposes[group_norm_vjp_p] = _vjp_transpose


def _batching(ref, multiple_results):
  def rule(args, dims, **params):
    axes = tuple(d if isinstance(d, int) else None for d in dims)
    out = jax.vmap(functools.partial(ref, **params), in_axes=axes)(*args)
    return (out, (0,) * len(out)) if multiple_results else (out, 0)
  return rule


for _prim, _ref in _REFS.items():
  batching.primitive_batchers[_prim] = _batching(_ref, _prim.multiple_results)


# ------------------------------------------------------------------ public function


def supports(x_shape, dtype, num_groups: int) -> bool:
  """Whether the kernels compute this GroupNorm: float32 x [B, ..., C] (at least one
  non-batch, non-channel axis) with C divisible by num_groups."""
  return (len(x_shape) >= 3 and jnp.dtype(dtype) == jnp.float32 and num_groups >= 1 and
          x_shape[-1] % num_groups == 0 and min(x_shape) >= 1)


def group_norm(x: Array, scale: Array, bias: Array, *, num_groups: int,
               epsilon: float = 1e-6, activation: str | None = None) -> Array:
  """GroupNorm of x [B, ..., C] with per-channel scale and bias, then `activation`
  (None or 'swish'); the C++ kernels on the CPU, `reference` elsewhere.

  Raises:
    ValueError: x not float32 [B, ..., C] with C divisible by num_groups, scale / bias
      not [C], or an unknown activation.
  """
  if activation not in ACTIVATIONS:
    raise ValueError(f"group_norm: activation must be one of {tuple(ACTIVATIONS)}, got "
                     f"{activation!r}.")
  if not supports(x.shape, x.dtype, num_groups):
    raise ValueError(f"group_norm: expected float32 x [B, ..., C] with C divisible by "
                     f"num_groups={num_groups}; got x {x.shape} {x.dtype}.")
  from gen_jax.nets import onednn  # pylint: disable=import-outside-toplevel
  onednn.available()  # builds and registers the CPU kernels (else the CPU runs `reference`)
  c = x.shape[-1]
  for name, v in (("scale", scale), ("bias", bias)):
    if v.shape != (c,) or v.dtype != jnp.float32:
      raise ValueError(f"group_norm: {name} must be float32 [{c}], got {v.shape} {v.dtype}.")
  return group_norm_p.bind(x, scale, bias, groups=int(num_groups), eps=float(epsilon),
                           act=ACTIVATIONS[activation])


__all__ = ["group_norm", "reference", "supports"]
