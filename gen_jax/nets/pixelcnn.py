"""PixelCNN and gated PixelCNN: convolutional autoregressive networks over images.

Both map an image x [B, H, W, C] to per-dimension parameters [B, H, W, C, outputs]
(`outputs` = 1 Bernoulli logit, 256 categorical logits, or the 3K numbers of a
discretized logistic mixture) such that the parameters of pixel (r, c, channel k) depend
only on the pixels before it in raster order (rows top to bottom, columns left to right,
then channels 0..C-1 within a pixel).

* `PixelCNN` (van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016): a
  masked 7x7 convolution of type A (the centre pixel excluded), masked 3x3 convolutions
  of type B (the centre included) with residual connections, then two masked 1x1 layers.
  Its receptive field has a **blind spot**: stacked 3x3 masks grow the field up and to the
  left but only one column to the right per layer, so pixels above-right of the
  current one (they precede it) are never seen however deep the network
  (tests/nets/test_pixelcnn.py finds them by Jacobians).
* `GatedPixelCNN` (van den Oord et al., "Conditional Image Generation with PixelCNN
  Decoders", NeurIPS 2016): a vertical stack (all rows above, every column) and a
  horizontal stack (the current row, left of the pixel) with gated tanh-sigmoid units, the
  vertical stack fed into the horizontal one shifted down one row. No blind spot: with
  enough layers the field is every preceding pixel. Class conditioning adds a learned
  per-class bias to every gate (`num_classes` > 0).

Every convolution is `gen_jax.nets.Conv`, masked by `causal_mask` where a kernel would
otherwise see the future.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.nets.convolution import Conv

MASK_TYPES = ("A", "B")


def _groups(n: int, groups: int) -> np.ndarray:
  """Group (colour channel) of each of n features: contiguous blocks of n / groups."""
  if n % groups:
    raise ValueError(f"{n} features cannot be split into {groups} channel groups")
  return np.arange(n) // (n // groups)


def causal_mask(kernel_size: int | Sequence[int], in_features: int, out_features: int, *,
                mask_type: str, channel_groups: int = 1) -> np.ndarray:
  """The PixelCNN mask of a [kh, kw, in, out] kernel (float32, 0/1).

  Taps above the centre row, and left of the centre in the centre row, are kept; taps
  right of or below the centre are zeroed. At the centre tap, with features split into
  `channel_groups` contiguous groups (the colour channels R, G, B, ...), input group g
  reaches output group h iff g < h (type 'A', the first layer: a pixel's channel never
  sees itself) or g <= h (type 'B', later layers). With one group, 'A' drops the centre
  and 'B' keeps it.

  Args:
    kernel_size: int or (kh, kw), odd.
    in_features, out_features: the kernel's input and output channels, each divisible
      by channel_groups.
    mask_type: 'A' or 'B'.
    channel_groups: number of channel groups (1 for binary or grey images).
  Returns:
    float32 [kh, kw, in_features, out_features].
  """
  kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
  if kh % 2 == 0 or kw % 2 == 0:
    raise ValueError(f"kernel_size must be odd, got {(kh, kw)}")
  if mask_type not in MASK_TYPES:
    raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}")
  mask = np.zeros((kh, kw, in_features, out_features), np.float32)
  mask[:kh // 2] = 1.0
  mask[kh // 2, :kw // 2] = 1.0
  g_in, g_out = _groups(in_features, channel_groups), _groups(out_features, channel_groups)
  centre = (g_in[:, None] < g_out[None, :]) if mask_type == "A" else (
      g_in[:, None] <= g_out[None, :])
  mask[kh // 2, kw // 2] = centre.astype(np.float32)
  return mask


def _split_outputs(y: jax.Array, channels: int, outputs: int) -> jax.Array:
  """[B, H, W, channels * outputs] (channel-major blocks) -> [B, H, W, channels, outputs]."""
  return y.reshape(*y.shape[:-1], channels, outputs)


class PixelCNN(nn.Module):
  """The plain PixelCNN: x [B, H, W, C] -> parameters [B, H, W, C, outputs].

  conv_in: 7x7 type A, ReLU; conv_i (i < num_layers): x + ReLU(3x3 type B conv(x));
  ReLU; hidden: 1x1 type B, ReLU; out: 1x1 type B to C * outputs. Receptive field height
  (rows above the pixel): first_kernel // 2 + num_layers * (kernel // 2).

  Attributes:
    features: channels of every hidden layer (divisible by C).
    num_layers: residual 3x3 type-B layers.
    outputs: numbers per dimension (1: Bernoulli logit; 256: categorical logits).
    first_kernel, kernel: odd kernel sizes of the type-A and type-B layers.
    num_classes: > 0 adds a learned per-class bias to every hidden layer.
  """
  features: int = 64
  num_layers: int = 6
  outputs: int = 1
  first_kernel: int = 7
  kernel: int = 3
  num_classes: int = 0

  def layers(self, channels: int) -> list[tuple[str, int, int, int, str]]:
    """(name, kernel, in, out, mask type) of each masked conv, in order: what a
    per-position sampler replays (gen_jax.autoregressive's fast sampler)."""
    f = self.features
    return ([("conv_in", self.first_kernel, channels, f, "A")]
            + [(f"conv_{i}", self.kernel, f, f, "B") for i in range(self.num_layers)]
            + [("hidden", 1, f, f, "B"), ("out", 1, f, channels * self.outputs, "B")])

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    channels = x.shape[-1]
    cond = _class_bias(self, labels, x.shape[0])
    h = x
    for name, k, cin, cout, kind in self.layers(channels):
      conv = Conv(cout, (k, k), padding="SAME", name=name,
                  mask=causal_mask(k, cin, cout, mask_type=kind, channel_groups=channels))
      if name == "conv_in":
        h = nn.relu(conv(h) + cond(name, cout))
      elif name == "out":
        h = conv(nn.relu(h))
      elif name == "hidden":
        h = nn.relu(conv(nn.relu(h)) + cond(name, cout))
      else:
        h = h + nn.relu(conv(h) + cond(name, cout))
    return _split_outputs(h, channels, self.outputs)


def _class_bias(module: nn.Module, labels: jax.Array | None, batch: int):
  """cond(name, width) -> [B, 1, 1, width] learned per-class bias (zeros if unconditional)."""
  if not module.num_classes:
    return lambda name, width: 0.0
  if labels is None:
    raise ValueError(f"this network is conditional (num_classes={module.num_classes}): "
                     "pass labels [B]")
  one_hot = jax.nn.one_hot(labels, module.num_classes)

  def cond(name, width):
    return nn.Dense(width, use_bias=False, name=f"{name}_class")(one_hot)[:, None, None, :]
  return cond


def _gate(y: jax.Array, groups: int) -> jax.Array:
  """tanh(a) * sigmoid(b), a and b the two halves of each channel group's block of y."""
  y = y.reshape(*y.shape[:-1], groups, 2, y.shape[-1] // (2 * groups))
  out = jnp.tanh(y[..., 0, :]) * jax.nn.sigmoid(y[..., 1, :])
  return out.reshape(*out.shape[:-2], -1)


def _shift_down(x: jax.Array) -> jax.Array:
  """Row r of the result is row r - 1 of x (row 0 is zeros)."""
  return jnp.pad(x, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]


class GatedPixelCNN(nn.Module):
  """Gated PixelCNN (vertical + horizontal stacks): x [B, H, W, C] -> [B, H, W, C, outputs].

  Layer l (kernel k, p = k // 2, F = features):
    v_pre = Conv_{(p+1) x k}(v)            rows r-p..r, columns c-p..c+p (no mask: the
                                           kernel has no rows below the centre)
    h_pre = Conv_{1 x k, type B}(h) + Conv_1x1(shift_down(v_pre))   columns c-p..c
    v = tanh(v_pre[:F]) * sigmoid(v_pre[F:]),   h_new = the same gate of h_pre (+ class bias)
    h = h + Conv_1x1(h_new)  (h_new alone in layer 0)
  Layer 0's horizontal kernel is masked type A (columns left of c, and the earlier colour
  channels of the centre), so no output sees its own pixel; colour channel groups stay
  apart in the gates and 1x1 layers. Then ReLU, 1x1 type B,
  ReLU, 1x1 type B to C * outputs. v at row r sees rows <= r; it enters h only shifted
  down, so h at (r, c) sees rows < r and columns < c of row r: no blind spot.

  Attributes:
    features: F, channels of both stacks (divisible by C).
    num_layers: gated layers.
    outputs: numbers per dimension (1: Bernoulli logit; 256: categorical logits).
    first_kernel, kernel: odd kernel widths of layer 0 and of later layers.
    num_classes: > 0: class-conditional, p(x | y) (labels [B] required).
  """
  features: int = 64
  num_layers: int = 6
  outputs: int = 1
  first_kernel: int = 7
  kernel: int = 3
  num_classes: int = 0

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    channels, f = x.shape[-1], self.features
    cond = _class_bias(self, labels, x.shape[0])
    v = h = x
    for layer in range(self.num_layers):
      k = self.first_kernel if layer == 0 else self.kernel
      p = k // 2
      kind = "A" if layer == 0 else "B"
      v_pre = Conv(2 * f, (p + 1, k), padding=((p, 0), (p, p)), name=f"v_{layer}")(v)
      mask = causal_mask((1, k), channels if layer == 0 else f, 2 * f, mask_type=kind,
                         channel_groups=channels)
      h_conv = Conv(2 * f, (1, k), padding="SAME", mask=mask,
                    name=f"h_{layer}")(h)
      h_pre = h_conv + Conv(2 * f, (1, 1), name=f"v_to_h_{layer}")(_shift_down(v_pre))
      c = cond(f"gate_{layer}", 2 * f)
      v = _gate(v_pre + c, channels)
      h_new = _gate(h_pre + c, channels)
      mask = causal_mask(1, f, f, mask_type="B", channel_groups=channels)
      h_res = Conv(f, (1, 1), mask=mask, name=f"h_res_{layer}")(h_new)
      h = h_res if layer == 0 else h + h_res
    hid = Conv(f, (1, 1), name="hidden",
               mask=causal_mask(1, f, f, mask_type="B", channel_groups=channels))(nn.relu(h))
    out = Conv(channels * self.outputs, (1, 1), name="out",
               mask=causal_mask(1, f, channels * self.outputs, mask_type="B",
                                channel_groups=channels))(nn.relu(hid))
    return _split_outputs(out, channels, self.outputs)


__all__ = ["causal_mask", "PixelCNN", "GatedPixelCNN", "MASK_TYPES"]
