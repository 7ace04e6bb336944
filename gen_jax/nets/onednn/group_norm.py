"""GroupNorm (+ swish) for XLA:CPU by gen_jax's own C++ loops (group_norm.cc), for the
opt-in CPU backend of `gen_jax.nets` (`set_cpu_convolutions("onednn")`).

oneDNN 3.2 has no group normalization, and XLA:CPU's reductions over an NHWC tensor's
spatial axes and a group's channels are slow: on the ddpm_mnist UNet's [128, 28, 28, 96]
activations, GroupNorm + swish forward takes 21 ms with XLA against PyTorch's 7 ms. The
handlers here compute, per example and group, the two-pass mean and variance in double,
then z = (x − μ)·r·γ + β and y = z or swish(z), in a few vectorized passes over each
example (which stays in cache); the backward pass recomputes the statistics and needs two
more passes. See group_norm.cc.

A `KernelOp` (forward and vjp by the kernels, every autodiff mode and `vmap` supported; see
kernel_op.py) with the reference form `reference` (plain JAX), which the lowerings for other
platforms use.
Results equal `reference` up to float32 rounding; they are bitwise reproducible and do not
depend on the thread count (per-example work items; dγ, dβ summed in example order).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gen_jax.nets.onednn.kernel_op import KernelOp

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


group_norm_op = KernelOp("gen_jax_group_norm", reference, num_inputs=3)


def register_cpu_lowerings(targets: dict) -> None:
  """Lower the forward and vjp primitives to the C++ handlers on the CPU (called by the
  package once the extension is loaded)."""
  group_norm_op.register_cpu(
      targets["group_norm"], targets["group_norm_vjp"],
      lambda groups, eps, act: dict(groups=np.int64(groups), eps=np.float32(eps),
                                    act=np.int64(act)))


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
  return group_norm_op(x, scale, bias, groups=int(num_groups), eps=float(epsilon),
                       act=ACTIVATIONS[activation])


__all__ = ["group_norm", "reference", "supports"]
