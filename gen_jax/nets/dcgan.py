"""DCGAN generator and discriminator (Radford et al. 2016) for 28×28 and 32×32 images.

The paper's guidelines (§3): strided convolutions instead of pooling (D) and
fractionally-strided ones for upsampling (G); batch norm in both players except G's
output layer and D's input layer; ReLU in G with a tanh output; LeakyReLU(0.2) in D;
no hidden fully-connected layers beyond G's projection of z and D's final logit.

Spatial plan: the image side is halved while it stays even and ≥ 4 after halving, so
28 → 14 → 7 (two stride-2 layers) and 32 → 16 → 8 → 4 (three). Feature widths double
per halving from `base_features`.

The convolutions are `gen_jax.nets.ConvTranspose` / `Conv` (the same functions and
parameters as flax.linen's, computed on XLA:CPU by phase decomposition and adjoint
gradients: several times faster for G's transposed convs' weight gradients and 1.4× for
the input gradient of D's; see `gen_jax.nets.fast_conv`). Batch norm is
`gen_jax.nets.batch_norm.BatchNorm` (flax.linen.BatchNorm's function and variables, fused
backward pass). See benchmarks/bench_dcgan.py.

Both modules follow the linen convention: `train=True` uses batch statistics and
updates the `batch_stats` collection (`mutable=["batch_stats"]`), `train=False` uses the
running averages.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax.nets.convolution import Conv
from gen_jax.nets.convolution import ConvTranspose
from gen_jax.nets import minibatch as gan_layers
from gen_jax.nets.batch_norm import BatchNorm

Array = jax.Array

# Radford et al. 2016, §4: "All weights were initialized from a zero-centered Normal
# distribution with standard deviation 0.02."
_INIT = nn.initializers.normal(stddev=0.02)
_KERNEL = (4, 4)


def spatial_plan(image_size: int) -> tuple[int, int]:
  """(starting side, number of stride-2 layers) for a square image of side image_size."""
  side, halvings = image_size, 0
  while side % 2 == 0 and side // 2 >= 4:
    side, halvings = side // 2, halvings + 1
  if halvings == 0:
    raise ValueError(f"image side {image_size} cannot be halved to ≥ 4; use e.g. 28, "
                     "32 or 64.")
  return side, halvings


def _check_image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
  if len(image_shape) != 3 or image_shape[0] != image_shape[1]:
    raise ValueError(f"image_shape must be (H, W, C) with H == W, got {image_shape}.")
  return tuple(image_shape)


def _batch_norm(train: bool, name: str) -> BatchNorm:
  # momentum 0.9 ≙ PyTorch's default momentum 0.1 used by the reference DCGAN code.
  return BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name=name)


def _labels(labels: Array | None, num_classes: int | None, batch: int) -> Array | None:
  if num_classes is None:
    if labels is not None:
      raise ValueError("labels were given but num_classes is None (unconditional model).")
    return None
  if labels is None:
    raise ValueError(f"num_classes={num_classes}: the conditional model needs labels [B].")
  if labels.shape != (batch,):
    raise ValueError(f"labels must have shape [B]=({batch},), got {labels.shape}.")
  return labels


class DCGANGenerator(nn.Module):
  """z [B, latent] (+ labels [B]) -> images [B, H, W, C] in [−1, 1].

  Attributes:
    image_shape: (H, W, C), H = W ∈ {28, 32} (any side that halves to ≥ 4 works).
    base_features: channels of the last hidden layer; earlier layers double it.
    num_classes: if set, a conditional generator: one-hot labels are concatenated to z
      (Mirza & Osindero 2014).
    batch_norm: batch norm after the projection and each hidden transposed conv.
  """
  image_shape: Sequence[int] = (28, 28, 1)
  base_features: int = 64
  num_classes: int | None = None
  batch_norm: bool = True

  @nn.compact
  def __call__(self, z: Array, labels: Array | None = None, *, train: bool) -> Array:
    if z.ndim != 2:
      raise ValueError(f"z must have shape [B, latent_dim], got {z.shape}.")
    height, _, channels = _check_image_shape(self.image_shape)
    side, halvings = spatial_plan(height)
    labels = _labels(labels, self.num_classes, z.shape[0])
    h = z
    if labels is not None:
      h = jnp.concatenate([h, jax.nn.one_hot(labels, self.num_classes, dtype=z.dtype)], -1)
    features = self.base_features * 2**(halvings - 1)
    h = nn.Dense(side * side * features, use_bias=not self.batch_norm, kernel_init=_INIT,
                 name="project")(h)
    h = h.reshape(z.shape[0], side, side, features)
    if self.batch_norm:
      h = _batch_norm(train, "project_bn")(h)
    h = nn.relu(h)
    for i in range(halvings):
      last = i == halvings - 1
      out_features = channels if last else features // 2
      h = ConvTranspose(out_features, _KERNEL, strides=(2, 2), padding="SAME",
                        use_bias=last or not self.batch_norm, kernel_init=_INIT,
                        name=f"deconv{i}")(h)
      if not last:
        if self.batch_norm:
          h = _batch_norm(train, f"deconv{i}_bn")(h)
        h = nn.relu(h)
        features //= 2
    return jnp.tanh(h)


class DCGANDiscriminator(nn.Module):
  """images [B, H, W, C] (+ labels [B]) -> logits [B].

  Attributes:
    base_features: channels of the first conv; each later stride-2 conv doubles it.
    num_classes: if set, a projection discriminator (Miyato & Koyama 2018):
      logit = ψ(φ(x)) + ⟨embed(y), φ(x)⟩ with φ(x) the flattened final features.
    batch_norm: batch norm after each conv but the first. Set False for the gradient
      penalties (WGAN-GP, DRAGAN), which need a critic that treats examples
      independently.
    minibatch_stddev: append the minibatch-stddev channel (Karras et al. 2018) to the
      final feature map.
    minibatch_discrimination: append minibatch-discrimination features (Salimans et al.
      2016) to the flattened features; `mbd_kernels` × `mbd_kernel_dim` is T's shape.
  """
  base_features: int = 64
  num_classes: int | None = None
  batch_norm: bool = True
  minibatch_stddev: bool = False
  minibatch_discrimination: bool = False
  mbd_kernels: int = 100
  mbd_kernel_dim: int = 5

  @nn.compact
  def __call__(self, x: Array, labels: Array | None = None, *, train: bool) -> Array:
    if x.ndim != 4:
      raise ValueError(f"x must have shape [B, H, W, C], got {x.shape}.")
    _, halvings = spatial_plan(_check_image_shape(x.shape[1:])[0])
    labels = _labels(labels, self.num_classes, x.shape[0])
    h, features = x, self.base_features
    for i in range(halvings):
      normalized = self.batch_norm and i > 0
      h = Conv(features, _KERNEL, strides=(2, 2), padding="SAME",
               use_bias=not normalized, kernel_init=_INIT, name=f"conv{i}")(h)
      if normalized:
        h = _batch_norm(train, f"conv{i}_bn")(h)
      h = nn.leaky_relu(h, negative_slope=0.2)
      features *= 2
    if self.minibatch_stddev:
      h = gan_layers.MinibatchStddev(name="minibatch_stddev")(h)
    h = h.reshape(h.shape[0], -1)
    if self.minibatch_discrimination:
      h = gan_layers.MinibatchDiscrimination(
          num_kernels=self.mbd_kernels, kernel_dim=self.mbd_kernel_dim,
          name="minibatch_discrimination")(h)
    logits = nn.Dense(1, kernel_init=_INIT, name="logit")(h)[:, 0]
    if labels is not None:
      embed = nn.Embed(self.num_classes, h.shape[-1], embedding_init=_INIT,
                       name="class_embed")(labels)
      logits = logits + jnp.sum(embed * h, axis=-1)
    return logits
