"""Flow models: a chain of layers over a standard normal base, log p(x) = log N(f(x); 0, I)
+ log |det df/dx| (nats per example), and sampling x = f^{-1}(T z), z ~ N(0, I) at
temperature T.

- `Flow`: any layers on vectors [B, D] (or any one shape): `realnvp_flow`, `spline_flow`,
  `maf_flow` build the 2-D models of the notes.
- `MultiScaleFlow`: images [B, H, W, C] in [0, 1] with RealNVP's logit pre-processing,
  levels of squeeze + steps + split (Dinh et al. 2017, sec. 3.6; Kingma & Dhariwal 2018,
  sec. 3): 'realnvp' (checkerboard then channel couplings, standard normal for the factored
  out half) or 'glow' (ActNorm, invertible 1x1 conv, channel coupling; split priors whose
  mean and scale are predicted from the kept half).
- `uniform_dequantize`, `VariationalDequantizer`: continuous data from 8-bit levels, and the
  bits/dim bound log P(x) >= E_q[log p(x + u) - log q(u | x)] - D log 256.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import nets
from gen_jax import random
from gen_jax import validation
from gen_jax.flows._autoregressive import MaskedAutoregressive
from gen_jax.flows._bijectors import Logit
from gen_jax.flows._layers import ActNorm
from gen_jax.flows._layers import AffineCoupling
from gen_jax.flows._layers import channel_mask
from gen_jax.flows._layers import checkerboard_mask
from gen_jax.flows._layers import ConditionalFlowLayer
from gen_jax.flows._layers import Invertible1x1Conv
from gen_jax.flows._layers import LUAffine
from gen_jax.flows._layers import run_layers
from gen_jax.flows._layers import SplineCoupling
from gen_jax.flows._layers import squeeze
from gen_jax.flows._layers import unsqueeze
from gen_jax.flows._layers import with_context

LOG_2PI = math.log(2.0 * math.pi)


def normal_log_prob(z: jax.Array, mean=0.0, log_scale=0.0) -> jax.Array:
  """sum over all but the batch axis of log N(z; mean, exp(log_scale)^2), [B]."""
  e = (z - mean) * jnp.exp(-log_scale)
  lp = -0.5 * (e * e + LOG_2PI) - log_scale
  lp = jnp.broadcast_to(lp, z.shape)
  return lp.reshape(z.shape[0], -1).sum(-1)


def check_context(context, context_features: int, batch: int) -> None:
  """A conditional flow (context_features = K > 0) takes context [B, K]; an unconditional
  one (K = 0) none: an `ArgumentError` naming `context` otherwise."""
  k = validation.check_int("context_features", context_features, low=0)
  if k == 0:
    if context is not None:
      raise validation.ArgumentError(
          "context", "context given to an unconditional flow (context_features=0), got "
          f"shape {jnp.shape(context)}")
    return
  if context is None:
    raise validation.ArgumentError(
        "context", f"this flow is conditional: pass context of shape [B, {k}]")
  validation.check_shape("context", context, (batch, k))


class Flow(ConditionalFlowLayer):
  """A flow over one event shape with a standard normal base; conditional, p(x | c), when
  `context_features` > 0.

  Attributes:
    layers: flow layers applied data -> latent in order.
    event_shape: one example's shape (e.g. (2,)).
    context_features: K, the width of the per-example context c [B, K] that every call
      then takes (and passes to the conditional layers: couplings, MAF / IAF); 0 for an
      unconditional flow, which takes none.
  Methods:
    log_prob(x [B, *event_shape], context=None) -> [B] nats; sample(key, n, *,
    context=None, temperature=1.0) -> [n, *event_shape] (context [n, K]);
    forward_and_log_det / inverse_and_log_det (the whole chain).
  """
  layers: Sequence[Any]
  event_shape: Sequence[int]
  context_features: int = 0

  def __call__(self, x, *, inverse=False, context=None):
    if self.context_features and not any(isinstance(l, ConditionalFlowLayer)
                                         for l in self.layers):
      raise validation.ArgumentError(
          "context_features", "a conditional flow needs a conditional layer (coupling or "
          "masked autoregressive) to see the context")
    check_context(context, self.context_features, x.shape[0])
    return run_layers(self.layers, x, inverse=inverse, context=context)

  def log_prob(self, x: jax.Array, context: jax.Array | None = None) -> jax.Array:
    validation.check_shape("x", x, (None, *self.event_shape))
    z, log_det = self(x, context=context)
    return normal_log_prob(z) + log_det

  def sample(self, key: jax.Array, n: int, *, context: jax.Array | None = None,
             temperature: float = 1.0) -> jax.Array:
    validation.check_int("n", n, low=1)
    if not isinstance(temperature, jax.core.Tracer):
      validation.check_number("temperature", temperature, low=0.0)
    z = temperature * random.normal(key, (n, *self.event_shape))
    return self(z, inverse=True, context=context)[0]


def realnvp_flow(num_dims: int = 2, *, num_layers: int = 8,
                 hidden: Sequence[int] = (64, 64), context_features: int = 0) -> Flow:
  """RealNVP on [B, D] (Dinh et al. 2017): affine couplings with alternating masks, each
  followed by ActNorm; conditioned on a context [B, context_features] when that is > 0."""
  mlp = functools.partial(nets.CouplingMLP, hidden=tuple(hidden))
  layers = []
  for i in range(validation.check_int("num_layers", num_layers, low=1)):
    layers += [AffineCoupling(checkerboard_mask((num_dims,), i % 2), mlp), ActNorm()]
  return Flow(layers=layers, event_shape=(num_dims,), context_features=context_features)


def spline_flow(num_dims: int = 2, *, num_layers: int = 4, hidden: Sequence[int] = (64, 64),
                num_bins: int = 8, bound: float = 4.0, context_features: int = 0) -> Flow:
  """Rational-quadratic spline couplings (Durkan et al. 2019, RQ-NSF (C)) with alternating
  masks, each followed by a learned LU affine map (their linear 'mixing' layers);
  conditioned on a context [B, context_features] when that is > 0."""
  mlp = functools.partial(nets.CouplingMLP, hidden=tuple(hidden))
  layers = []
  for i in range(validation.check_int("num_layers", num_layers, low=1)):
    layers += [SplineCoupling(checkerboard_mask((num_dims,), i % 2), mlp,
                              num_bins=num_bins, bound=bound), LUAffine()]
  return Flow(layers=layers, event_shape=(num_dims,), context_features=context_features)


def maf_flow(num_dims: int = 2, *, num_layers: int = 5, hidden: Sequence[int] = (64, 64),
             inverse_autoregressive: bool = False, context_features: int = 0) -> Flow:
  """MAF (Papamakarios et al. 2017), or IAF: masked autoregressive layers with the order
  reversed between layers, each followed by ActNorm (their batch norm's role); a
  conditional MAF / IAF (sec. 3.4) on a context [B, context_features] when that is > 0."""
  layers = []
  for i in range(validation.check_int("num_layers", num_layers, low=1)):
    order = tuple(range(num_dims)) if i % 2 == 0 else tuple(reversed(range(num_dims)))
    layers += [MaskedAutoregressive(num_dims, tuple(hidden), input_order=order,
                                    inverse_autoregressive=inverse_autoregressive),
               ActNorm()]
  return Flow(layers=layers, event_shape=(num_dims,), context_features=context_features)


# ------------------------------------------------------------------------- multi-scale


class MultiScaleFlow(nn.Module):
  """RealNVP / Glow multi-scale flow for images x in [0, 1]^(H x W x C).

  log p(x) = log |det d logit/dx| + sum over levels of (log-dets + log p(factored half))
    + log N(final z; 0, I),
  with y = logit(alpha + (1 - 2 alpha) x) first (`Logit`, its log-det counted).

  Attributes:
    image_shape: (H, W, C); H and W divisible by 2^num_levels.
    kind: 'glow' or 'realnvp'.
    num_levels: levels (each ends with a squeeze; all but the last factor out half).
    steps_per_level: flow steps per level (RealNVP: that many checkerboard couplings
      before the squeeze and that many channel couplings after it).
    channels, num_blocks: the conditioners' `nets.CouplingResNet` size.
    alpha: the logit pre-processing's margin.
    split_prior: learned split priors N(mu(h), exp(s(h))) from the kept half h (Glow's
      `nets.ZeroConv`); False: standard normal (RealNVP). Default: True for 'glow'.
    context_features: K > 0 for a class-conditional flow p(x | c) (Kingma & Dhariwal 2018,
      sec. 5: c the one-hot label): every coupling's conditioner and split prior also sees
      the context [B, K] (broadcast over positions), and the final latent's prior is
      N(mu(c), exp(s(c))) from a zero-initialized dense map of c. Every method then takes
      `context`.
  """
  image_shape: Sequence[int] = (28, 28, 1)
  kind: str = "glow"
  num_levels: int = 2
  steps_per_level: int = 4
  channels: int = 64
  num_blocks: int = 1
  alpha: float = 1e-6
  split_prior: bool | None = None
  context_features: int = 0

  def _prior(self) -> bool:
    return self.kind == "glow" if self.split_prior is None else bool(self.split_prior)

  def _shapes(self):
    """Per level: (shape after the level's squeeze, shape of the kept half or None)."""
    h, w, c = self.image_shape
    out = []
    for level in range(self.num_levels):
      h, w, c = h // 2, w // 2, 4 * c
      last = level == self.num_levels - 1
      out.append(((h, w, c), None if last else (h, w, c // 2)))
      if not last:
        c = c // 2
    return out

  def setup(self):
    validation.check_choice("kind", self.kind, ("glow", "realnvp"))
    validation.check_int("num_levels", self.num_levels, low=1)
    validation.check_int("steps_per_level", self.steps_per_level, low=1)
    validation.check_number("alpha", self.alpha, low=0.0, high=0.5, low_inclusive=False,
                            high_inclusive=False)  # > 0: dequantized data reach 1
    h, w, c = (int(s) for s in self.image_shape)
    scale = 2 ** self.num_levels
    if h % scale or w % scale:
      raise validation.ArgumentError(
          "num_levels", f"image_shape {tuple(self.image_shape)} must have H and W divisible "
          f"by 2^num_levels = {scale}")
    self.logit = Logit(self.alpha, event_ndims=3)
    res = functools.partial(nets.CouplingResNet, channels=self.channels,
                            num_blocks=self.num_blocks)
    pre, post, priors = [], [], []
    for level, (shape, kept) in enumerate(self._shapes()):
      before = []
      if self.kind == "realnvp":
        unsqueezed = (shape[0] * 2, shape[1] * 2, shape[2] // 4)
        for i in range(self.steps_per_level):
          before += [AffineCoupling(checkerboard_mask(unsqueezed, i % 2), res), ActNorm()]
      after = []
      for i in range(self.steps_per_level):
        if self.kind == "glow":
          after += [ActNorm(), Invertible1x1Conv(), AffineCoupling(channel_mask(shape), res)]
        else:
          after += [AffineCoupling(channel_mask(shape, i % 2), res), ActNorm()]
      pre.append(before)
      post.append(after)
      if kept is not None and self._prior():
        priors.append(nets.ZeroConv(2 * (shape[2] - kept[2])))
    self.pre, self.post, self.priors = pre, post, priors
    validation.check_int("context_features", self.context_features, low=0)
    if self.context_features:
      self.top_prior = nn.Dense(2 * int(np.prod(self._shapes()[-1][0])),
                                kernel_init=nn.initializers.zeros, name="top_prior")

  def _split_params(self, level, kept, context):
    if not self._prior():
      return 0.0, 0.0
    out = self.priors[level](with_context(kept, context))
    return out[..., 0::2], out[..., 1::2]

  def _top_params(self, context, shape):
    """The final latent's prior mean and log-scale: N(0, I) unless conditional."""
    if not self.context_features:
      return 0.0, 0.0
    out = self.top_prior(context).reshape(context.shape[0], *shape[:2], 2 * shape[2])
    return out[..., 0::2], out[..., 1::2]

  def _sizes(self):
    """Sizes of the flat latent's pieces: the factored halves level by level, then the
    final latent."""
    sizes = [int(np.prod(kept[:2])) * (shape[2] - kept[2])
             for shape, kept in self._shapes() if kept is not None]
    return sizes + [int(np.prod(self._shapes()[-1][0]))]

  def forward_and_log_det(self, x, context=None):
    """x [B, H, W, C] in [0, 1] -> (z [B, H W C], log |det dz/dx| [B]): z concatenates
    the factored-out halves standardized by their split priors, (z_l - mu) exp(-s), level
    by level, and the final latent (standardized by its prior when conditional); so
    z ~ N(0, I) under the model."""
    validation.check_shape("x", x, (None, *self.image_shape))
    check_context(context, self.context_features, x.shape[0])
    if not isinstance(x, jax.core.Tracer):  # values are known: check the support
      validation.check_range("x", x, 0.0, 1.0)
    x, total = self.logit.forward_and_log_det(x)
    latents = []
    for level, (shape, kept) in enumerate(self._shapes()):
      x, ld = run_layers(self.pre[level], x, inverse=False, context=context)
      x, ld2 = run_layers(self.post[level], squeeze(x), inverse=False, context=context)
      total = total + ld + ld2
      if kept is not None:
        x, factored = x[..., :kept[2]], x[..., kept[2]:]
        mean, log_scale = self._split_params(level, x, context)
        eps, ld = _standardize(factored, mean, log_scale)
        total = total + ld
        latents.append(eps.reshape(x.shape[0], -1))
    x, ld = _standardize(x, *self._top_params(context, self._shapes()[-1][0]))
    latents.append(x.reshape(x.shape[0], -1))
    return jnp.concatenate(latents, -1), total + ld

  def inverse_and_log_det(self, z, context=None):
    """z [B, H W C] -> (x [B, H, W, C], log |det dx/dz| [B]); the exact inverse."""
    validation.check_shape("z", z, (None, int(np.prod(self.image_shape))))
    check_context(context, self.context_features, z.shape[0])
    shapes = self._shapes()
    pieces = jnp.split(z, np.cumsum(self._sizes())[:-1], axis=-1)
    n = z.shape[0]
    mean, log_scale = self._top_params(context, shapes[-1][0])
    x, total = _unstandardize(pieces[-1].reshape(n, *shapes[-1][0]), mean, log_scale)
    piece = len(pieces) - 2
    for level in reversed(range(len(shapes))):
      shape, kept = shapes[level]
      if kept is not None:
        mean, log_scale = self._split_params(level, x, context)
        factored, ld = _unstandardize(pieces[piece].reshape(n, *kept[:2], shape[2] - kept[2]),
                                      mean, log_scale)
        piece -= 1
        x = jnp.concatenate([x, factored], -1)
        total = total + ld
      x, ld = run_layers(self.post[level], x, inverse=True, context=context)
      x, ld2 = run_layers(self.pre[level], unsqueeze(x), inverse=True, context=context)
      total = total + ld + ld2
    x, ld = self.logit.inverse_and_log_det(x)
    return x, total + ld

  def log_prob(self, x: jax.Array, context: jax.Array | None = None) -> jax.Array:
    """log p(x) [B] (or log p(x | context)), nats, of x in [0, 1]^(H x W x C) (a density
    on the unit cube)."""
    z, log_det = self.forward_and_log_det(x, context)
    return normal_log_prob(z) + log_det

  def sample(self, key: jax.Array, n: int, *, context: jax.Array | None = None,
             temperature: float = 1.0) -> jax.Array:
    """n images [n, H, W, C] in [0, 1] (given context [n, K] when conditional): every
    latent (final and factored) drawn at `temperature` times its scale."""
    validation.check_int("n", n, low=1)
    if not isinstance(temperature, jax.core.Tracer):
      validation.check_number("temperature", temperature, low=0.0)
    z = random.normal(key, (n, int(np.prod(self.image_shape))))
    x, _ = self.inverse_and_log_det(temperature * z, context)
    return jnp.clip(x, 0.0, 1.0)

  def __call__(self, x, context=None):
    return self.log_prob(x, context)


def _standardize(v, mean, log_scale):
  """(v - mean) exp(-log_scale) and its log-det, -sum(log_scale) per example."""
  eps = (v - mean) * jnp.exp(-log_scale)
  return eps, -jnp.broadcast_to(log_scale, eps.shape).reshape(v.shape[0], -1).sum(-1)


def _unstandardize(eps, mean, log_scale):
  """The inverse of `_standardize`, with its log-det."""
  v = mean + jnp.exp(log_scale) * eps
  return v, jnp.broadcast_to(log_scale, eps.shape).reshape(eps.shape[0], -1).sum(-1)


# ------------------------------------------------------------------------ dequantization


def uniform_dequantize(key: jax.Array, x: jax.Array, *, num_levels: int = 256) -> jax.Array:
  """8-bit data x = k / (L - 1) -> u = (k + v) / L with v ~ U[0, 1) per element: continuous
  data on [0, 1) (Theis et al. 2016). log P(k) >= log p(u) - D log L in expectation."""
  k = jnp.round(x * (num_levels - 1))
  v = random.uniform(key, x.shape, x.dtype)
  return _below_one((k + v) / num_levels)


def _below_one(u: jax.Array) -> jax.Array:
  """(255 + v) / 256 rounds to 1.0 in float32 for v near 1: keep u in [0, 1)."""
  return jnp.minimum(u, jnp.asarray(1.0 - 2.0 ** -24, u.dtype))


class VariationalDequantizer(nn.Module):
  """Variational dequantization (Ho et al. 2019, Flow++ sec. 3.1), a conditional flow
  q(v | x) on (0, 1)^D: v = sigmoid(mu(x) + exp(s(x)) eps), eps ~ N(0, I), with mu, s from a
  `nets.CouplingResNet` of x (zero-initialized: v starts as sigmoid(eps)).

  `__call__(key, x) -> (u, log_q [B])` with u = (k + v) / L and log q(v | x) in nats:
    log q = log N(eps) - sum(s) - sum(log sigmoid'(pre)),
  so log P(k) >= E_q[log p(u) - log q(v | x)] - D log L.

  Attributes:
    channels: the conditioner's hidden channels.
    num_levels: L.
  """
  channels: int = 32
  num_levels: int = 256

  @nn.compact
  def dequantize(self, eps: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(u, log q(v | x) [B]) for the standard normal noise eps [B, H, W, C]."""
    k = jnp.round(x * (self.num_levels - 1))
    h = nets.CouplingResNet(2 * x.shape[-1], channels=self.channels, num_blocks=1)(x - 0.5)
    h = h.reshape(x.shape + (2,))
    mu, s = h[..., 0], jnp.tanh(h[..., 1])
    pre = mu + jnp.exp(s) * eps
    v = jax.nn.sigmoid(pre)
    # log dv/dpre = log sigmoid(pre) + log sigmoid(-pre), finite for any pre.
    log_dv = -jax.nn.softplus(-pre) - jax.nn.softplus(pre)
    log_q = normal_log_prob(eps) - (s + log_dv).reshape(x.shape[0], -1).sum(-1)
    return _below_one((k + v) / self.num_levels), log_q

  def __call__(self, key, x):
    eps = random.normal(key, x.shape, x.dtype)
    return self.dequantize(eps, x)


class _BoundBijector(distrax.Bijector):
  def __init__(self, layer, variables, event_ndims):
    super().__init__(event_ndims_in=event_ndims)
    self._layer, self._variables = layer, variables

  def forward_and_log_det(self, x):
    return self._layer.apply(self._variables, x, method="forward_and_log_det")

  def inverse_and_log_det(self, y):
    return self._layer.apply(self._variables, y, method="inverse_and_log_det")


def as_bijector(layer: nn.Module, variables: Any, *, event_ndims: int = 1) -> distrax.Bijector:
  """A flow layer with its variables as a `distrax.Bijector` (data -> latent), to compose
  with `distrax.Chain`, `distrax.Inverse` and `distrax.Transformed`: e.g. the model's
  density is `distrax.Transformed(base, distrax.Inverse(as_bijector(flow, variables)))`.
  Inputs [B, event...] with `event_ndims` event axes; log-dets [B]."""
  validation.check_int("event_ndims", event_ndims, low=1)
  return _BoundBijector(layer, variables, event_ndims)
