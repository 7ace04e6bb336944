"""PixelRNN with Row LSTM layers (van den Oord et al., "Pixel Recurrent Neural Networks",
ICML 2016, section 3.1).

A Row LSTM layer processes the image one row at a time, top to bottom, computing a whole
row's LSTM state at once:

  [o, f, i, g]_r = sigmoid/tanh( K_is ⊛ x_r  +  K_ss ⊛ h_{r-1} )
  c_r = f ⊙ c_{r-1} + i ⊙ g,        h_r = o ⊙ tanh(c_r)

K_is ⊛ x_r is the input-to-state 1 x k convolution along row r, masked (type A in a first
layer, B after: columns left of the pixel, plus the pixel itself for B), computed for all
rows at once with `gen_jax.nets.Conv`; K_ss ⊛ h_{r-1} is the state-to-state 1-D
convolution of width k along the previous row (k shifted matrix products), inside a
`lax.scan` over rows. The receptive field is a triangle above the pixel (rows r - j,
columns c - j(k//2) .. c + j(k//2)) plus the current row's left part.

A Diagonal BiLSTM layer (section 3.2) sees every preceding pixel in one layer. Its
left-to-right half is an LSTM whose cell at (r, c) reads the states of the pixel above
and the pixel to its left:

  [o, f, i, g](r, c) = sigmoid/tanh( W_is x(r, c) + K_above h(r-1, c) + K_left h(r, c-1) )
  c(r, c) = f ⊙ c(r, c-1) + i ⊙ g,    h(r, c) = o ⊙ tanh(c(r, c))

computed a diagonal at a time: the input is skewed (row r shifted right by r), so that
those two neighbours are rows r-1 and r of the previous column, and a `lax.scan` runs over
the W + H - 1 columns, each step a 2 x 1 convolution of the previous column's states;
states outside the image are held at zero. The right-to-left half is the same LSTM on the
mirrored image; its output is shifted down one row before the two are added, so the layer
at (r, c) sees row r left of c (and c itself: the input-to-state term, type B) and all of
rows < r.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax.nets.convolution import Conv
from gen_jax.nets.pixelcnn import _split_outputs
from gen_jax.nets.pixelcnn import causal_mask


def _row_conv(h: jax.Array, kernel: jax.Array) -> jax.Array:
  """1-D convolution along W: h [B, W, F], kernel [k, F, G] -> [B, W, G] (zero padded)."""
  k = kernel.shape[0]
  w = h.shape[1]
  hp = jnp.pad(h, ((0, 0), (k // 2, k // 2), (0, 0)))
  return sum(hp[:, t:t + w] @ kernel[t] for t in range(k))


def lstm_cell(gates: jax.Array, c_prev: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The LSTM update from pre-activations gates [..., 4F] = [o, f, i, g] and the previous
  cell state [..., F]: c = σ(f) ⊙ c_prev + σ(i) ⊙ tanh(g), h = σ(o) ⊙ tanh(c); returns (h, c)."""
  o, fg, i, g = jnp.split(gates, 4, axis=-1)
  c = jax.nn.sigmoid(fg) * c_prev + jax.nn.sigmoid(i) * jnp.tanh(g)
  return jax.nn.sigmoid(o) * jnp.tanh(c), c


class RowLSTM(nn.Module):
  """One Row LSTM layer: x [B, H, W, F_in] -> hidden states [B, H, W, features].

  Attributes:
    features: LSTM state width.
    kernel: odd width k of both 1-D convolutions.
    mask_type: 'A' (the input-to-state conv excludes the current pixel) or 'B'.
  """
  features: int
  kernel: int = 3
  mask_type: str = "B"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    f, k = self.features, self.kernel
    mask = causal_mask((1, k), x.shape[-1], 4 * f, mask_type=self.mask_type)
    i2s = Conv(4 * f, (1, k), padding="SAME", mask=mask,
               name="input_to_state")(x)                                  # [B, H, W, 4F]
    k_ss = self.param("state_to_state", nn.initializers.lecun_normal(in_axis=(0, 1),
                                                                      out_axis=2),
                      (k, f, 4 * f), jnp.float32)
    b, _, w, _ = x.shape

    def row(carry, gates_in):
      h_prev, c_prev = carry
      h, c = lstm_cell(gates_in + _row_conv(h_prev, k_ss), c_prev)
      return (h, c), h

    zeros = jnp.zeros((b, w, f), i2s.dtype)
    _, hs = jax.lax.scan(row, (zeros, zeros), jnp.moveaxis(i2s, 1, 0))
    return jnp.moveaxis(hs, 0, 1)


def skew(x: jax.Array) -> jax.Array:
  """[B, H, W, F] -> [B, H, W + H - 1, F]: row r shifted right by r (zeros elsewhere).

  Each row padded with H zeros, the rows laid end to end and cut into rows of W + H - 1:
  x[r, c] sits at r(W + H) + c = r(W + H - 1) + (r + c) of the flat sequence."""
  b, h, w, f = x.shape
  flat = jnp.pad(x, ((0, 0), (0, 0), (0, h), (0, 0))).reshape(b, h * (w + h), f)
  return flat[:, :h * (w + h - 1)].reshape(b, h, w + h - 1, f)


