"""Fully connected GAN players: generator, discriminator (with minibatch features), and
BEGAN's autoencoder discriminator, for low-dimensional data such as 2-D mixtures.

Signatures follow `gen_jax.gan.GANGame`: generator(z, labels, train=...) -> x and
discriminator(x, labels, train=...) -> [B] logits.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import flax.linen as nn
import jax

from gen_jax.nets.mlp import flatten_with_labels


class MLPGenerator(nn.Module):
  """z [B, D] (+ one-hot label) -> x [B, *output_shape] (Metz et al. 2017, App. A: 2×128 ReLU).

  Attributes:
    output_shape: shape of one sample.
    hidden: widths of the hidden layers.
    num_classes: > 0 for a conditional generator.
    output_activation: applied to the last layer (None: linear output).
    kernel_init: initializer of every Dense kernel (Metz et al. use orthogonal(0.8)).
  """
  output_shape: Sequence[int]
  hidden: Sequence[int] = (128, 128)
  num_classes: int = 0
  activation: Callable[[jax.Array], jax.Array] = nn.relu
  output_activation: Callable[[jax.Array], jax.Array] | None = None
  kernel_init: Callable[..., jax.Array] = nn.linear.default_kernel_init

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *,
               train: bool = False) -> jax.Array:
    del train
    h = flatten_with_labels(z, labels, self.num_classes)
    for i, width in enumerate(self.hidden):
      h = self.activation(nn.Dense(width, kernel_init=self.kernel_init, name=f"dense_{i}")(h))
    out = nn.Dense(math.prod(self.output_shape), kernel_init=self.kernel_init,
                   name="out")(h)
    if self.output_activation is not None:
      out = self.output_activation(out)
    return out.reshape(z.shape[0], *self.output_shape)


class MLPDiscriminator(nn.Module):
  """x [B, ...] (+ one-hot label) -> [B] logits.

  Attributes:
    hidden: widths of the hidden layers.
    num_classes: > 0 for a conditional discriminator.
    minibatch_layer: a layer [B, F] -> [B, F'] inserted before the output layer, e.g.
      `gen_jax.gan.MinibatchDiscrimination` (Salimans et al. 2016) or
      `gen_jax.gan.MinibatchStddev` (Karras et al. 2018); None for none. (Passed in, so
      that nets do not import the GAN family.)
    kernel_init: initializer of every Dense kernel.
  """
  hidden: Sequence[int] = (128, 128)
  num_classes: int = 0
  activation: Callable[[jax.Array], jax.Array] = nn.relu
  minibatch_layer: nn.Module | None = None
  kernel_init: Callable[..., jax.Array] = nn.linear.default_kernel_init

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *,
               train: bool = False) -> jax.Array:
    del train
    h = flatten_with_labels(x, labels, self.num_classes)
    for i, width in enumerate(self.hidden):
      h = self.activation(nn.Dense(width, kernel_init=self.kernel_init, name=f"dense_{i}")(h))
    if self.minibatch_layer is not None:
      h = self.minibatch_layer(h)
    return nn.Dense(1, kernel_init=self.kernel_init, name="out")(h)[:, 0]


class MLPAutoencoder(nn.Module):
  """BEGAN's discriminator: x [B, ...] -> reconstruction of the same shape (an MLP AE).

  Attributes:
    hidden: widths of the encoder's hidden layers (the decoder mirrors them).
    code_dim: bottleneck width.
    num_classes: > 0 appends the one-hot label to the input and to the code.
  """
  hidden: Sequence[int] = (128,)
  code_dim: int = 16
  num_classes: int = 0
  activation: Callable[[jax.Array], jax.Array] = nn.elu

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *,
               train: bool = False) -> jax.Array:
    del train
    h = flatten_with_labels(x, labels, self.num_classes)
    for i, width in enumerate(self.hidden):
      h = self.activation(nn.Dense(width, name=f"enc_{i}")(h))
    h = flatten_with_labels(nn.Dense(self.code_dim, name="code")(h), labels, self.num_classes)
    for i, width in enumerate(reversed(self.hidden)):
      h = self.activation(nn.Dense(width, name=f"dec_{i}")(h))
    out = nn.Dense(math.prod(x.shape[1:]), name="out")(h)
    return out.reshape(x.shape)
