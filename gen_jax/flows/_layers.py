"""Learnable flow layers (Flax linen) with distrax's bijector protocol.

Direction: `forward_and_log_det` maps data to latent (the normalizing direction, the notes'
z = f(x)); `inverse_and_log_det` maps latent to data (sampling). Both return
(output, log_det [B]) with log_det = log |det d output / d input| per example, so a flow's
density is log p(x) = log p_z(f(x)) + sum of the forward log-dets (Dinh et al. 2015, 2017).

Every layer is a linen module whose `__call__(x, *, inverse=False)` does the work; the two
protocol methods call it. Inputs are [B, D] vectors or [B, H, W, C] images; masks are
arrays over one example's shape (or broadcasting to it).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import validation
from gen_jax.flows._spline import rational_quadratic_spline


def _sum_event(v: jax.Array) -> jax.Array:
  """[B, ...] -> [B], summed over all but the batch axis."""
  return v.reshape(v.shape[0], -1).sum(-1)


class FlowLayer(nn.Module):
  """Base of the learnable layers: `__call__(x, *, inverse=False) -> (y, log_det [B])`."""

  def forward_and_log_det(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Data -> latent: (z, log |det dz/dx| [B])."""
    return self(x, inverse=False)

  def inverse_and_log_det(self, z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Latent -> data: (x, log |det dx/dz| [B]), the negative of the forward's at x."""
    return self(z, inverse=True)


class ConditionalFlowLayer(FlowLayer):
  """A layer whose transform may depend on a per-example context c (a conditional flow,
  p(x | c)): `__call__(x, *, inverse=False, context=None)`, context [B, K]. With c fixed the
  map x <-> z is a bijection like any other layer's; c only enters its conditioner."""

  def forward_and_log_det(self, x: jax.Array, context: jax.Array | None = None
                          ) -> tuple[jax.Array, jax.Array]:
    return self(x, inverse=False, context=context)

  def inverse_and_log_det(self, z: jax.Array, context: jax.Array | None = None
                          ) -> tuple[jax.Array, jax.Array]:
    return self(z, inverse=True, context=context)


def apply_layer(layer: Any, x: jax.Array, *, inverse: bool, context: jax.Array | None = None
                ) -> tuple[jax.Array, jax.Array]:
  """One layer of a chain, data -> latent (or back with `inverse`): the context goes to
  conditional layers; every other layer (linen or distrax) is called without it."""
  if context is not None and isinstance(layer, ConditionalFlowLayer):
    return layer(x, inverse=inverse, context=context)
  return layer.inverse_and_log_det(x) if inverse else layer.forward_and_log_det(x)


def run_layers(layers: Sequence[Any], x: jax.Array, *, inverse: bool,
               context: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
  """`layers` applied data -> latent in order (or latent -> data in reverse order with
  `inverse`), each by `apply_layer`: (output, summed log-dets [B])."""
  total = jnp.zeros(x.shape[:1], x.dtype)
  for layer in (reversed(layers) if inverse else layers):
    x, log_det = apply_layer(layer, x, inverse=inverse, context=context)
    total = total + log_det
  return x, total


def with_context(h: jax.Array, context: jax.Array | None) -> jax.Array:
  """A conditioner's input: h [B, ..., C] with the context [B, K] appended to its last axis
  (broadcast over the spatial axes of image data)."""
  if context is None:
    return h
  validation.check_rank("context", context, 2, "[B, K]")
  validation.check_leading(("x", "context"), (h, context))
  c = jnp.broadcast_to(context.reshape(context.shape[:1] + (1,) * (h.ndim - 2) +
                                       context.shape[1:]),
                       h.shape[:-1] + context.shape[1:]).astype(h.dtype)
  return jnp.concatenate([h, c], axis=-1)


# ----------------------------------------------------------------------------- LU affine


def _lu_factors(lower: jax.Array, upper: jax.Array, log_diag: jax.Array):
  """Unit lower-triangular L and upper-triangular U = strict part + diag(exp(log_diag))."""
  d = log_diag.shape[0]
  eye = jnp.eye(d, dtype=lower.dtype)
  l = jnp.tril(lower, -1) + eye
  u = jnp.triu(upper, 1) + jnp.diag(jnp.exp(log_diag))
  return l, u


def _lu_params(module: nn.Module, d: int):
  lower = module.param("lower", nn.initializers.zeros, (d, d))
  upper = module.param("upper", nn.initializers.zeros, (d, d))
  log_diag = module.param("log_diag", nn.initializers.zeros, (d,))
  return _lu_factors(lower, upper, log_diag), log_diag


def _lu_solve(l: jax.Array, u: jax.Array, v: jax.Array) -> jax.Array:
  """A^{-1} v for A = L U, v [N, D] (rows): two triangular solves, O(D^2) per row."""
  w = jax.scipy.linalg.solve_triangular(l, v.T, lower=True, unit_diagonal=True)
  return jax.scipy.linalg.solve_triangular(u, w, lower=False).T


class LUAffine(FlowLayer):
  """The affine flow z = A^{-1} (x - b) with A = P L U learned through its LU factors
  (Kingma & Dhariwal 2018, sec. 3.2): L unit lower-triangular, U upper-triangular with
  diagonal exp(log_diag) > 0, P a fixed permutation, so A is invertible by construction and
  log |det dz/dx| = -sum(log_diag), O(D) instead of O(D^3).

  Starts at the identity map (or the permutation P). Input [B, D].

  Attributes:
    permutation: P as a sequence of D indices (A's rows are (L U)'s rows P[i]); None is the
      identity.
  """
  permutation: Sequence[int] | None = None

  @nn.compact
  def __call__(self, x, *, inverse=False):
    validation.check_rank("x", x, 2, "[B, D]")
    d = x.shape[-1]
    perm = np.arange(d) if self.permutation is None else np.asarray(self.permutation)
    if sorted(perm.tolist()) != list(range(d)):
      raise validation.ArgumentError(
          "permutation", f"permutation must be a permutation of range({d}), got "
          f"{list(self.permutation)}")
    (l, u), log_diag = _lu_params(self, d)
    b = self.param("shift", nn.initializers.zeros, (d,))
    log_det = -jnp.sum(log_diag) * jnp.ones(x.shape[:1], x.dtype)
    if not inverse:  # z = (P L U)^{-1} (x - b) = U^{-1} L^{-1} P^T (x - b)
      v = (x - b)[:, np.argsort(perm)]
      return _lu_solve(l, u, v), log_det
    y = (x @ u.T) @ l.T                         # rows of L U z
    return y[:, perm] + b, -log_det


# ---------------------------------------------------------------------- elementwise layers


class LeakyReLU(FlowLayer):
  """Elementwise y = x (x >= 0), slope * x (x < 0): a piecewise-linear invertible
  nonlinearity; log |dy/dx| = log(slope) on the negative inputs.

  Attributes:
    negative_slope: the slope below 0, > 0 (so the map is invertible).
  """
  negative_slope: float = 0.1

  @nn.compact
  def __call__(self, x, *, inverse=False):
    slope = validation.check_number("negative_slope", self.negative_slope, low=0.0,
                                    low_inclusive=False)
    negative = x < 0
    factor = 1.0 / slope if inverse else slope
    y = jnp.where(negative, x * factor, x)
    log_det = _sum_event(jnp.where(negative, jnp.log(factor), 0.0).astype(x.dtype))
    return y, log_det


class ActNorm(FlowLayer):
  """Per-channel affine z = (x + bias) * exp(log_scale) with data-dependent initialization
  (Kingma & Dhariwal 2018, sec. 3.1): `init` on a batch sets bias = -mean and
  log_scale = -log(std + 1e-6) per channel (last axis), so the first batch's outputs have
  zero mean and unit variance. log |det| = (number of positions) * sum(log_scale).
  Input [B, ..., C]."""

  @nn.compact
  def __call__(self, x, *, inverse=False):
    c = x.shape[-1]
    axes = tuple(range(x.ndim - 1))
    data_init = self.is_initializing() and not inverse

    def init_bias(_):
      return -jnp.mean(x, axes) if data_init else jnp.zeros((c,), x.dtype)

    def init_log_scale(_):
      return (-jnp.log(jnp.std(x, axes) + 1e-6) if data_init
              else jnp.zeros((c,), x.dtype))

    bias = self.param("bias", init_bias)
    log_scale = self.param("log_scale", init_log_scale)
    positions = int(np.prod(x.shape[1:-1], dtype=np.int64))
    log_det = positions * jnp.sum(log_scale) * jnp.ones(x.shape[:1], x.dtype)
    if not inverse:
      return (x + bias) * jnp.exp(log_scale), log_det
    return x * jnp.exp(-log_scale) - bias, -log_det


class Invertible1x1Conv(FlowLayer):
  """Glow's invertible 1x1 convolution, LU-parameterized (Kingma & Dhariwal 2018, sec.
  3.2): z[b, h, w] = W x[b, h, w] with W = P L U (P fixed: the channel reversal, so the
  layer starts as RealNVP's reversal), log |det| = H W sum(log_diag). The forward is one
  [C, C] matmul per position; the inverse two triangular solves. Input [B, H, W, C]."""

  @nn.compact
  def __call__(self, x, *, inverse=False):
    validation.check_rank("x", x, 4, "[B, H, W, C]")
    c = x.shape[-1]
    (l, u), log_diag = _lu_params(self, c)
    perm = np.arange(c)[::-1]
    log_det = x.shape[1] * x.shape[2] * jnp.sum(log_diag) * jnp.ones(x.shape[:1], x.dtype)
    if not inverse:
      w = (l @ u)[perm]
      return jnp.einsum("bhwc,dc->bhwd", x, w), log_det
    flat = x.reshape(-1, c)[:, np.argsort(perm)]
    return _lu_solve(l, u, flat).reshape(x.shape), -log_det


# -------------------------------------------------------------------------------- masks


def checkerboard_mask(shape: Sequence[int], parity: int = 0) -> np.ndarray:
  """1 where the (h + w) of a [H, W, C] position (or the index of a [D] vector) has the
  given parity: the conditioning inputs of RealNVP's spatial couplings (Dinh et al. 2017,
  fig. 3). Returns float32 of `shape`."""
  shape = tuple(shape)
  if len(shape) == 1:
    return ((np.arange(shape[0]) + parity) % 2 == 0).astype(np.float32)
  validation.check_int("len(shape)", len(shape), low=3, high=3)
  h, w, c = shape
  grid = (np.arange(h)[:, None] + np.arange(w)[None, :] + parity) % 2 == 0
  return np.broadcast_to(grid[:, :, None], (h, w, c)).astype(np.float32)


def channel_mask(shape: Sequence[int], parity: int = 0) -> np.ndarray:
  """1 on the first half of the last axis (parity 0) or the second (parity 1): RealNVP's
  channel-wise couplings. Returns float32 of `shape`."""
  shape = tuple(shape)
  c = shape[-1]
  first = np.arange(c) < c // 2
  keep = first if parity % 2 == 0 else ~first
  return np.broadcast_to(keep, shape).astype(np.float32)


def _coupling_mask(mask: Any, event_shape: tuple[int, ...]) -> np.ndarray:
  m = np.asarray(mask, np.float32)
  try:
    m = np.broadcast_to(m, event_shape)
  except ValueError:
    raise validation.ArgumentError(
        "mask", f"mask must broadcast to one example's shape {event_shape}, got shape "
        f"{m.shape}") from None
  if not np.all((m == 0) | (m == 1)):
    raise validation.ArgumentError("mask", "mask must hold only 0 and 1")
  if not m.any():
    raise validation.ArgumentError(
        "mask", "mask has no conditioning inputs (all 0): the conditioner would see nothing "
        "and the layer would be an elementwise map; mark some inputs 1")
  if m.all():
    raise validation.ArgumentError(
        "mask", "mask conditions on every input (all 1): the layer would transform nothing; "
        "mark some inputs 0")
  return m


# ------------------------------------------------------------------------------ couplings


class AffineCoupling(ConditionalFlowLayer):
  """RealNVP's affine coupling (Dinh et al. 2017, eqs. 7-9): with the binary mask m,
    z = m * x + (1 - m) * (x * exp(s(m x)) + t(m x)),
    log |det dz/dx| = sum((1 - m) * s(m x)),
  s = scale * tanh(raw s) bounded for stability (scale learned per channel, starting at 1).
  Starts as the identity (the conditioner's last layer is zero).

  Attributes:
    mask: 0/1 array broadcasting to one example's shape ([D] or [H, W, C]); 1 = conditioning
      input, left unchanged (`checkerboard_mask`, `channel_mask`).
    conditioner: features -> module mapping m x [B, ..., C] to [B, ..., features]
      (`features` = 2 C); e.g. `functools.partial(nets.CouplingMLP, hidden=(64, 64))` or
      `nets.CouplingResNet`. With a context, the conditioner sees m x and the context
      (appended to the last axis, `with_context`).
  """
  mask: Any
  conditioner: Callable[[int], nn.Module]

  @nn.compact
  def __call__(self, x, *, inverse=False, context=None):
    m = jnp.asarray(_coupling_mask(self.mask, tuple(x.shape[1:])), x.dtype)
    c = x.shape[-1]
    h = self.conditioner(2 * c)(with_context(x * m, context)).reshape(x.shape + (2,))
    scale = self.param("scale", nn.initializers.ones, (c,))
    s = (1.0 - m) * scale * jnp.tanh(h[..., 0])
    t = (1.0 - m) * h[..., 1]
    if not inverse:
      return x * jnp.exp(s) + t, _sum_event(s)
    return (x - t) * jnp.exp(-s), -_sum_event(s)


class SplineCoupling(ConditionalFlowLayer):
  """A coupling layer whose transform is the rational-quadratic spline (Durkan et al.
  2019, sec. 3.1, 'RQ-NSF (C)'): each unmasked element gets its own K-bin spline on
  [-bound, bound] (identity outside) with parameters from the conditioner of m x.

  Attributes:
    mask: as in `AffineCoupling`.
    conditioner: features -> module, `features` = C (3K - 1).
    num_bins: K.
    bound: the splines' half-width.
  """
  mask: Any
  conditioner: Callable[[int], nn.Module]
  num_bins: int = 8
  bound: float = 3.0

  @nn.compact
  def __call__(self, x, *, inverse=False, context=None):
    k = validation.check_int("num_bins", self.num_bins, low=1)
    m = jnp.asarray(_coupling_mask(self.mask, tuple(x.shape[1:])), x.dtype)
    c = x.shape[-1]
    h = self.conditioner(c * (3 * k - 1))(with_context(x * m, context))
    h = h.reshape(x.shape + (3 * k - 1,))
    y, log_det = rational_quadratic_spline(x, h[..., :k], h[..., k:2 * k], h[..., 2 * k:],
                                           bound=self.bound, inverse=inverse)
    y = jnp.where(m > 0, x, y)
    return y, _sum_event((1.0 - m) * log_det)


# ------------------------------------------------------------------------ shape layers


def squeeze(x: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, H/2, W/2, 4C]: each 2x2 patch to channels (Dinh et al. 2017, fig.
  3); a permutation, log-det 0."""
  b, h, w, c = x.shape
  if h % 2 or w % 2:
    raise validation.ArgumentError("x", f"x's height and width must be even to squeeze, "
                                   f"got shape {tuple(x.shape)}")
  x = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h // 2, w // 2, 4 * c)


def unsqueeze(x: jax.Array) -> jax.Array:
  """The inverse of `squeeze`: [B, H, W, 4C] -> [B, 2H, 2W, C]."""
  b, h, w, c4 = x.shape
  c = c4 // 4
  x = x.reshape(b, h, w, 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, 2 * h, 2 * w, c)


class Squeeze(FlowLayer):
  """`squeeze` as a layer (log-det 0)."""

  @nn.compact
  def __call__(self, x, *, inverse=False):
    validation.check_rank("x", x, 4, "[B, H, W, C]")
    out = unsqueeze(x) if inverse else squeeze(x)
    return out, jnp.zeros(x.shape[:1], x.dtype)


class Chain(ConditionalFlowLayer):
  """Layers applied in order (forward) and in reverse order (inverse); log-dets add; a
  context goes to the conditional layers among them.

  Attributes:
    layers: flow layers (linen modules or distrax bijectors with the same two methods).
  """
  layers: Sequence[Any]

  @nn.compact
  def __call__(self, x, *, inverse=False, context=None):
    return run_layers(self.layers, x, inverse=inverse, context=context)
