"""NADE: the neural autoregressive distribution estimator (Larochelle & Murray, 2011).

For the generation order o and binary x,

  a_t = c + Σ_{s<t} W[o_s] x_{o_s}            (the hidden pre-activation of step t, [H])
  p(x_{o_t} = 1 | x_{o_<t}) = σ(b[o_t] + V[o_t] · σ(a_t))

One W is shared by every conditional, so all the a_t are an exclusive cumulative sum over
the ordered inputs (computed by a scan that carries a_t and adds one row of W per step):
O(D H) for the whole likelihood instead of O(D² H) for D separate networks (eq. 6 of the
paper). Sampling runs the same recurrence, drawing x_{o_t} before adding its row.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import nets
from gen_jax import validation
from gen_jax.autoregressive._sampling import draw
from gen_jax.autoregressive._sampling import sampling_noise


class NADE(nn.Module):
  """NADE over D binary dimensions; returns the Bernoulli logits of every conditional.

  Attributes:
    num_dims: D (the input is [B, D] or [B, ...] with D values per example).
    hidden_size: H.
    input_order: generation order, a permutation of 0..D-1 over the flattened dimensions
      (None: raster order).
    activation: the hidden nonlinearity (the paper's sigmoid by default).
  Call:
    x: [B, ...] in {0, 1}. Returns logits [B, ...] (x's shape): logits[:, d] = logit of
    p(x_d = 1 | x before d in the order), a function of those inputs only.
  """
  num_dims: int
  hidden_size: int
  input_order: Sequence[int] | None = None
  activation: Callable[[jax.Array], jax.Array] = nn.sigmoid

  def order(self) -> jax.Array:
    order = np.arange(self.num_dims) if self.input_order is None else self.input_order
    return nets.check_order(order, self.num_dims)

  def setup(self):
    validation.check_int("num_dims", self.num_dims, low=1)
    validation.check_int("hidden_size", self.hidden_size, low=1)
    d, h = self.num_dims, self.hidden_size
    self.w = self.param("w", nn.initializers.normal(1.0 / math.sqrt(d)), (d, h))
    self.c = self.param("c", nn.initializers.zeros, (h,))
    self.v = self.param("v", nn.initializers.normal(1.0 / math.sqrt(h)), (d, h))
    self.b = self.param("b", nn.initializers.zeros, (d,))

  def __call__(self, x: jax.Array, labels=None, *, key=None, train: bool = False) -> jax.Array:
    del labels, key, train  # unconditional, deterministic
    validation.check_min_rank("x", x, 2, "[B, ...]")
    flat = x.reshape(x.shape[0], -1).astype(jnp.float32)
    validation.check_shape("x (flattened)", flat, (None, self.num_dims))
    order = self.order()
    # The exclusive cumulative sum of W[o_s] x_{o_s}, carried by a scan over the steps:
    # O(D H) like jnp.cumsum over a [B, D, H] tensor, but 4.7x less CPU time per gradient
    # step at B=64, D=784, H=500 (1.21 -> 0.26 s, measured under load), and the same
    # association as nade_sample_fast.
    def step(acc, inputs):
      w_t, v_t, b_t, x_t = inputs
      logit = b_t + self.activation(self.c + acc) @ v_t
      return acc + x_t[:, None] * w_t[None], logit

    acc0 = jnp.zeros((flat.shape[0], self.hidden_size), jnp.float32)
    _, logits_o = jax.lax.scan(step, acc0, (self.w[order], self.v[order], self.b[order],
                                            flat[:, order].T))
    logits = jnp.zeros_like(flat).at[:, order].set(logits_o.T)
    return logits.reshape(x.shape)


def nade_sample_fast(key: jax.Array, model: NADE, params, num: int) -> jax.Array:
  """Ancestral sampling with incremental pre-activations: a scan over the D steps carrying
  a_t [num, H] (a_{t+1} = a_t + W[o_t] x_{o_t}), O(D H) per sample instead of the naive
  sampler's D full passes, O(D² H). Same noise and draw rule as `sample_naive`, so the same
  key gives the same samples.

  Returns:
    float32 [num, D] in {0, 1}.
  """
  validation.check_int("num", num, low=1)
  p = params["params"]
  order = model.order()
  noise = sampling_noise(key, (num, model.num_dims), distribution="bernoulli")
  w, v, b = p["w"][order], p["v"][order], p["b"][order]

  def step(acc, inputs):
    w_t, v_t, b_t, u_t = inputs
    # Same association as the model's cumsum (c added to the running sum of inputs).
    logit = b_t + model.activation(p["c"] + acc) @ v_t
    x_t = draw(u_t, logit, distribution="bernoulli")
    return acc + x_t[:, None] * w_t[None], x_t

  acc0 = jnp.zeros((num, model.hidden_size), jnp.float32)
  _, xo = jax.lax.scan(step, acc0, (w, v, b, noise[:, order].T))
  return jnp.zeros((num, model.num_dims), jnp.float32).at[:, order].set(xo.T)
