"""InceptionV3 of the FID reference graph (pt_inception-2015-12-05), in Flax linen.

This is the network of the TensorFlow FID code (Heusel et al., 2017) as ported to PyTorch
by pytorch-fid and torch-fidelity (`FeatureExtractorInceptionV3`); with the converted
pt_inception-2015-12-05 weights it reproduces their pool3 features and logits. It differs
from torchvision's / the Keras InceptionV3 where the 2015 TF graph differs:
  * input: pixel values in [0, 255] resized to 299x299 with TensorFlow 1.x bilinear
    resampling (align_corners=False: source = dest * in/out, no half-pixel offset), then
    scaled (x - 128) / 128;
  * the 3x3 average pools of Mixed_5*/6*/7b exclude padding from the average
    (count_include_pad=False), as TF's AvgPool does;
  * Mixed_7c's pool branch is a 3x3 max pool (the 2015 graph's choice; the paper says avg);
  * BatchNorm epsilon 1e-3, 1008 output classes, no auxiliary head.
Layer names follow the PyTorch state dict, so the converter is a rename plus transposes.

Call: `InceptionV3().apply(variables, images)` with images [N, H, W, 3] float pixel values
in [0, 255] -> {"pool3": [N, 2048], "logits_unbiased": [N, 1008], "logits": [N, 1008]};
`logits_unbiased` omits the fc bias, as the original Inception Score code does.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.nets.convolution import Conv

INPUT_SIZE = 299
NUM_CLASSES = 1008


def _tf1_bilinear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Source indices (lo, hi) and weight of hi for TF1 resize_bilinear, align_corners=False."""
  # float32 arithmetic as in the reference, so that the taps agree bit for bit.
  src = np.arange(out_size, dtype=np.float32) * np.float32(in_size / out_size)
  lo = src.astype(np.int64)
  hi = np.minimum(lo + 1, in_size - 1)
  return lo, hi, (src - lo.astype(np.float32)).astype(np.float32)


def resize_bilinear_tf1(images: jax.Array, size: tuple[int, int]) -> jax.Array:
  """[N, H, W, C] -> [N, size[0], size[1], C], TF 1.x bilinear (align_corners=False)."""
  y_lo, y_hi, dy = _tf1_bilinear_taps(images.shape[1], size[0])
  x_lo, x_hi, dx = _tf1_bilinear_taps(images.shape[2], size[1])
  top, bottom = images[:, y_lo], images[:, y_hi]
  dx = jnp.asarray(dx)[None, None, :, None]
  top = top[:, :, x_lo] + (top[:, :, x_hi] - top[:, :, x_lo]) * dx
  bottom = bottom[:, :, x_lo] + (bottom[:, :, x_hi] - bottom[:, :, x_lo]) * dx
  return top + (bottom - top) * jnp.asarray(dy)[None, :, None, None]


class BasicConv2d(nn.Module):
  """Conv (no bias) -> BatchNorm (eps 1e-3, running statistics) -> ReLU."""
  features: int
  kernel_size: tuple[int, int]
  strides: int = 1
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x):
    ph, pw = self.padding
    x = Conv(self.features, self.kernel_size, strides=self.strides,
             padding=((ph, ph), (pw, pw)), use_bias=False, name="conv")(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
    return nn.relu(x)


def _conv(features: int, kernel: int | tuple[int, int], name: str, *, strides: int = 1,
          padding: int | tuple[int, int] = 0) -> BasicConv2d:
  kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
  padding = (padding, padding) if isinstance(padding, int) else padding
  return BasicConv2d(features, kernel, strides, padding, name=name)


def _avg_pool_3x3_same(x):
  # TF's AvgPool divides by the number of real (unpadded) inputs in the window.
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)),
                     count_include_pad=False)


def _max_pool_3x3_stride2(x):
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")


class InceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x):
    b1 = _conv(64, 1, "branch1x1")(x)
    b5 = _conv(64, 5, "branch5x5_2", padding=2)(_conv(48, 1, "branch5x5_1")(x))
    b3 = _conv(64, 1, "branch3x3dbl_1")(x)
    b3 = _conv(96, 3, "branch3x3dbl_2", padding=1)(b3)
    b3 = _conv(96, 3, "branch3x3dbl_3", padding=1)(b3)
    bp = _conv(self.pool_features, 1, "branch_pool")(_avg_pool_3x3_same(x))
    return jnp.concatenate([b1, b5, b3, bp], -1)


class InceptionB(nn.Module):
  @nn.compact
  def __call__(self, x):
    b3 = _conv(384, 3, "branch3x3", strides=2)(x)
    bd = _conv(64, 1, "branch3x3dbl_1")(x)
    bd = _conv(96, 3, "branch3x3dbl_2", padding=1)(bd)
    bd = _conv(96, 3, "branch3x3dbl_3", strides=2)(bd)
    return jnp.concatenate([b3, bd, _max_pool_3x3_stride2(x)], -1)


