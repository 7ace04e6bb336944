"""The DDPM UNet (Ho et al. 2020, appendix B), the ε-model of `gen_jax.diffusion`.

A PixelCNN++-style UNet: a stack of residual blocks per resolution, each with GroupNorm,
swish, dropout and the timestep embedding added between its two 3×3 convs; self-attention
blocks at chosen resolutions; stride-2 3×3 convs down, nearest-neighbour ×2 and a 3×3 conv
up; skip connections from every down-path block to the matching up-path block. The timestep
enters as the Transformer's sinusoidal embedding followed by a two-layer MLP. Optional class
conditioning adds a learned label embedding to the timestep embedding; label index
`num_classes` is the *null* class that classifier-free guidance (Ho & Salimans 2022) trains
with label dropout and samples with.

Every spatial convolution is `gen_jax.nets.Conv` (fast and exact on XLA:CPU) and every
GroupNorm a `gen_jax.nets.GroupNorm` (flax.linen's, with the swish that follows it fused when
the opt-in CPU backend computes it: `nets.set_cpu_convolutions("onednn")`); the 1×1
"network-in-network" layers (attention q/k/v/output, the residual shortcut when channels
change) are `gen_jax.nets.Dense` over the channel axis, as in the DDPM code (flax.linen's
Dense; a oneDNN 1×1 convolution on that backend).

`UNet.ddpm_cifar10()` is the paper's 35.7M-parameter CIFAR-10 model (ch=128, multipliers
(1, 2, 2, 2), two residual blocks per resolution, attention at 16×16, dropout 0.1).
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from gen_jax.nets import onednn
from gen_jax.nets.convolution import Conv
from gen_jax.nets.dense import Dense
from gen_jax.nets.dropout import Dropout
from gen_jax.nets.group_norm import GroupNorm
from gen_jax.nets.onednn.attention import attention_reference

Array = jax.Array


def ddpm_timestep_embedding(t: Array, dim: int, *, max_period: float = 10000.0) -> Array:
  """The sinusoidal timestep embedding of the DDPM code (Vaswani et al. 2017, §3.5).

  Its exact layout ([sin, cos], frequencies over half − 1), so that DDPM weights carry over;
  `gen_jax.nets.timestep_embedding` (the TimeMLP's) orders and spaces them differently.

  emb[b, i] = sin(t_b · ω_i) and emb[b, half + i] = cos(t_b · ω_i), i < half = dim // 2,
  ω_i = exp(−log(max_period) · i / (half − 1)); an odd `dim` is zero-padded.

  Args:
    t: [B] timesteps (int or float).
    dim: embedding width (≥ 4).
    max_period: the longest wavelength.
  Returns:
    [B, dim] float32.
  """
  if t.ndim != 1:
    raise ValueError(f"t must have shape [B], got {t.shape}.")
  if dim < 4:
    raise ValueError(f"dim must be >= 4, got {dim}.")
  half = dim // 2
  freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / (half - 1))
  args = t.astype(jnp.float32)[:, None] * freqs[None]
  emb = jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=1)
  if dim % 2:
    emb = jnp.pad(emb, ((0, 0), (0, 1)))
  return emb


def _group_norm(channels: int, num_groups: int, name: str, activation=None) -> GroupNorm:
  return GroupNorm(num_groups=min(num_groups, channels), epsilon=1e-6, activation=activation,
                   name=name)


class ResBlock(nn.Module):
  """GN → swish → conv3×3 → + Dense(swish(temb)) → GN → swish → dropout → conv3×3, + skip.

  Call: (x [B, H, W, C], temb [B, E], train) -> [B, H, W, features].
  """
  features: int
  dropout: float = 0.0
  num_groups: int = 32

  @nn.compact
  def __call__(self, x: Array, temb: Array, *, train: bool) -> Array:
    h = _group_norm(x.shape[-1], self.num_groups, "norm_0", "swish")(x)
    h = Conv(self.features, (3, 3), name="conv_0")(h)
    h = h + nn.Dense(self.features, name="temb_proj")(nn.swish(temb))[:, None, None, :]
    h = _group_norm(self.features, self.num_groups, "norm_1", "swish")(h)
    h = Dropout(self.dropout, deterministic=not train)(h)
    # Zero-initialised last conv: each block starts as the identity (DDPM's init_scale=0).
    h = Conv(self.features, (3, 3), kernel_init=nn.initializers.zeros_init(),
             name="conv_1")(h)
    if x.shape[-1] != self.features:
      x = Dense(self.features, name="shortcut")(x)
    return x + h


def _attention_forward(q, k, v):
  p = jax.nn.softmax(jnp.einsum("bqc,bkc->bqk", q, k) * (q.shape[-1] ** -0.5), axis=-1)
  return jnp.einsum("bqk,bkc->bqc", p, v), p


def _attention_adjoint(q, k, v, p, o, do):
  """(dq, dk, dv) from the output cotangent do. Every product that contracts over the
  rows of the [B, N, N] matrices takes the small [B, N, C] operand transposed instead, so
  XLA never transposes a [B, N, N] array (which its autodiff of the einsums does)."""
  scale = q.shape[-1] ** -0.5
  dv = jnp.einsum("bcq,bqk->bck", jnp.swapaxes(do, 1, 2), p).swapaxes(1, 2)
  dp = jnp.einsum("bqc,bkc->bqk", do, v)
  ds = p * (dp - jnp.sum(do * o, axis=-1, keepdims=True)) * scale
  dq = jnp.einsum("bqk,bkc->bqc", ds, k)
  dk = jnp.einsum("bcq,bqk->bck", jnp.swapaxes(q, 1, 2), ds).swapaxes(1, 2)
  return dq, dk, dv


@jax.custom_jvp
def attention(q: Array, k: Array, v: Array) -> Array:
  """Single-head dot-product attention over positions: softmax(q kᵀ / √C) v.

  Equal to `attention_reference` (up to float32 summation order) in value and in all
  derivatives; only the backward pass differs: its tangent rule is written as JAX's
  transpose of the hand-written adjoint `_attention_adjoint`, so reverse mode computes that
  adjoint (no [B, N, N] transposes) while forward mode and higher orders work as for any
  JAX function (the device of `gen_jax.nets.fast_conv`). Measured at the ddpm_mnist
  UNet's 14×14×64 attention, batch 128, 2-core CPU under contention (interleaved, median
  of 7): forward + backward 881 → 724 ms (PyTorch eager bmm/softmax: 1227 ms).

  Args:
    q, k, v: [B, N, C].
  Returns:
    [B, N, C].
  """
  return _attention_forward(q, k, v)[0]


@attention.defjvp
def _attention_jvp(primals, tangents):
  q, k, v = primals
  o, p = _attention_forward(q, k, v)
  adjoint = lambda do: _attention_adjoint(q, k, v, p, o, do)
  (to,) = jax.linear_transpose(adjoint, jax.ShapeDtypeStruct(o.shape, o.dtype))(tangents)
  return o, to


def qkv_attention(qkv: Array) -> Array:
  """`attention` of the three thirds q | k | v of qkv [B, N, 3C] -> [B, N, C].

  By default `jnp.split` then `attention`. With the opt-in CPU backend
  (`nets.set_cpu_convolutions("onednn")`) a float32 input is computed on the CPU by
  `gen_jax.nets.onednn.attention` (oneDNN matmuls and a vectorized softmax per example, the
  backward pass writing one [B, N, 3C] cotangent): at the ddpm_mnist UNet's 14×14×64
  attention, batch 128, forward + backward 68.4 → 30.5 ms (2 cores, median of 10).
  """
  def split(qkv):
    return attention(*jnp.split(qkv, 3, axis=-1))
  if onednn.onednn_selected() and onednn.attention.supports(qkv.shape, qkv.dtype):
    return lax.platform_dependent(qkv, cpu=onednn.attention.attention, default=split)
  return split(qkv)


class AttentionBlock(nn.Module):
  """Self-attention over the H·W positions: x + proj(attention(GN(x) → q, k, v)).

  Call: x [B, H, W, C] -> [B, H, W, C]. Equivariant under permutations of the positions
  (apart from the GroupNorm, which is permutation-invariant).
  """
  num_groups: int = 32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    b, hgt, wid, c = x.shape
    h = _group_norm(c, self.num_groups, "norm")(x).reshape(b, hgt * wid, c)
    h = qkv_attention(Dense(3 * c, name="qkv")(h))
    h = Dense(c, kernel_init=nn.initializers.zeros_init(), name="proj_out")(h)
    return x + h.reshape(b, hgt, wid, c)


class UNet(nn.Module):
  """The DDPM ε-network: x_t [B, H, W, C], t [B] (, labels [B]) -> [B, H, W, out_channels].

  Attributes:
    base_channels: channels at full resolution (the paper's ch).
    channel_mults: channels of level i are base_channels · channel_mults[i]; every level but
      the last halves H and W (H, W divisible by 2^(levels − 1)).
    num_res_blocks: residual blocks per level on the down path (num_res_blocks + 1 up).
    attention_resolutions: side lengths (H of the feature map) with self-attention after
      each residual block; the middle block always has one.
    dropout: dropout rate inside the residual blocks (training only).
    num_classes: None for an unconditional model; else labels in [0, num_classes] are
      embedded, index num_classes being the null (unconditional) label of classifier-free
      guidance.
    out_channels: output channels; None = the input's (2× that for learned variances).
    num_groups: GroupNorm groups (fewer when a layer has fewer channels).

  Call: `unet(x, t, labels=None, *, train=False)`. With `train`, dropout draws from the
  'dropout' RNG stream (`apply(..., rngs={'dropout': key})`).
  """
  base_channels: int = 128
  channel_mults: Sequence[int] = (1, 2, 2, 2)
  num_res_blocks: int = 2
  attention_resolutions: Sequence[int] = (16,)
  dropout: float = 0.1
  num_classes: int | None = None
  out_channels: int | None = None
  num_groups: int = 32

  @classmethod
  def ddpm_cifar10(cls, **overrides) -> "UNet":
    """The DDPM paper's CIFAR-10 model (35.7M parameters at 32×32×3)."""
    config = dict(base_channels=128, channel_mults=(1, 2, 2, 2), num_res_blocks=2,
                  attention_resolutions=(16,), dropout=0.1)
    config.update(overrides)
    return cls(**config)

  def _check(self, x: Array, t: Array, labels: Array | None) -> None:
    if x.ndim != 4:
      raise ValueError(f"x must have shape [B, H, W, C], got {x.shape}.")
    if t.shape != (x.shape[0],):
      raise ValueError(f"t must have shape [B] = ({x.shape[0]},), got {t.shape}.")
    scale = 2 ** (len(self.channel_mults) - 1)
    if x.shape[1] % scale or x.shape[2] % scale:
      raise ValueError(f"x's H and W {x.shape[1:3]} must be divisible by {scale} for "
                       f"{len(self.channel_mults)} levels (channel_mults="
                       f"{tuple(self.channel_mults)}).")
    if labels is not None:
      if self.num_classes is None:
        raise ValueError("labels given to a UNet with num_classes=None.")
      if labels.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape [B] = ({x.shape[0]},), got "
                         f"{labels.shape}.")

  @nn.compact
  def __call__(self, x: Array, t: Array, labels: Array | None = None, *,
               train: bool = False) -> Array:
    t = jnp.asarray(t)
    self._check(x, t, labels)
    ch = self.base_channels
    temb = ddpm_timestep_embedding(t, ch)
    temb = nn.Dense(4 * ch, name="temb_0")(temb)
    temb = nn.Dense(4 * ch, name="temb_1")(nn.swish(temb))
    if self.num_classes is not None:
      if labels is None:  # the null label: an unconditional call
        labels = jnp.full((x.shape[0],), self.num_classes, jnp.int32)
      temb = temb + nn.Embed(self.num_classes + 1, 4 * ch, name="label_embed")(labels)

    block = lambda f, name: ResBlock(f, self.dropout, self.num_groups, name=name)
    attn = lambda name: AttentionBlock(self.num_groups, name=name)
    h = Conv(ch, (3, 3), name="conv_in")(x)
    skips = [h]
    levels = len(self.channel_mults)
    for i, mult in enumerate(self.channel_mults):
      for j in range(self.num_res_blocks):
        h = block(ch * mult, f"down_{i}_block_{j}")(h, temb, train=train)
        if h.shape[1] in self.attention_resolutions:
          h = attn(f"down_{i}_attn_{j}")(h)
        skips.append(h)
      if i != levels - 1:
        h = Conv(h.shape[-1], (3, 3), strides=(2, 2), name=f"down_{i}_downsample")(h)
        skips.append(h)

    h = block(h.shape[-1], "mid_block_0")(h, temb, train=train)
    h = attn("mid_attn")(h)
    h = block(h.shape[-1], "mid_block_1")(h, temb, train=train)

    for i in reversed(range(levels)):
      for j in range(self.num_res_blocks + 1):
        h = jnp.concatenate([h, skips.pop()], axis=-1)
        h = block(ch * self.channel_mults[i], f"up_{i}_block_{j}")(h, temb, train=train)
        if h.shape[1] in self.attention_resolutions:
          h = attn(f"up_{i}_attn_{j}")(h)
      if i != 0:
        b, hh, ww, c = h.shape
        h = jnp.broadcast_to(h[:, :, None, :, None, :], (b, hh, 2, ww, 2, c))
        h = Conv(c, (3, 3), name=f"up_{i}_upsample")(h.reshape(b, 2 * hh, 2 * ww, c))
    assert not skips

    h = _group_norm(h.shape[-1], self.num_groups, "norm_out", "swish")(h)
    out = self.out_channels if self.out_channels is not None else x.shape[-1]
    return Conv(out, (3, 3), kernel_init=nn.initializers.zeros_init(), name="conv_out")(h)


def count_params(params) -> int:
  """Number of scalars in a parameter pytree."""
  return sum(int(math.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))


__all__ = ["AttentionBlock", "ResBlock", "UNet", "attention", "attention_reference",
           "count_params", "qkv_attention",
           "ddpm_timestep_embedding"]
