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
      gates = gates_in + _row_conv(h_prev, k_ss)
      o, fg, i, g = jnp.split(gates, 4, axis=-1)
      c = jax.nn.sigmoid(fg) * c_prev + jax.nn.sigmoid(i) * jnp.tanh(g)
      h = jax.nn.sigmoid(o) * jnp.tanh(c)
      return (h, c), h

    zeros = jnp.zeros((b, w, f), i2s.dtype)
    _, hs = jax.lax.scan(row, (zeros, zeros), jnp.moveaxis(i2s, 1, 0))
    return jnp.moveaxis(hs, 0, 1)


class PixelRNN(nn.Module):
  """Row LSTM PixelRNN: x [B, H, W, 1] -> parameters [B, H, W, 1, outputs].

  conv_in: 7x7 type A conv to `features`; num_layers Row LSTM layers (input-to-state type
  B), each added to its input (residual); ReLU, 1x1, ReLU, 1x1 to `outputs`. One channel
  (binary or grey images): the LSTM state mixes features, so colour-channel ordering is
  not kept.

  Attributes:
    features: channels of conv_in and LSTM state width.
    num_layers: Row LSTM layers.
    outputs: numbers per dimension (1: Bernoulli logit; 256: categorical logits).
    first_kernel: odd size of conv_in; kernel: odd width of the Row LSTM convolutions.
  """
  features: int = 32
  num_layers: int = 2
  outputs: int = 1
  first_kernel: int = 7
  kernel: int = 3

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    del labels  # unconditional
    if x.shape[-1] != 1:
      raise ValueError(f"PixelRNN models one channel, got x of shape {x.shape}")
    f = self.features
    h = Conv(f, (self.first_kernel,) * 2, padding="SAME", name="conv_in",
             mask=causal_mask(self.first_kernel, 1, f, mask_type="A"))(x)
    for layer in range(self.num_layers):
      h = h + RowLSTM(f, kernel=self.kernel, mask_type="B", name=f"row_lstm_{layer}")(h)
    h = nn.relu(Conv(f, (1, 1), name="hidden")(nn.relu(h)))
    return _split_outputs(Conv(self.outputs, (1, 1), name="out")(h), 1, self.outputs)


__all__ = ["RowLSTM", "PixelRNN"]
