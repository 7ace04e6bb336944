"""Negative log-likelihood in bits per dimension."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from gen_jax import validation


def bits_per_dim(nll_nats: jax.Array, num_dims: int) -> jax.Array:
  """nll / (num_dims * ln 2): nats per example -> bits per dimension.

  Args:
    nll_nats: [...] negative log-likelihood in nats of each example (e.g. [B]).
    num_dims: dimensions per example (H * W * C); for discrete data remember the
      dequantization term, e.g. + num_dims * ln(256) when the density is on [0, 1].
  Returns:
    [...] bits per dimension, same shape as nll_nats.
  """
  num_dims = validation.check_int("num_dims", num_dims, low=1)
  return jnp.asarray(nll_nats) / (num_dims * math.log(2.0))
