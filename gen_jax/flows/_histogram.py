"""Histogram density estimators: the baseline every flow must beat.

A histogram model of images is a product of independent categoricals, one per *cell*:
- per pixel (`patch=None`): cell = one pixel position (and channel), values = its quantized
  level, num_bins of them (256: the 8-bit pixel itself);
- per patch (`patch=(ph, pw)`): the image is cut into non-overlapping ph x pw patches (all
  channels together), and each patch position holds a joint categorical over its
  num_bins ** (ph * pw * C) configurations, e.g. 2 x 2 patches of binarized pixels
  (num_bins=2): 16 configurations per patch.
Each categorical is the training frequency with add-alpha (Laplace) smoothing:
  p(v) = (count(v) + alpha) / (N + K alpha),   K = number of values of the cell,
so a value never seen in training gets exactly alpha / (N + K alpha).

Quantization: integer inputs are 8-bit levels 0..255; float inputs in [0, 1] are the
levels k/255 (as `gen_jax.data` serves images), read back as round(255 x). With num_bins < 256
a level l becomes floor(l * num_bins / 256) (num_bins=2: l >= 128), and the model is a
distribution over the quantized images: its NLL is comparable across models only at equal
num_bins.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax
import jax
import jax.numpy as jnp

from gen_jax import metrics
from gen_jax import validation

LEVELS = 256
MAX_CONFIGURATIONS = 1 << 16  # one patch's joint table: a few MB of float32 per position


@flax.struct.dataclass
class Histogram:
  """A fitted histogram model.

  Attributes:
    log_probs: [P, K] float32: log p of each of the K values of each of the P cells
      (pixels, or patches); each row's probabilities sum to 1.
    image_shape: (H, W, C) of the examples it models (static).
    num_bins: quantization levels per pixel (static).
    patch: (ph, pw) of a patch, (1, 1) for the per-pixel model (static).
  """
  log_probs: jax.Array
  image_shape: tuple[int, ...] = flax.struct.field(pytree_node=False)
  num_bins: int = flax.struct.field(pytree_node=False)
  patch: tuple[int, int] = flax.struct.field(pytree_node=False)


def _as_images(name: str, x: jax.Array) -> jax.Array:
  """[N, H, W, C] (a [N, H, W] array gets C = 1)."""
  validation.check_rank(name, x, (3, 4), "[N, H, W, C] or [N, H, W]")
  return x[..., None] if x.ndim == 3 else x


def quantize(x: jax.Array, num_bins: int) -> jax.Array:
  """int32 levels in [0, num_bins) of 8-bit images: integers 0..255 or floats k/255."""
  x = jnp.asarray(x)
  if jnp.issubdtype(x.dtype, jnp.floating):
    levels = jnp.clip(jnp.round(x * (LEVELS - 1)), 0, LEVELS - 1).astype(jnp.int32)
  else:
    levels = jnp.clip(x.astype(jnp.int32), 0, LEVELS - 1)
  return (levels * num_bins) // LEVELS


def _cell_values(x: jax.Array, num_bins: int, patch: tuple[int, int]) -> jax.Array:
  """[N, P] index of each cell's configuration: sum_j level_j * num_bins ** j over the
  patch's pixels in (row, column, channel) order."""
  n, h, w, c = x.shape
  ph, pw = patch
  levels = quantize(x, num_bins)
  levels = levels.reshape(n, h // ph, ph, w // pw, pw, c).transpose(0, 1, 3, 2, 4, 5)
  levels = levels.reshape(n, (h // ph) * (w // pw), ph * pw * c)
  weights = num_bins ** jnp.arange(ph * pw * c, dtype=jnp.int32)
  return jnp.sum(levels * weights, axis=-1)


def _check_patch(patch, image_shape, num_bins) -> tuple[int, int]:
  h, w, c = image_shape
  patch = (1, 1) if patch is None else tuple(patch)
  ok = len(patch) == 2 and all(isinstance(p, int) and p >= 1 for p in patch)
  if not ok or h % patch[0] or w % patch[1]:
    raise validation.ArgumentError(
        "patch", f"patch must be None or (ph, pw), positive integers dividing the image's "
        f"(H, W) = {(h, w)}, got {patch!r}")
  configurations = num_bins ** (patch[0] * patch[1] * c)
  if configurations > MAX_CONFIGURATIONS:
    raise validation.ArgumentError(
        "patch", f"patch {patch} with {c} channel(s) at num_bins={num_bins} has "
        f"{configurations} joint configurations; at most {MAX_CONFIGURATIONS} are supported "
        "(use smaller patches or fewer bins)")
  return patch


def histogram_counts(images: jax.Array, *, num_bins: int = LEVELS,
                     patch: Sequence[int] | None = None) -> jax.Array:
  """How often each cell takes each value: int32 [P, K] (every row sums to N).

  Counts of disjoint batches add up to the counts of their union, so a histogram can be
  fitted by streaming (`histogram_from_counts` turns the total into a model).

  Args:
    images, num_bins, patch: as for `histogram_fit`.
  """
  images = _as_images("images", images)
  num_bins = validation.check_int("num_bins", num_bins, low=2, high=LEVELS)
  image_shape = tuple(images.shape[1:])
  patch = _check_patch(patch, image_shape, num_bins)
  values = _cell_values(images, num_bins, patch)                       # [N, P]
  cells = values.shape[1]
  size = num_bins ** (patch[0] * patch[1] * image_shape[2])
  return jnp.zeros((cells, size), jnp.int32).at[jnp.arange(cells)[None], values].add(1)


def histogram_from_counts(counts: jax.Array, *, image_shape: Sequence[int],
                          num_bins: int = LEVELS, smoothing: float = 1.0,
                          patch: Sequence[int] | None = None) -> Histogram:
  """The add-alpha histogram of `histogram_counts` (or a sum of them).

  Args:
    counts: [P, K] counts, every row summing to the number of examples N.
    image_shape: (H, W, C) of the images counted.
    num_bins, smoothing, patch: as for `histogram_fit`.
  """
  num_bins = validation.check_int("num_bins", num_bins, low=2, high=LEVELS)
  smoothing = validation.check_number("smoothing", smoothing, low=0.0, low_inclusive=False)
  image_shape = tuple(image_shape)
  if len(image_shape) == 2:
    image_shape += (1,)
  validation.check_int("image_shape rank", len(image_shape), low=3, high=3)
  patch = _check_patch(patch, image_shape, num_bins)
  h, w, c = image_shape
  size = num_bins ** (patch[0] * patch[1] * c)
  validation.check_shape("counts", counts, ((h // patch[0]) * (w // patch[1]), size))
  n = counts[0].sum().astype(jnp.float32)
  log_probs = (jnp.log(counts.astype(jnp.float32) + smoothing)
               - jnp.log(n + size * smoothing))
  return Histogram(log_probs=log_probs, image_shape=image_shape, num_bins=num_bins,
                   patch=patch)


def histogram_fit(images: jax.Array, *, num_bins: int = LEVELS, smoothing: float = 1.0,
                  patch: Sequence[int] | None = None) -> Histogram:
  """Fits the per-pixel (or per-patch) histogram by counting, with add-alpha smoothing.

  Args:
    images: [N, H, W, C] (or [N, H, W]) 8-bit images: integer levels 0..255 or floats
      k/255 in [0, 1].
    num_bins: levels per pixel, 2..256 (256: the raw 8-bit values).
    smoothing: alpha > 0 added to every count.
    patch: None (independent pixels) or (ph, pw): a joint table over each non-overlapping
      ph x pw patch of num_bins ** (ph * pw * C) configurations.
  Returns:
    A `Histogram`; jit-compatible (the options are static).
  """
  images = _as_images("images", images)
  validation.check_rows("images", images, 1, "[N, H, W, C]")
  validation.check_number("smoothing", smoothing, low=0.0, low_inclusive=False)
  counts = histogram_counts(images, num_bins=num_bins, patch=patch)
  return histogram_from_counts(counts, image_shape=images.shape[1:], num_bins=num_bins,
                               smoothing=smoothing, patch=patch)


def histogram_log_prob(model: Histogram, x: jax.Array) -> jax.Array:
  """Exact log p(x) in nats per example, [B], of the quantized images.

  Args:
    model: a fitted `Histogram`.
    x: [B, H, W, C] (or [B, H, W]) 8-bit images like those it was fitted on.
  """
  x = _as_images("x", x)
  validation.check_shape("x", x, (None,) + model.image_shape)
  values = _cell_values(x, model.num_bins, model.patch)                # [B, P]
  cells = values.shape[1]
  return model.log_probs[jnp.arange(cells)[None], values].sum(-1)


def histogram_sample(key: jax.Array, model: Histogram, num: int) -> jax.Array:
  """num independent draws, float32 [num, H, W, C]: level l of num_bins shown as
  l / (num_bins - 1) (256 bins: the 8-bit value k/255; 2 bins: 0 or 1).

  Args:
    key: a PRNG key (typed or legacy).
    model: a fitted `Histogram`.
    num: number of images.
  """
  key = validation.check_key("key", key)
  num = validation.check_int("num", num, low=1)
  h, w, c = model.image_shape
  ph, pw = model.patch
  cells = model.log_probs.shape[0]
  values = jax.random.categorical(key, model.log_probs, shape=(num, cells))   # [num, P]
  digits = (values[..., None] // model.num_bins ** jnp.arange(ph * pw * c)) % model.num_bins
  levels = digits.reshape(num, h // ph, w // pw, ph, pw, c).transpose(0, 1, 3, 2, 4, 5)
  return levels.reshape(num, h, w, c).astype(jnp.float32) / (model.num_bins - 1)


def bits_per_dim(log_prob: jax.Array, num_dims: int, *, bin_width: float = 1.0) -> jax.Array:
  """Bits per dimension of log-likelihoods: -(log_prob + D log bin_width) / (D log 2).

  Args:
    log_prob: [B] log p(x) in nats (a probability, or a density).
    num_dims: D, the dimensions of one example (784 for MNIST).
    bin_width: 1 for a discrete model (a histogram); for a density on data scaled to
      [0, 1] from 256 levels, 1/256 turns it into the probability of each 8-bit bin
      (the convention of RealNVP, Glow and PixelCNN's bits/dim).
  Returns:
    [B] bits per dimension.
  """
  num_dims = validation.check_int("num_dims", num_dims, low=1)
  bin_width = validation.check_number("bin_width", bin_width, low=0.0, low_inclusive=False)
  # The probability of each bin is density × bin_width^D: the metrics' nll → bits/dim.
  return metrics.bits_per_dim(-(log_prob + num_dims * math.log(bin_width)), num_dims)
