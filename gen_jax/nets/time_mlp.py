"""A time-conditioned MLP: the noise-prediction network of diffusion models on vector data
(e.g. the 2-D toys), and the sinusoidal timestep embedding it shares with image models."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax.nets.dropout import Dropout


def timestep_embedding(t: jax.Array, dim: int, *, max_period: float = 10_000.0) -> jax.Array:
  """Sinusoidal embedding of integer (or real) timesteps (Vaswani et al. 2017, Sec. 3.5, as
  used by Ho et al. 2020): [cos(t w_k), sin(t w_k)] with w_k = max_period^(-k / (dim/2)).

  Args:
    t: [B] timesteps.
    dim: even embedding width.
    max_period: the longest wavelength.
  Returns:
    [B, dim] float32.
  """
  if dim % 2:
    raise ValueError(f"dim must be even, got {dim}")
  half = dim // 2
  freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
  args = jnp.asarray(t, jnp.float32)[:, None] * freqs[None]
  return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


class TimeMLP(nn.Module):
  """eps_theta(x_t, t[, label]) for vector data: x [B, D] -> [B, out_features].

  The timestep's sinusoidal embedding passes through a 2-layer MLP and is added, through its
  own projection, before every hidden layer; a class label (num_classes > 0) adds a learned
  embedding of num_classes + 1 entries, the last one the 'no label' of classifier-free
  guidance.

  Attributes:
    out_features: output width (D, or 2D for [eps, v] with learned variances).
    features: hidden widths.
    embed_dim: width of the sinusoidal embedding.
    num_classes: labels (0: unconditional).
    dropout: dropout rate on the hidden layers in training mode (needs a 'dropout' rng).
    activation: hidden nonlinearity.
  """
  out_features: int
  features: Sequence[int] = (128, 128, 128)
  embed_dim: int = 64
  num_classes: int = 0
  dropout: float = 0.0
  activation: Callable[[jax.Array], jax.Array] = nn.silu

  @nn.compact
  def __call__(self, x: jax.Array, t: jax.Array, labels: jax.Array | None = None, *,
               train: bool = False) -> jax.Array:
    width = self.features[0]
    emb = timestep_embedding(t, self.embed_dim)
    emb = nn.Dense(width, name="time_0")(emb)
    emb = nn.Dense(width, name="time_1")(self.activation(emb))
    if self.num_classes:
      if labels is None:
        labels = jnp.full((x.shape[0],), self.num_classes, jnp.int32)
      emb = emb + nn.Embed(self.num_classes + 1, width, name="label")(labels)
    h = x.reshape(x.shape[0], -1)
    for i, w in enumerate(self.features):
      h = nn.Dense(w, name=f"dense_{i}")(h) + nn.Dense(w, name=f"time_proj_{i}")(
          self.activation(emb))
      h = self.activation(h)
      if self.dropout:
        h = Dropout(self.dropout, deterministic=not train)(h)
    return nn.Dense(self.out_features, name="out")(h)
