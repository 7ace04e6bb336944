"""Small MNIST convolutional classifier: the feature extractor behind MNIST FID/KID/IS.

Inception features are a poor fit for 28x28 digits (the images are upsampled 10x and the
ImageNet classes are meaningless for them), so MNIST experiments report metrics on the
penultimate layer of this classifier instead, as e.g. Binkowski et al. (2018) and
Lucic et al. (2018, "Are GANs Created Equal?") do with their own small MNIST nets.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax.nets.convolution import Conv

FEATURE_DIM = 128
NUM_CLASSES = 10


class MNISTClassifier(nn.Module):
  """conv32-pool-conv64-pool-conv64-pool-dense128-dense10, ReLU, no normalization layers.

  Call: `model.apply({"params": params}, images) -> (features [N, 128], logits [N, 10])`,
  images float32 [N, 28, 28, 1] in [0, 1]. Features are the post-ReLU penultimate layer.
  """
  features_dim: int = FEATURE_DIM
  num_classes: int = NUM_CLASSES

  @nn.compact
  def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    # Centre the pixels so that the first layer starts near a zero-mean input.
    x = images.astype(jnp.float32) - 0.5
    for width in (32, 64, 64):
      x = nn.relu(Conv(width, (3, 3), padding="SAME")(x))
      x = nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")  # 28 -> 14 -> 7 -> 4
    x = x.reshape(x.shape[0], -1)
    features = nn.relu(nn.Dense(self.features_dim, name="penultimate")(x))
    logits = nn.Dense(self.num_classes, name="logits")(features)
    return features, logits
