"""`KernelOp`: a nonlinear function whose forward pass and vector-Jacobian product are C++
kernels on the CPU, differentiable in every mode.

Three primitives per function f(*inputs; params), with `reference` f written in plain JAX:

    op(*inputs)                  y          the C++ forward on the CPU
    op_jvp(*inputs, *tangents)   ty         linear in the tangents; plain JAX (autodiff of f)
    op_vjp(*inputs, dy)          cotangents  linear in dy; the C++ backward on the CPU

op's tangent rule emits op_jvp, whose transpose is op_vjp (and back), so reverse mode runs the
C++ backward; the derivatives of op_jvp / op_vjp in their other operands (second order) and
every `vmap` use `reference`, as do the lowerings for other platforms (and for the CPU until
`register_cpu` is called with the loaded kernels).
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir


def _instantiate(tangents):
  return [ad.instantiate_zeros(t) if type(t) is ad.Zero else t  # pylint: disable=unidiomatic-typecheck
          for t in tangents]


class KernelOp:
  """See the module docstring. `reference(*inputs, **params) -> y` (one array)."""

  def __init__(self, name: str, reference: Callable, num_inputs: int):
    self.reference = reference
    self.num_inputs = n = num_inputs
    self.fwd = Primitive(name)
    self.jvp = Primitive(name + "_jvp")
    self.vjp = Primitive(name + "_vjp")
    self.vjp.multiple_results = True

    def ref_jvp(*args, **params):
      return jax.jvp(functools.partial(reference, **params), args[:n], args[n:])[1]

    def ref_vjp(*args, **params):
      return tuple(jax.vjp(functools.partial(reference, **params), *args[:n])[1](args[n]))

    self._refs = {self.fwd: reference, self.jvp: ref_jvp, self.vjp: ref_vjp}
    def out_aval(*args, **params):  # y's shape and dtype (op and op_jvp alike)
      y = jax.eval_shape(functools.partial(reference, **params), *args[:n])
      return jax.core.ShapedArray(y.shape, y.dtype)

    self.fwd.def_abstract_eval(out_aval)
    self.jvp.def_abstract_eval(out_aval)
    self.vjp.def_abstract_eval(
        lambda *args, **params: [jax.core.ShapedArray(a.shape, a.dtype) for a in args[:n]])
    for prim, ref in self._refs.items():
      prim.def_impl(functools.partial(
          lambda prim, *args, **params: jax.jit(functools.partial(prim.bind, **params))(*args),
          prim))
      mlir.register_lowering(prim, mlir.lower_fun(ref, multiple_results=prim.multiple_results))
      batching.primitive_batchers[prim] = self._batching(ref, prim.multiple_results)
    ad.primitive_jvps[self.fwd] = self._fwd_jvp
    ad.primitive_jvps[self.jvp] = self._reference_jvp(ref_jvp, False)
    ad.primitive_jvps[self.vjp] = self._reference_jvp(ref_vjp, True)
    ad.primitive_transposes[self.jvp] = self._jvp_transpose
    ad.primitive_transposes[self.vjp] = self._vjp_transpose

  def register_cpu(self, fwd_target: str, vjp_target: str,
                   attributes: Callable[..., dict] = lambda **_: {}) -> None:
    """Lower the forward and vjp primitives to FFI targets on the CPU; `attributes` maps
    the primitive's params to the handler's attributes."""
    for prim, target in ((self.fwd, fwd_target), (self.vjp, vjp_target)):
      lower = jax.ffi.ffi_lowering(target)
      rule = lambda ctx, *args, _lower=lower, **params: _lower(ctx, *args,
                                                               **attributes(**params))
      mlir.register_lowering(prim, rule, platform="cpu")

  def __call__(self, *inputs, **params):
    return self.fwd.bind(*inputs, **params)

  def _fwd_jvp(self, primals, tangents, **params):
    y = self.fwd.bind(*primals, **params)
    return y, self.jvp.bind(*primals, *_instantiate(tangents), **params)

  def _jvp_transpose(self, ct, *args, **params):
    n = self.num_inputs
    primals, tangents = args[:n], args[n:]
    if any(ad.is_undefined_primal(v) for v in primals):
      raise NotImplementedError(f"{self.jvp.name} is linear in its tangents only.")
    if type(ct) is ad.Zero:  # pylint: disable=unidiomatic-typecheck
      return [None] * n + [ad.Zero(v.aval) if ad.is_undefined_primal(v) else None
                           for v in tangents]
    grads = self.vjp.bind(*primals, ct, **params)
    return [None] * n + [g if ad.is_undefined_primal(v) else None
                         for g, v in zip(grads, tangents)]

  def _vjp_transpose(self, cts, *args, **params):
    n = self.num_inputs
    if any(ad.is_undefined_primal(v) for v in args[:n]):
      raise NotImplementedError(f"{self.vjp.name} is linear in its last operand only.")
    return [None] * n + [self.jvp.bind(*args[:n], *_instantiate(cts), **params)]

  @staticmethod
  def _reference_jvp(ref, multiple_results):
    def rule(primals, tangents, **params):
      out, tout = jax.jvp(functools.partial(ref, **params), tuple(primals),
                          tuple(_instantiate(tangents)))
      return (list(out), list(tout)) if multiple_results else (out, tout)
    return rule

  @staticmethod
  def _batching(ref, multiple_results):
    def rule(args, dims, **params):
      axes = tuple(d if isinstance(d, int) else None for d in dims)
      out = jax.vmap(functools.partial(ref, **params), in_axes=axes)(*args)
      return (out, (0,) * len(out)) if multiple_results else (out, 0)
    return rule


__all__ = ["KernelOp"]
