"""The monotone rational-quadratic spline of Durkan et al. (2019), "Neural Spline Flows".

On [-bound, bound] the map is a piecewise rational-quadratic function through K + 1 knots
(x_k, y_k) with positive derivatives d_k at the knots (Gregory & Delbourgo, 1982); outside
it is the identity. The boundary derivatives are fixed at 1, so the spline joins the
identity tails with a continuous first derivative.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import validation

# Floors keep every bin's width, height and knot derivative away from 0: the log-det and
# the inverse's quadratic stay well conditioned (the values nflows uses).
MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3


def _knots(unnormalized: jax.Array, bound: float, minimum: float) -> tuple[jax.Array, jax.Array]:
  """Knot positions [..., K + 1] from -bound to bound exactly, and the bin sizes [..., K]."""
  num_bins = unnormalized.shape[-1]
  fractions = jax.nn.softmax(unnormalized, axis=-1)
  fractions = minimum + (1.0 - minimum * num_bins) * fractions
  cumulative = jnp.cumsum(fractions, axis=-1)
  cumulative = jnp.concatenate([jnp.zeros_like(cumulative[..., :1]), cumulative], axis=-1)
  knots = 2.0 * bound * cumulative - bound
  # The float32 sum does not end at exactly 1: pin both ends so the tails join exactly.
  knots = knots.at[..., 0].set(-bound).at[..., -1].set(bound)
  return knots, knots[..., 1:] - knots[..., :-1]


def _gather(values: jax.Array, index: jax.Array) -> jax.Array:
  return jnp.take_along_axis(values, index[..., None], axis=-1)[..., 0]


def _check_shapes(x, widths, heights, derivatives) -> int:
  names = ("unnormalized_widths", "unnormalized_heights", "unnormalized_derivatives")
  shapes = [getattr(a, "shape", None) for a in (widths, heights, derivatives)]
  detail = (f"got x: {getattr(x, 'shape', None)}, " +
            ", ".join(f"{n}: {s}" for n, s in zip(names, shapes)))
  ok = None not in shapes and all(len(s) >= 1 for s in shapes)
  if ok:
    num_bins = shapes[0][-1]
    ok = (num_bins >= 1 and shapes[1] == shapes[0]
          and shapes[2] == shapes[0][:-1] + (num_bins - 1,))
  if ok:
    try:
      ok = np.broadcast_shapes(shapes[0][:-1], tuple(x.shape)) == tuple(x.shape)
    except ValueError:
      ok = False
  if not ok:
    raise validation.ArgumentError(
        "unnormalized_widths",
        "unnormalized_widths, unnormalized_heights and unnormalized_derivatives must have "
        "shapes [..., K], [..., K] and [..., K - 1] (K bins) with [...] broadcasting to x's "
        f"shape, {detail}")
  return num_bins


def rational_quadratic_spline(x: jax.Array, unnormalized_widths: jax.Array,
                              unnormalized_heights: jax.Array,
                              unnormalized_derivatives: jax.Array, *, bound: float = 3.0,
                              inverse: bool = False) -> tuple[jax.Array, jax.Array]:
  """Elementwise monotone rational-quadratic spline with identity tails (Durkan et al.,
  2019, eqs. 4-6; the inverse by the root of the quadratic of their appendix A).

  Bin widths and heights are softmax(unnormalized) scaled to 2 * bound, each at least
  2 * bound * 1e-3; the K - 1 interior knot derivatives are softplus(unnormalized) + 1e-3
  and the two boundary derivatives are 1. Outside [-bound, bound] the map is y = x with
  log_det 0. The spline is evaluated on inputs clamped to the interval and then masked, so
  no NaN or inf reaches the gradient from the unused branch, however far out x lies.

  Args:
    x: [...] inputs (the outputs y when `inverse`).
    unnormalized_widths, unnormalized_heights: [..., K] bin parameters whose leading shape
      broadcasts to x's.
    unnormalized_derivatives: [..., K - 1] interior knot derivatives.
    bound: half-width of the spline's interval, > 0.
    inverse: apply the inverse map (exact, not iterative).
  Returns:
    (y, log_det): y with x's shape, and log |dy/dx| elementwise with x's shape (for the
    inverse, log |dx/dy|, the negative of the forward's at the matching point).
  """
  validation.check_number("bound", bound, low=0.0, low_inclusive=False)
  num_bins = _check_shapes(x, unnormalized_widths, unnormalized_heights,
                           unnormalized_derivatives)
  shape = tuple(x.shape) + (num_bins,)
  widths_u = jnp.broadcast_to(unnormalized_widths, shape)
  heights_u = jnp.broadcast_to(unnormalized_heights, shape)
  derivs_u = jnp.broadcast_to(unnormalized_derivatives, shape[:-1] + (num_bins - 1,))

  x_knots, widths = _knots(widths_u, bound, MIN_BIN_WIDTH)
  y_knots, heights = _knots(heights_u, bound, MIN_BIN_HEIGHT)
  ones = jnp.ones_like(derivs_u[..., :1])
  derivs = jnp.concatenate([ones, MIN_DERIVATIVE + jax.nn.softplus(derivs_u), ones], axis=-1)

  inside = (x >= -bound) & (x <= bound)
  clamped = jnp.clip(x, -bound, bound)
  knots = y_knots if inverse else x_knots
  # Bin k holds knots[k] <= v < knots[k + 1]; v = bound falls in the last bin.
  index = jnp.sum(clamped[..., None] >= knots[..., 1:-1], axis=-1)

  x_k, w_k = _gather(x_knots, index), _gather(widths, index)
  y_k, h_k = _gather(y_knots, index), _gather(heights, index)
  d_k, d_k1 = _gather(derivs, index), _gather(derivs[..., 1:], index)
  s_k = h_k / w_k
  curvature = d_k1 + d_k - 2.0 * s_k

  if inverse:
    dy = clamped - y_k
    a = h_k * (s_k - d_k) + dy * curvature
    b = h_k * d_k - dy * curvature
    c = -s_k * dy
    discriminant = jnp.maximum(b * b - 4.0 * a * c, 0.0)
    # theta = (-b + sqrt(disc)) / (2a), written without the cancellation when a -> 0.
    theta = (2.0 * c) / (-b - jnp.sqrt(discriminant))
    theta = jnp.clip(theta, 0.0, 1.0)
    out = x_k + theta * w_k
  else:
    theta = (clamped - x_k) / w_k
  one_minus = 1.0 - theta
  t1mt = theta * one_minus
  denominator = s_k + curvature * t1mt
  if not inverse:
    out = y_k + h_k * (s_k * theta * theta + d_k * t1mt) / denominator
  derivative = s_k * s_k * (d_k1 * theta * theta + 2.0 * s_k * t1mt + d_k * one_minus * one_minus)
  log_det = jnp.log(derivative) - 2.0 * jnp.log(denominator)
  if inverse:
    log_det = -log_det
  y = jnp.where(inside, out, x)
  log_det = jnp.where(inside, log_det, jnp.zeros_like(log_det))
  return y, log_det
