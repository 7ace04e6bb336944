"""MADE as a density model (Germain et al., 2015): the masked MLP of `gen_jax.nets.MADE`
gives every conditional's parameters in one pass; an ensemble of orders / connectivities
(order- and connectivity-agnostic training, section 4 of the paper) averages the
densities: p(x) = (1/M) Σ_m p_m(x)."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import nets
from gen_jax import random
from gen_jax import validation
from gen_jax.autoregressive._likelihood import DISTRIBUTIONS
from gen_jax.autoregressive._likelihood import LEVELS
from gen_jax.autoregressive._likelihood import log_prob as _log_prob
from gen_jax.autoregressive._sampling import draw
from gen_jax.autoregressive._sampling import sampling_noise

_MASK_SEED = 1234  # the ensemble's orders and degrees are fixed functions of the mask index


class MADE(nn.Module):
  """MADE over D dimensions: Bernoulli logits [B, ...] or categorical logits [B, ..., K].

  Attributes:
    num_dims: D (the input is [B, D] or [B, ...] with D values per example).
    hidden_sizes: hidden widths.
    distribution: 'bernoulli' or 'categorical' (input levels 0..K-1, scaled to [0, 1]).
    num_levels: K for 'categorical'.
    input_order: the order of every mask when not `order_agnostic` (None: raster order).
    num_masks: M, the size of the ensemble of masks (1: a single MADE).
    order_agnostic: mask m uses a random order, a fixed function of m.
    connectivity_agnostic: the hidden degrees are drawn from the mask index.
    activation: hidden nonlinearity.
  Call:
    x: [B, ...]; key: training key (with M > 1, one mask index is drawn from it per call,
    as the paper draws one mask per minibatch); mask_index: the mask to use when no key
    is given (default 0).
  """
  num_dims: int
  hidden_sizes: Sequence[int]
  distribution: str = "bernoulli"
  num_levels: int = LEVELS
  input_order: Sequence[int] | None = None
  num_masks: int = 1
  order_agnostic: bool = False
  connectivity_agnostic: bool = False
  activation: Callable[[jax.Array], jax.Array] = nn.relu

  def _check(self):
    validation.check_int("num_dims", self.num_dims, low=1)
    validation.check_choice("distribution", self.distribution, DISTRIBUTIONS)
    validation.check_int("num_levels", self.num_levels, low=2)
    validation.check_int("num_masks", self.num_masks, low=1)

  @property
  def num_outputs(self) -> int:
    return 1 if self.distribution == "bernoulli" else self.num_levels

  def order(self, mask_index: int | jax.Array = 0) -> jax.Array:
    """The generation order of mask `mask_index` (traceable), [D] int32."""
    base = np.arange(self.num_dims) if self.input_order is None else self.input_order
    base = nets.check_order(base, self.num_dims)
    if not self.order_agnostic:
      return base
    key = jax.random.fold_in(jax.random.key(_MASK_SEED), mask_index)
    return jax.random.permutation(key, self.num_dims).astype(jnp.int32)

  def masks(self, mask_index: int | jax.Array = 0) -> tuple[jax.Array, ...]:
    """The masks of ensemble member `mask_index` (traceable)."""
    key = None
    if self.connectivity_agnostic:
      key = jax.random.fold_in(jax.random.key(_MASK_SEED + 1), mask_index)
    return nets.made_masks(self.order(mask_index), tuple(self.hidden_sizes),
                           num_outputs=self.num_outputs, key=key)

  def setup(self):
    self._check()
    self.made = nets.MADE(num_dims=self.num_dims, hidden_sizes=tuple(self.hidden_sizes),
                          num_outputs=self.num_outputs, activation=self.activation)

  def __call__(self, x: jax.Array, labels=None, *, key: jax.Array | None = None,
               train: bool = False, mask_index: int | jax.Array | None = None) -> jax.Array:
    del labels, train
    validation.check_min_rank("x", x, 2, "[B, ...]")
    flat = x.reshape(x.shape[0], -1).astype(jnp.float32)
    validation.check_shape("x (flattened)", flat, (None, self.num_dims))
    if mask_index is None:
      mask_index = 0
      if key is not None and self.num_masks > 1:
        mask_index = jax.random.randint(random.as_key(key), (), 0, self.num_masks)
    if self.distribution == "categorical":
      flat = flat / (self.num_levels - 1)
    out = self.made(flat, masks=self.masks(mask_index))          # [B, D, K]
    if self.distribution == "bernoulli":
      return out[..., 0].reshape(x.shape)
    return out.reshape(x.shape + (self.num_levels,))


def made_log_prob(model: MADE, params, x: jax.Array) -> jax.Array:
  """log p(x) of the ensemble, [B] nats: log (1/M) Σ_m p_m(x) (M = model.num_masks; the
  single model's exact log-likelihood when M = 1)."""
  per_mask = [_log_prob(model.apply(params, x, mask_index=m), x,
                        distribution=model.distribution) for m in range(model.num_masks)]
  return jax.nn.logsumexp(jnp.stack(per_mask), axis=0) - math.log(model.num_masks)


def made_sample_fast(key: jax.Array, model: MADE, params, num: int, *,
                     mask_index: int = 0) -> jax.Array:
  """Ancestral sampling from ensemble member `mask_index` with the first layer's
  pre-activation updated incrementally (a scan over the steps: h¹ += x_{o_t} W¹[o_t]) and
  only the current dimension's output column computed: per step O(H_1 + Σ_l H_l H_{l+1} +
  H_L K) instead of a full pass's O(D H_1 + Σ_l H_l H_{l+1} + H_L D K). Same noise and draw
  rule as `sample_naive` with `order=model.order(mask_index)`, so the same key gives the same
  samples.

  Returns:
    float32 [num, D]: 0/1 or levels 0..K-1.
  """
  validation.check_int("num", num, low=1)
  dims, k = model.num_dims, model.num_outputs
  p = params["params"]["made"]
  masks = model.masks(mask_index)
  order = model.order(mask_index)
  layers = len(masks)
  weights = [p[f"masked_{i}"]["kernel"] * masks[i] for i in range(layers)]
  biases = [p[f"masked_{i}"]["bias"] for i in range(layers)]
  w_out = weights[-1].reshape(weights[-1].shape[0], dims, k)     # [H_L (or D), D, K]
  b_out = biases[-1].reshape(dims, k)
  scale = 1.0 if model.distribution == "bernoulli" else 1.0 / (model.num_levels - 1)
  noise = sampling_noise(key, (num, dims), distribution=model.distribution,
                         num_levels=model.num_levels)
  noise_o = jnp.moveaxis(noise[:, order], 1, 0)                   # [D, num, (K)]

  if layers == 1:  # no hidden layer: the output itself is the running sum
    def step(acc, inputs):
      d, u = inputs
      logits = acc[:, d] + b_out[d]                                # [num, K]
      x_d = draw(u, logits[:, 0] if k == 1 else logits, distribution=model.distribution)
      return acc + (x_d * scale)[:, None, None] * w_out[d][None], x_d
    acc0 = jnp.zeros((num, dims, k), jnp.float32)
  else:
    def step(acc, inputs):
      d, u = inputs
      h = model.activation(acc + biases[0])
      for i in range(1, layers - 1):
        h = model.activation(h @ weights[i] + biases[i])
      logits = h @ w_out[:, d] + b_out[d]                         # [num, K]
      x_d = draw(u, logits[:, 0] if k == 1 else logits, distribution=model.distribution)
      return acc + (x_d * scale)[:, None] * weights[0][d][None], x_d
    acc0 = jnp.zeros((num, weights[0].shape[1]), jnp.float32)

  _, xo = jax.lax.scan(step, acc0, (order, noise_o))
  return jnp.zeros((num, dims), jnp.float32).at[:, order].set(xo.T)
