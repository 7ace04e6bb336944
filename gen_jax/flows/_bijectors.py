"""Elementwise bijectors with distrax's `Bijector` protocol.

Each acts elementwise on the last `event_ndims` axes of its input and sums the elementwise
log |dy/dx| over them: `forward_and_log_det(x [B, ...]) -> (y, log_det [B])` for
event_ndims = x.ndim - 1 (a [B, D] batch: event_ndims=1, the default; images
[B, H, W, C]: event_ndims=3). Being `distrax.Bijector`s they compose with
`distrax.Chain`, `distrax.Transformed` and `distrax.Inverse`.
"""

from __future__ import annotations

import math

import distrax
import jax
import jax.numpy as jnp

from gen_jax import validation
from gen_jax.flows._spline import rational_quadratic_spline


class _Elementwise(distrax.Bijector):
  """A bijector from an elementwise map; subclasses define `_forward`, `_inverse` and
  `_forward_log_det` (elementwise log |dy/dx| at x)."""

  def __init__(self, event_ndims: int = 1):
    validation.check_int("event_ndims", event_ndims, low=0)
    super().__init__(event_ndims_in=event_ndims)

  def _reduce(self, name: str, x: jax.Array, log_det: jax.Array) -> jax.Array:
    ndims = self.event_ndims_in
    validation.check_min_rank(name, x, ndims, f"[..., {ndims} event axes]")
    log_det = jnp.broadcast_to(log_det, x.shape)
    return log_det.sum(axis=tuple(range(x.ndim - ndims, x.ndim)))

  def forward_and_log_det(self, x):
    return self._forward(x), self._reduce("x", x, self._forward_log_det(x))

  def inverse_and_log_det(self, y):
    x = self._inverse(y)
    return x, -self._reduce("y", y, self._forward_log_det(x))


class Affine(_Elementwise):
  """y = x * exp(log_scale) + shift (the coupling transform of RealNVP, Dinh et al. 2017).

  Args:
    shift, log_scale: arrays broadcasting to the inputs' shape.
    event_ndims: trailing axes whose log-dets are summed.
  """

  def __init__(self, shift, log_scale, *, event_ndims: int = 1):
    super().__init__(event_ndims)
    self.shift = jnp.asarray(shift)
    self.log_scale = jnp.asarray(log_scale)

  def _forward(self, x):
    return x * jnp.exp(self.log_scale) + self.shift

  def _inverse(self, y):
    return (y - self.shift) * jnp.exp(-self.log_scale)

  def _forward_log_det(self, x):
    return jnp.broadcast_to(self.log_scale, jnp.broadcast_shapes(x.shape, self.log_scale.shape))


class Sigmoid(_Elementwise):
  """y = 1 / (1 + exp(-x)), R -> (0, 1); log dy/dx = -softplus(-x) - softplus(x)."""

  def _forward(self, x):
    return jax.nn.sigmoid(x)

  def _inverse(self, y):
    return jnp.log(y) - jnp.log1p(-y)

  def _forward_log_det(self, x):
    return -jax.nn.softplus(-x) - jax.nn.softplus(x)


class Tanh(_Elementwise):
  """y = tanh(x), R -> (-1, 1); log dy/dx = 2 (log 2 - x - softplus(-2x)), stable for
  large |x| (1 - tanh(x)^2 underflows)."""

  def _forward(self, x):
    return jnp.tanh(x)

  def _inverse(self, y):
    return jnp.arctanh(y)

  def _forward_log_det(self, x):
    return 2.0 * (math.log(2.0) - x - jax.nn.softplus(-2.0 * x))


class Logit(_Elementwise):
  """RealNVP's pre-processing of data in [0, 1] (Dinh et al. 2017, sec. 4.1):
  y = logit(alpha + (1 - 2 alpha) x), keeping clear of logit's infinities at 0 and 1.

  Its log-det is part of the model's density of x:
    log dy/dx = log(1 - 2 alpha) - log p - log(1 - p),   p = alpha + (1 - 2 alpha) x,
  so log p(x) = log p_y(y) + sum log dy/dx (and bits/dim are reported for x, not y).

  Args:
    alpha: in [0, 0.5); 0.05 in RealNVP for CIFAR-10 (1e-6 for MNIST in MAF). 0 is the
      plain logit, the inverse of `Sigmoid`.
    event_ndims: trailing axes whose log-dets are summed.
  """

  def __init__(self, alpha: float = 0.05, *, event_ndims: int = 1):
    super().__init__(event_ndims)
    self.alpha = validation.check_number("alpha", alpha, low=0.0, high=0.5,
                                         high_inclusive=False)

  def _squeeze(self, x):
    return self.alpha + (1.0 - 2.0 * self.alpha) * x

  def _forward(self, x):
    p = self._squeeze(x)
    return jnp.log(p) - jnp.log1p(-p)

  def _inverse(self, y):
    return (jax.nn.sigmoid(y) - self.alpha) / (1.0 - 2.0 * self.alpha)

  def _forward_log_det(self, x):
    p = self._squeeze(x)
    return math.log(1.0 - 2.0 * self.alpha) - jnp.log(p) - jnp.log1p(-p)


class RationalQuadraticSpline(_Elementwise):
  """`rational_quadratic_spline` as a bijector (Durkan et al., 2019): monotone RQ splines on
  [-bound, bound] with identity tails, one per element.

  Args:
    unnormalized_widths, unnormalized_heights: [..., K] whose leading shape broadcasts to
      the inputs' shape.
    unnormalized_derivatives: [..., K - 1].
    bound: half-width of the splines' interval.
    event_ndims: trailing axes whose log-dets are summed.
  """

  def __init__(self, unnormalized_widths, unnormalized_heights, unnormalized_derivatives,
               *, bound: float = 3.0, event_ndims: int = 1):
    super().__init__(event_ndims)
    self.unnormalized_widths = unnormalized_widths
    self.unnormalized_heights = unnormalized_heights
    self.unnormalized_derivatives = unnormalized_derivatives
    self.bound = validation.check_number("bound", bound, low=0.0, low_inclusive=False)

  def _spline(self, x, inverse):
    return rational_quadratic_spline(x, self.unnormalized_widths, self.unnormalized_heights,
                                     self.unnormalized_derivatives, bound=self.bound,
                                     inverse=inverse)

  def forward_and_log_det(self, x):
    y, log_det = self._spline(x, inverse=False)
    return y, self._reduce("x", x, log_det)

  def inverse_and_log_det(self, y):
    x, log_det = self._spline(y, inverse=True)
    return x, self._reduce("y", y, log_det)
