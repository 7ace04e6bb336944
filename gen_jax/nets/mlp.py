"""Multilayer perceptrons."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def flatten_with_labels(x: jax.Array, labels: jax.Array | None, num_classes: int) -> jax.Array:
  """x [B, ...] -> [B, D], with the one-hot label [B, num_classes] appended when the network
  is conditional (num_classes > 0), the input of a conditional MLP."""
  x = x.reshape(x.shape[0], -1)
  if num_classes:
    if labels is None:
      raise ValueError(f"this network is conditional (num_classes={num_classes}): pass "
                       "labels [B]")
    x = jnp.concatenate([x, jax.nn.one_hot(labels, num_classes, dtype=x.dtype)], -1)
  return x


class MLP(nn.Module):
  """Dense layers with an activation between them (none after the last).

  Attributes:
    features: output width of each layer.
    activation: nonlinearity between layers.
  """
  features: Sequence[int]
  activation: Callable[[jax.Array], jax.Array] = nn.relu

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for i, width in enumerate(self.features):
      x = nn.Dense(width, name=f"dense_{i}")(x)
      if i < len(self.features) - 1:
        x = self.activation(x)
    return x
