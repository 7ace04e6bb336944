"""Ancestral sampling of autoregressive models: x_{o_1} ~ p(x_{o_1}), x_{o_2} ~ p(x_{o_2} |
x_{o_1}), ... One draw rule and one noise layout shared by every sampler, so a model's fast
sampler and the naive one give identical samples from the same key."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from gen_jax import nets
from gen_jax import random
from gen_jax import validation
from gen_jax.autoregressive._likelihood import DISTRIBUTIONS
from gen_jax.autoregressive._likelihood import LEVELS


def sampling_noise(key: jax.Array, shape: Sequence[int], *, distribution: str,
                   num_levels: int = LEVELS) -> jax.Array:
  """All the randomness of a draw of `shape` = [B, D], indexed by flattened dimension d:
  uniforms [B, D] ('bernoulli') or standard Gumbels [B, D, K] ('categorical')."""
  key = validation.check_key("key", key)
  validation.check_choice("distribution", distribution, DISTRIBUTIONS)
  shape = tuple(shape)
  if distribution == "bernoulli":
    return random.uniform(key, shape, jnp.float32)
  validation.check_int("num_levels", num_levels, low=2)
  return random.gumbel(key, shape + (num_levels,), jnp.float32)


def draw(noise: jax.Array, logits: jax.Array, *, distribution: str) -> jax.Array:
  """The draw of x_d from its parameters and its noise, float32:
  Bernoulli 1[u < sigmoid(l)]; categorical argmax_k (l_k + g_k) (the Gumbel-max trick)."""
  if distribution == "bernoulli":
    return (noise < jax.nn.sigmoid(logits)).astype(jnp.float32)
  return jnp.argmax(logits + noise, axis=-1).astype(jnp.float32)


def sample_naive(key: jax.Array, apply_fn: Callable[[jax.Array], jax.Array],
                 shape: Sequence[int], *, distribution: str = "bernoulli",
                 order: Sequence[int] | jax.Array | None = None,
                 num_levels: int = LEVELS) -> jax.Array:
  """Ancestral sampling by D full forward passes in one `lax.fori_loop`: O(D) times the cost
  of evaluating the model; the reference every fast sampler is tested against.

  Args:
    key: PRNG key (all the noise is drawn from it up front, see `sampling_noise`).
    apply_fn: x [*shape] -> logits ([*shape] for 'bernoulli', [*shape, K] for
      'categorical'), the model with its parameters (and labels) closed over.
    shape: [B, ...] of the samples; D = prod(shape[1:]).
    distribution: 'bernoulli' or 'categorical'.
    order: generation order, a permutation of 0..D-1 over the flattened dimensions (None:
      raster order).
    num_levels: K for 'categorical'.
  Returns:
    float32 [*shape]: 0/1 or levels 0..K-1.
  """
  shape = tuple(int(s) for s in shape)
  validation.check_choice("distribution", distribution, DISTRIBUTIONS)
  if len(shape) < 2:
    raise validation.ArgumentError("shape", f"shape must be [B, ...] with at least one data "
                                   f"axis, got {shape}")
  batch, dims = shape[0], math.prod(shape[1:])
  order = nets.check_order(jnp.arange(dims) if order is None else order, dims, name="order")
  noise = sampling_noise(key, (batch, dims), distribution=distribution, num_levels=num_levels)

  def body(t, x):
    logits = apply_fn(x.reshape(shape))
    logits = logits.reshape((batch, dims) + (() if distribution == "bernoulli" else (-1,)))
    d = order[t]
    return x.at[:, d].set(draw(noise[:, d], logits[:, d], distribution=distribution))

  x = jax.lax.fori_loop(0, dims, body, jnp.zeros((batch, dims), jnp.float32))
  return x.reshape(shape)
