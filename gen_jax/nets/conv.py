"""Convolutional encoders and decoders for small images (28x28, 32x32, 8x8).

Every convolution is `gen_jax.nets.Conv` / `ConvTranspose` (flax.linen's functions and
parameters, fast on XLA:CPU)."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax.nets.convolution import Conv
from gen_jax.nets.convolution import ConvTranspose


class ConvEncoder(nn.Module):
  """Stride-2 3x3 convolutions, then a dense layer: [B, H, W, C] -> [B, features].

  Attributes:
    channels: channels of each stride-2 conv (each halves H and W, rounding up).
    features: output width.
  """
  channels: Sequence[int] = (32, 64)
  features: int = 256

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for i, c in enumerate(self.channels):
      x = nn.relu(Conv(c, (3, 3), strides=(2, 2), name=f"conv_{i}")(x))
    x = x.reshape(x.shape[0], -1)
    return nn.relu(nn.Dense(self.features, name="dense")(x))


class ConvDecoder(nn.Module):
  """Dense to a small feature map, then stride-2 transposed convs up to `image_shape`.

  Attributes:
    image_shape: (H, W, C) of the output; H and W divisible by 2**len(channels).
    channels: channels of the transposed convs, coarsest first.
    hidden: width of the dense layer before the reshape.
  """
  image_shape: Sequence[int] = (28, 28, 1)
  channels: Sequence[int] = (64, 32)
  hidden: int = 256

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    h, w, c = self.image_shape
    scale = 2 ** len(self.channels)
    if h % scale or w % scale:
      raise ValueError(f"image_shape {tuple(self.image_shape)} must have H and W divisible by "
                       f"{scale} for {len(self.channels)} upsampling layers")
    x = nn.relu(nn.Dense(self.hidden, name="dense_0")(z))
    x = nn.relu(nn.Dense((h // scale) * (w // scale) * self.channels[0], name="dense_1")(x))
    x = x.reshape(z.shape[0], h // scale, w // scale, self.channels[0])
    for i, ch in enumerate(self.channels):
      x = nn.relu(ConvTranspose(ch, (4, 4), strides=(2, 2),
                                name=f"deconv_{i}")(x))
    return Conv(c, (3, 3), padding="SAME", name="out")(x)


def one_hot_channels(labels: jax.Array | None, num_classes: int, spatial: Sequence[int],
                     dtype=jnp.float32) -> jax.Array:
  """Labels [B] -> one-hot feature maps [B, H, W, num_classes] to concatenate to images."""
  if labels is None:
    raise ValueError(f"this network is conditional (num_classes={num_classes}): pass "
                     "labels [B]")
  oh = jax.nn.one_hot(labels, num_classes, dtype=dtype)
  return jnp.broadcast_to(oh[:, None, None, :], (labels.shape[0], *spatial, num_classes))


class SpatialEncoder(nn.Module):
  """Stride-2 convs to a latent feature map: [B, H, W, C] -> [B, H/2^n, W/2^n, features]."""
  channels: Sequence[int] = (32, 64)
  features: int = 16

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for i, c in enumerate(self.channels):
      x = nn.relu(Conv(c, (4, 4), strides=(2, 2), name=f"conv_{i}")(x))
    return Conv(self.features, (1, 1), name="out")(x)


class SpatialDecoder(nn.Module):
  """Transposed stride-2 convs from a latent feature map back to `out_channels` channels."""
  channels: Sequence[int] = (64, 32)
  out_channels: int = 1

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    x = nn.relu(Conv(self.channels[0], (3, 3), padding="SAME", name="in")(z))
    for i, c in enumerate(self.channels):
      x = nn.relu(ConvTranspose(c, (4, 4), strides=(2, 2), name=f"deconv_{i}")(x))
    return Conv(self.out_channels, (3, 3), padding="SAME", name="out")(x)
