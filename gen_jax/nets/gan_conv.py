"""Convolutional players beyond DCGAN's pair, for 28×28 images: BEGAN's autoencoder
discriminator, the CycleGAN translator and patch critic, BiGAN/ALI's joint (x, z)
discriminator, and a discriminator that exposes a hidden layer (VAE-GAN).

Every module takes `train` (keyword) for a uniform call signature with
`gen_jax.gan.GANGame`, even where it has no batch statistics. Convolutions and batch norm
are `gen_jax.nets.Conv` / `ConvTranspose` / `BatchNorm` (flax.linen's functions and
parameters, fast on XLA:CPU).
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax.nets.convolution import Conv
from gen_jax.nets.convolution import ConvTranspose
from gen_jax.nets.batch_norm import BatchNorm

Array = jax.Array
_INIT = nn.initializers.normal(stddev=0.02)  # Radford et al. 2016, §4


def _upsample(x: Array) -> Array:
  """Nearest-neighbour ×2 (BEGAN's decoder upsamples this way, §3.5)."""
  n, h, w, c = x.shape
  return jax.image.resize(x, (n, 2 * h, 2 * w, c), "nearest")


class ConvAutoencoder(nn.Module):
  """BEGAN's discriminator (Berthelot et al. 2017, Fig. 1): x -> AE(x), same shape.

  Encoder: 3×3 ELU convs, stride-2 ones halving the side (28 -> 14 -> 7), a linear code
  of `code_dim`; the decoder mirrors it with nearest-neighbour upsampling. No output
  nonlinearity: the reconstruction is compared with x in x's own range.

  Attributes:
    features: channels per resolution level (the last is the 7×7 level).
    code_dim: h, the embedding size (64 in the paper).
    num_classes: > 0 appends a one-hot label to the code (conditional BEGAN).
    kernel_init: every layer's kernel init. Variance-preserving by default: with DCGAN's
      N(0, 0.02) the eight layers shrink the signal and its gradient so much that the
      autoencoder stays near a constant black image for thousands of steps (its L1 error
      on real digits 0.21 after 700 steps, where reconstructing all-black scores 0.26).
  """
  features: Sequence[int] = (32, 64)
  code_dim: int = 64
  num_classes: int = 0
  kernel_init: Callable[..., Array] = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: Array, labels: Array | None = None, *, train: bool = False) -> Array:
    del train
    n, height, width, channels = x.shape
    scale = 2**len(self.features)
    if height % scale or width % scale:
      raise ValueError(f"image sides {height}x{width} must be divisible by {scale}")
    h = nn.elu(Conv(self.features[0], (3, 3), kernel_init=self.kernel_init, name="enc_in")(x))
    for i, f in enumerate(self.features):
      h = nn.elu(Conv(f, (3, 3), strides=(2, 2), kernel_init=self.kernel_init,
                      name=f"enc_{i}")(h))
    side = (height // scale, width // scale)
    code = nn.Dense(self.code_dim, kernel_init=self.kernel_init, name="code")(h.reshape(n, -1))
    if self.num_classes:
      code = jnp.concatenate([code, jax.nn.one_hot(labels, self.num_classes)], -1)
    h = nn.Dense(side[0] * side[1] * self.features[-1], kernel_init=self.kernel_init,
                 name="dec_in")(code).reshape(n, *side, self.features[-1])
    for i, f in enumerate(reversed(self.features)):
      h = nn.elu(Conv(f, (3, 3), kernel_init=self.kernel_init, name=f"dec_{i}")(h))
      h = _upsample(h)
    return Conv(channels, (3, 3), kernel_init=self.kernel_init, name="dec_out")(h)


class ResidualBlock(nn.Module):
  features: int

  @nn.compact
  def __call__(self, x: Array) -> Array:
    h = nn.relu(nn.InstanceNorm(name="norm_0")(Conv(self.features, (3, 3), name="conv_0")(x)))
    h = nn.InstanceNorm(name="norm_1")(Conv(self.features, (3, 3), name="conv_1")(h))
    return x + h


class ResnetTranslator(nn.Module):
  """CycleGAN's generator (Zhu et al. 2017, App. 7.2; Johnson et al. 2016), scaled down:
  c7s1-f, d2f, d4f, R4f × blocks, u2f, uf, c7s1-C with instance norm and a tanh output.
  The transposed convs have a fast weight gradient on XLA:CPU (`gen_jax.nets.ConvTranspose`).

  Attributes:
    features: f, the first layer's channels.
    blocks: residual blocks at the lowest resolution (9 in the paper for 256×256).
  """
  features: int = 16
  blocks: int = 3

  @nn.compact
  def __call__(self, x: Array, *, train: bool = False) -> Array:
    del train
    f = self.features
    norm = lambda name: nn.InstanceNorm(name=name)
    h = nn.relu(norm("in_norm")(Conv(f, (7, 7), name="in")(x)))
    for i, mult in enumerate((2, 4)):
      h = nn.relu(norm(f"down_{i}_norm")(
          Conv(mult * f, (3, 3), strides=(2, 2), name=f"down_{i}")(h)))
    for i in range(self.blocks):
      h = ResidualBlock(4 * f, name=f"res_{i}")(h)
    for i, mult in enumerate((2, 1)):
      h = nn.relu(norm(f"up_{i}_norm")(
          ConvTranspose(mult * f, (3, 3), strides=(2, 2), name=f"up_{i}")(h)))
    return jnp.tanh(Conv(x.shape[-1], (7, 7), name="out")(h))


class PatchDiscriminator(nn.Module):
  """CycleGAN's PatchGAN critic (Isola et al. 2017): x -> a map of patch scores [B, h, w].

  4×4 convs, stride 2 then 1, LeakyReLU(0.2), instance norm after the first; each output
  scores one receptive-field patch (here 22×22 of a 28×28 image, on a 7×7 grid).
  """
  features: int = 32

  @nn.compact
  def __call__(self, x: Array, *, train: bool = False) -> Array:
    del train
    f = self.features
    h = nn.leaky_relu(Conv(f, (4, 4), strides=(2, 2), kernel_init=_INIT,
                           name="conv_0")(x), 0.2)
    h = Conv(2 * f, (4, 4), strides=(2, 2), kernel_init=_INIT, name="conv_1")(h)
    h = nn.leaky_relu(nn.InstanceNorm(name="norm_1")(h), 0.2)
    return Conv(1, (4, 4), kernel_init=_INIT, name="out")(h)[..., 0]


class ImageEncoder(nn.Module):
  """x [B, H, W, C] -> [B, out_dim]: stride-2 4×4 LeakyReLU convs, then dense layers.

  Attributes:
    out_dim: output width (2·latent for a Gaussian posterior, latent for BiGAN's E).
    features: channels of the stride-2 convs.
    hidden: width of the dense layer before the output.
    batch_norm: batch norm after every conv but the first.
    kernel_init: every layer's kernel init (default N(0, 0.02), Radford et al.: small
      outputs, so a Gaussian posterior starts near the prior; BiGAN's E(x) should start
      at the prior's scale instead).
  """
  out_dim: int
  features: Sequence[int] = (32, 64)
  hidden: int = 256
  batch_norm: bool = False
  kernel_init: Callable[..., Array] = _INIT

  @nn.compact
  def __call__(self, x: Array, *, train: bool = False) -> Array:
    h = x
    for i, f in enumerate(self.features):
      h = Conv(f, (4, 4), strides=(2, 2), kernel_init=self.kernel_init,
               name=f"conv_{i}")(h)
      if self.batch_norm and i > 0:
        h = BatchNorm(use_running_average=not train, momentum=0.9, name=f"bn_{i}")(h)
      h = nn.leaky_relu(h, 0.2)
    h = nn.leaky_relu(nn.Dense(self.hidden, kernel_init=self.kernel_init, name="hidden")(
        h.reshape(h.shape[0], -1)), 0.2)
    return nn.Dense(self.out_dim, kernel_init=self.kernel_init, name="out")(h)


class JointDiscriminator(nn.Module):
  """BiGAN/ALI's D(x, z) -> [B] logits (Donahue et al. 2017; Dumoulin et al. 2017).

  x goes through stride-2 convs and a dense layer, z through two dense layers, so that
  both enter the joint layers with `hidden` features each (a wide x path next to a thin
  z path lets D ignore z). Normalization-free, so each pair is scored on its own.

  Attributes:
    features: channels of the stride-2 convs on x.
    hidden: width of the x, z and joint dense layers.
    kernel_init: every layer's kernel init (default N(0, 0.02), Radford et al.).
  """
  features: Sequence[int] = (32, 64)
  hidden: int = 256
  kernel_init: Callable[..., Array] = _INIT

  @nn.compact
  def __call__(self, x: Array, z: Array, *, train: bool = False) -> Array:
    del train
    act = lambda v: nn.leaky_relu(v, 0.2)
    h = x
    for i, f in enumerate(self.features):
      h = act(Conv(f, (4, 4), strides=(2, 2), kernel_init=self.kernel_init,
                   name=f"conv_{i}")(h))
    hx = act(nn.Dense(self.hidden, kernel_init=self.kernel_init, name="x_dense")(
        h.reshape(h.shape[0], -1)))
    hz = act(nn.Dense(self.hidden, kernel_init=self.kernel_init, name="z_0")(z))
    hz = act(nn.Dense(self.hidden, kernel_init=self.kernel_init, name="z_1")(hz))
    h = act(nn.Dense(self.hidden, kernel_init=self.kernel_init, name="joint")(
        jnp.concatenate([hx, hz], -1)))
    return nn.Dense(1, kernel_init=self.kernel_init, name="out")(h)[:, 0]


class FeatureDiscriminator(nn.Module):
  """x -> (logits [B], features [B, F]) with F the flattened output of the conv layer
  `feature_layer` (Larsen et al. 2016's Dis_l, used as the reconstruction space).

  Attributes:
    features: channels of the stride-2 LeakyReLU convs.
    feature_layer: index of the conv whose activations are returned.
    batch_norm: batch norm after every conv but the first.
  """
  features: Sequence[int] = (32, 64)
  feature_layer: int = 1
  batch_norm: bool = True

  @nn.compact
  def __call__(self, x: Array, *, train: bool = False) -> tuple[Array, Array]:
    h, feats = x, None
    for i, f in enumerate(self.features):
      h = Conv(f, (4, 4), strides=(2, 2), kernel_init=_INIT, name=f"conv_{i}")(h)
      if self.batch_norm and i > 0:
        h = BatchNorm(use_running_average=not train, momentum=0.9, name=f"bn_{i}")(h)
      h = nn.leaky_relu(h, 0.2)
      if i == self.feature_layer:
        feats = h.reshape(h.shape[0], -1)
    if feats is None:
      raise ValueError(f"feature_layer={self.feature_layer} must index one of the "
                       f"{len(self.features)} conv layers")
    logits = nn.Dense(1, kernel_init=_INIT, name="out")(h.reshape(h.shape[0], -1))[:, 0]
    return logits, feats
