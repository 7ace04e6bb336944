"""Conditioners of coupling flows (Dinh et al. 2017; Kingma & Dhariwal 2018): networks whose
last layer starts at zero, so every coupling layer starts as the identity map.

Convolutions go through `gen_jax.nets.Conv`, the library's one conv entry point.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from gen_jax.nets.convolution import Conv


class CouplingMLP(nn.Module):
  """[B, D] -> [B, features]: ReLU dense layers, then a zero-initialized dense output.

  Attributes:
    features: output width (D times the number of transform parameters per dimension).
    hidden: widths of the hidden layers.
  """
  features: int
  hidden: Sequence[int] = (64, 64)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for i, width in enumerate(self.hidden):
      x = nn.relu(nn.Dense(width, name=f"dense_{i}")(x))
    return nn.Dense(self.features, kernel_init=nn.initializers.zeros, name="out")(x)


class CouplingResNet(nn.Module):
  """[B, H, W, C] -> [B, H, W, features]: a 3x3 conv to `channels`, `num_blocks` residual
  blocks (ReLU, 3x3 conv, ReLU, 1x1 conv, added back), ReLU, and a zero-initialized 3x3 conv
  output (the shape of RealNVP's and Glow's coupling networks, without normalization).

  Attributes:
    features: output channels (C times the number of transform parameters per element).
    channels: hidden channels.
    num_blocks: residual blocks.
  """
  features: int
  channels: int = 64
  num_blocks: int = 1

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h = Conv(self.channels, (3, 3), padding="SAME", name="in")(x)
    for i in range(self.num_blocks):
      r = Conv(self.channels, (3, 3), padding="SAME", name=f"block_{i}_conv_0")(nn.relu(h))
      r = Conv(self.channels, (1, 1), name=f"block_{i}_conv_1")(nn.relu(r))
      h = h + r
    return Conv(self.features, (3, 3), padding="SAME", kernel_init=nn.initializers.zeros,
                name="out")(nn.relu(h))


class ZeroConv(nn.Module):
  """A zero-initialized 3x3 conv whose output is scaled by exp(3 * logs) with learned
  per-channel logs (Glow's `Conv2dZeros`, the split priors' network): [B, H, W, C] ->
  [B, H, W, features], exactly 0 at initialization."""
  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    y = Conv(self.features, (3, 3), padding="SAME", kernel_init=nn.initializers.zeros,
             name="conv")(x)
    logs = self.param("logs", nn.initializers.zeros, (self.features,))
    return y * jax.numpy.exp(3.0 * logs)