class InceptionC(nn.Module):
  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    b1 = _conv(192, 1, "branch1x1")(x)
    b7 = _conv(c7, 1, "branch7x7_1")(x)
    b7 = _conv(c7, (1, 7), "branch7x7_2", padding=(0, 3))(b7)
    b7 = _conv(192, (7, 1), "branch7x7_3", padding=(3, 0))(b7)
    bd = _conv(c7, 1, "branch7x7dbl_1")(x)
    bd = _conv(c7, (7, 1), "branch7x7dbl_2", padding=(3, 0))(bd)
    bd = _conv(c7, (1, 7), "branch7x7dbl_3", padding=(0, 3))(bd)
    bd = _conv(c7, (7, 1), "branch7x7dbl_4", padding=(3, 0))(bd)
    bd = _conv(192, (1, 7), "branch7x7dbl_5", padding=(0, 3))(bd)
    bp = _conv(192, 1, "branch_pool")(_avg_pool_3x3_same(x))
    return jnp.concatenate([b1, b7, bd, bp], -1)


class InceptionD(nn.Module):
  @nn.compact
  def __call__(self, x):
    b3 = _conv(320, 3, "branch3x3_2", strides=2)(_conv(192, 1, "branch3x3_1")(x))
    b7 = _conv(192, 1, "branch7x7x3_1")(x)
    b7 = _conv(192, (1, 7), "branch7x7x3_2", padding=(0, 3))(b7)
    b7 = _conv(192, (7, 1), "branch7x7x3_3", padding=(3, 0))(b7)
    b7 = _conv(192, 3, "branch7x7x3_4", strides=2)(b7)
    return jnp.concatenate([b3, b7, _max_pool_3x3_stride2(x)], -1)


class InceptionE(nn.Module):
  """Mixed_7b (pool='avg') and Mixed_7c (pool='max', as in the 2015 TF graph)."""
  pool: str = "avg"

  @nn.compact
  def __call__(self, x):
    b1 = _conv(320, 1, "branch1x1")(x)
    b3 = _conv(384, 1, "branch3x3_1")(x)
    b3 = jnp.concatenate([_conv(384, (1, 3), "branch3x3_2a", padding=(0, 1))(b3),
                          _conv(384, (3, 1), "branch3x3_2b", padding=(1, 0))(b3)], -1)
    bd = _conv(448, 1, "branch3x3dbl_1")(x)
    bd = _conv(384, 3, "branch3x3dbl_2", padding=1)(bd)
    bd = jnp.concatenate([_conv(384, (1, 3), "branch3x3dbl_3a", padding=(0, 1))(bd),
                          _conv(384, (3, 1), "branch3x3dbl_3b", padding=(1, 0))(bd)], -1)
    if self.pool == "avg":
      pooled = _avg_pool_3x3_same(x)
    else:
      pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
    bp = _conv(192, 1, "branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], -1)


class InceptionV3(nn.Module):
  """The FID InceptionV3; see the module docstring for inputs and outputs."""
  num_classes: int = NUM_CLASSES

  @nn.compact
  def __call__(self, images: jax.Array) -> dict[str, jax.Array]:
    if images.ndim != 4 or images.shape[-1] != 3:
      raise ValueError(f"images must have shape [N, H, W, 3], got {images.shape}")
    x = resize_bilinear_tf1(images.astype(jnp.float32), (INPUT_SIZE, INPUT_SIZE))
    x = (x - 128.0) / 128.0
    x = _conv(32, 3, "Conv2d_1a_3x3", strides=2)(x)
    x = _conv(32, 3, "Conv2d_2a_3x3")(x)
    x = _conv(64, 3, "Conv2d_2b_3x3", padding=1)(x)
    x = _max_pool_3x3_stride2(x)
    x = _conv(80, 1, "Conv2d_3b_1x1")(x)
    x = _conv(192, 3, "Conv2d_4a_3x3")(x)
    x = _max_pool_3x3_stride2(x)
    x = InceptionA(32, name="Mixed_5b")(x)
    x = InceptionA(64, name="Mixed_5c")(x)
    x = InceptionA(64, name="Mixed_5d")(x)
    x = InceptionB(name="Mixed_6a")(x)
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
      x = InceptionC(c7, name=name)(x)
    x = InceptionD(name="Mixed_7a")(x)
    x = InceptionE("avg", name="Mixed_7b")(x)
    x = InceptionE("max", name="Mixed_7c")(x)
    pool3 = x.mean((1, 2))
    fc = nn.Dense(self.num_classes, name="fc")
    logits = fc(pool3)
    logits_unbiased = jnp.dot(pool3, fc.variables["params"]["kernel"])
    return {"pool3": pool3, "logits_unbiased": logits_unbiased, "logits": logits}