def unskew(y: jax.Array, width: int) -> jax.Array:
  """The inverse of `skew`: [B, H, W + H - 1, F] -> [B, H, W, F]."""
  b, h, _, f = y.shape
  flat = jnp.pad(y.reshape(b, -1, f), ((0, 0), (0, h), (0, 0)))
  return flat.reshape(b, h, width + h, f)[:, :, :width]


class DiagonalLSTM(nn.Module):
  """The left-to-right Diagonal LSTM: x [B, H, W, F_in] -> h [B, H, W, features] (see the
  module docstring: the cell at (r, c) reads x(r, c) and the states above and to the left).

  Attributes:
    features: LSTM state width.
  """
  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    f = self.features
    b, h, w, _ = x.shape
    gates_in = nn.Dense(4 * f, name="input_to_state")(x)                 # [B, H, W, 4F]
    k_ss = self.param("state_to_state", nn.initializers.lecun_normal(in_axis=(0, 1),
                                                                      out_axis=2),
                      (2, f, 4 * f), jnp.float32)      # [above, left]
    skewed = jnp.moveaxis(skew(gates_in), 2, 0)                          # [W+H-1, B, H, 4F]
    inside = jnp.moveaxis(skew(jnp.ones((1, h, w, 1), gates_in.dtype)), 2, 0)  # [W+H-1,1,H,1]

    def column(carry, inputs):
      h_prev, c_prev = carry                         # [B, H, F]: the previous column
      g_in, valid = inputs
      above = jnp.pad(h_prev[:, :-1], ((0, 0), (1, 0), (0, 0)))   # row r - 1 of the column
      hh, c = lstm_cell(g_in + above @ k_ss[0] + h_prev @ k_ss[1], c_prev)
      hh, c = hh * valid, c * valid
      return (hh, c), hh

    zeros = jnp.zeros((b, h, f), gates_in.dtype)
    _, hs = jax.lax.scan(column, (zeros, zeros), (skewed, inside))      # [W+H-1, B, H, F]
    return unskew(jnp.moveaxis(hs, 0, 2), w)


class DiagonalBiLSTM(nn.Module):
  """A Diagonal BiLSTM layer: x [B, H, W, F_in] -> [B, H, W, features], the left-to-right
  Diagonal LSTM plus the right-to-left one (on the mirrored image) shifted down one row.

  Attributes:
    features: LSTM state width of each direction.
  """
  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    forward = DiagonalLSTM(self.features, name="left_to_right")(x)
    backward = DiagonalLSTM(self.features, name="right_to_left")(x[:, :, ::-1])[:, :, ::-1]
    return forward + jnp.pad(backward[:, :-1], ((0, 0), (1, 0), (0, 0), (0, 0)))


LAYERS = ("row", "diagonal")


class PixelRNN(nn.Module):
  """PixelRNN: x [B, H, W, 1] -> parameters [B, H, W, 1, outputs].

  conv_in: 7x7 type A conv to `features`; num_layers Row LSTM or Diagonal BiLSTM layers
  (input-to-state type B), each added to its input (residual); ReLU, 1x1, ReLU, 1x1 to
  `outputs`. One channel (binary or grey images): the LSTM state mixes features, so
  colour-channel ordering is not kept.

  Attributes:
    features: channels of conv_in and LSTM state width.
    num_layers: LSTM layers.
    outputs: numbers per dimension (1: Bernoulli logit; 256: categorical logits).
    first_kernel: odd size of conv_in; kernel: odd width of the Row LSTM convolutions.
    layer: 'row' (Row LSTM) or 'diagonal' (Diagonal BiLSTM).
  """
  features: int = 32
  num_layers: int = 2
  outputs: int = 1
  first_kernel: int = 7
  kernel: int = 3
  layer: str = "row"

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    del labels  # unconditional
    if x.shape[-1] != 1:
      raise ValueError(f"PixelRNN models one channel, got x of shape {x.shape}")
    f = self.features
    h = Conv(f, (self.first_kernel,) * 2, padding="SAME", name="conv_in",
             mask=causal_mask(self.first_kernel, 1, f, mask_type="A"))(x)
    if self.layer not in LAYERS:
      raise ValueError(f"layer must be one of {LAYERS}, got {self.layer!r}")
    for layer in range(self.num_layers):
      if self.layer == "row":
        h = h + RowLSTM(f, kernel=self.kernel, mask_type="B", name=f"row_lstm_{layer}")(h)
      else:
        h = h + DiagonalBiLSTM(f, name=f"diagonal_bilstm_{layer}")(h)
    h = nn.relu(Conv(f, (1, 1), name="hidden")(nn.relu(h)))
    return _split_outputs(Conv(self.outputs, (1, 1), name="out")(h), 1, self.outputs)


__all__ = ["lstm_cell", "RowLSTM", "DiagonalLSTM", "DiagonalBiLSTM", "PixelRNN", "skew", "unskew"]
