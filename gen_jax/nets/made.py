"""MADE: masked dense layers that make an MLP autoregressive (Germain et al., 2015, "MADE:
Masked Autoencoder for Distribution Estimation"), shared by the autoregressive family's MADE
and the flows' MAF / IAF (Papamakarios et al., 2017; Kingma et al., 2016).

Degrees. `input_order` is the generation order, a permutation of 0..D-1: `input_order[t]`
is the dimension produced at step t, so dimension d has degree m(d) = t + 1 where
input_order[t] = d (1..D). Hidden unit k of layer l gets a degree m^l(k) in
[min m^{l-1}, D - 1]; the masks are (eq. 12 and 13 of the paper)

  hidden:  M^l[j, k] = 1[m^l(k) >= m^{l-1}(j)]        ([in, out], so `x @ (W * M)`)
  output:  M^V[j, d] = 1[m(d) > m^L(j)]

so output d is a function of the inputs with a smaller degree only: those before d in the
order. With K outputs per dimension the output layer has D * K units, dimension-major
(unit d * K + k), reshaped to [B, D, K].
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import random
from gen_jax import validation


def check_order(input_order, num_dims: int | None = None, *, name: str = "input_order"):
  """`input_order` is a permutation of 0..D-1 (checked when it is concrete; a traced order,
  e.g. one drawn by `jax.random.permutation` inside a jitted step, is trusted). Returns it
  as an int32 array."""
  if isinstance(input_order, jax.core.Tracer):
    validation.check_rank(name, input_order, 1, "[D]")
    return input_order.astype(jnp.int32)
  order = np.asarray(input_order)
  if order.ndim != 1 or order.size == 0:
    raise validation.ArgumentError(name, f"{name} must be a permutation of 0..D-1 (shape "
                                   f"[D]), got shape {order.shape}")
  if num_dims is not None and order.size != num_dims:
    raise validation.ArgumentError(name, f"{name} must be a permutation of 0..{num_dims - 1}"
                                   f" ({num_dims} entries), got {order.size} entries")
  if (not np.issubdtype(order.dtype, np.integer) and
      not np.all(np.equal(np.mod(order, 1), 0))) or not np.array_equal(
          np.sort(order.astype(np.int64)), np.arange(order.size)):
    raise validation.ArgumentError(name, f"{name} must be a permutation of 0..{order.size - 1}"
                                   f", got {order.tolist()}")
  return jnp.asarray(order, jnp.int32)


def order_degrees(input_order) -> jax.Array:
  """Degrees of the inputs, [D] int32: m(d) = 1 + the step at which d is generated."""
  order = check_order(input_order)
  num_dims = order.shape[0]
  return jnp.zeros(num_dims, jnp.int32).at[order].set(jnp.arange(1, num_dims + 1, dtype=jnp.int32))


def made_degrees(input_order, hidden_sizes: Sequence[int], *,
                 key: jax.Array | None = None) -> tuple[jax.Array, ...]:
  """Degrees of the input and each hidden layer: ([D], [H_1], ..., [H_L]), int32.

  Hidden degrees lie in [min of the previous layer's degrees, D - 1] (units with degree D
  would reach no output). Deterministic by default: they cycle through that range, so every
  degree has units when the layer is wide enough; with `key`, they are drawn uniformly
  (connectivity-agnostic training, Germain et al. section 4.2: draw a new key per step).
  For D = 1 no hidden unit can feed the output; they get degree 1 and are cut off.
  """
  for i, size in enumerate(hidden_sizes):
    validation.check_int(f"hidden_sizes[{i}]", size, low=1)
  degrees = [order_degrees(input_order)]
  num_dims = degrees[0].shape[0]
  keys = ([None] * len(hidden_sizes) if key is None
          else list(jax.random.split(random.as_key(key), max(len(hidden_sizes), 1))))
  for size, layer_key in zip(hidden_sizes, keys):
    low = jnp.min(degrees[-1]) if degrees[-1].shape[0] else 1
    high = max(num_dims - 1, 1)  # inclusive
    if layer_key is None:
      span = jnp.maximum(high - low + 1, 1)
      deg = low + jnp.arange(size, dtype=jnp.int32) % span
    else:
      deg = jax.random.randint(layer_key, (size,), low, high + 1, dtype=jnp.int32)
    degrees.append(jnp.minimum(deg, high).astype(jnp.int32))
  return tuple(degrees)


def made_masks(input_order, hidden_sizes: Sequence[int], *, num_outputs: int = 1,
               key: jax.Array | None = None) -> tuple[jax.Array, ...]:
  """The MADE masks, float32 [in, out] per layer: [D, H_1], [H_1, H_2], ..., [H_L, D * K].

  Args:
    input_order: generation order, a permutation of 0..D-1 (an `ArgumentError` otherwise).
    hidden_sizes: widths of the hidden layers (may be empty: then one mask [D, D * K], the
      strictly "earlier inputs only" linear autoregressive model).
    num_outputs: K parameters per dimension (e.g. 1 Bernoulli logit, 256 categorical logits,
      2 for a MAF's shift and log-scale).
    key: None for the deterministic degrees, else a key for random hidden degrees.
  Returns:
    masks with M[j, k] = 1 where input unit j may feed unit k.
  """
  validation.check_int("num_outputs", num_outputs, low=1)
  degrees = made_degrees(input_order, hidden_sizes, key=key)
  masks = [(d_out[None, :] >= d_in[:, None]).astype(jnp.float32)
           for d_in, d_out in zip(degrees[:-1], degrees[1:])]
  out_degrees = jnp.repeat(degrees[0], num_outputs)               # dimension-major
  masks.append((out_degrees[None, :] > degrees[-1][:, None]).astype(jnp.float32))
  return tuple(masks)


class MaskedDense(nn.Module):
  """y = x @ (W * mask) + b: a dense layer whose weight is masked elementwise.

  The mask is an argument of the call (not an attribute), so it may be traced: resampled
  from a key each step for order- or connectivity-agnostic training.

  Attributes:
    features: output width.
  """
  features: int
  kernel_init: Callable = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
    validation.check_shape("mask", mask, (x.shape[-1], self.features))
    kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
    return x @ (kernel * mask.astype(kernel.dtype)) + bias


class MADE(nn.Module):
  """An MLP made autoregressive by masks: out[:, d] depends only on x's dimensions before d
  in `input_order` (and on the whole `context`, when given).

  Attributes:
    num_dims: D.
    hidden_sizes: hidden widths H_1..H_L.
    num_outputs: K parameters per dimension.
    input_order: the default generation order (None: 0, 1, ..., D-1).
    activation: nonlinearity after each hidden layer.
  Call:
    x: [B, D]; context: optional [B, C], connected unmasked to the first hidden layer and to
    the outputs (the first dimension has no hidden input): a conditional density
    p(x | context) (e.g. a MAF's conditioning); masks: optional masks from `made_masks` for this call (another order or
    connectivity), by default those of `input_order` with deterministic degrees.
  Returns:
    [B, D, K].
  """
  num_dims: int
  hidden_sizes: Sequence[int]
  num_outputs: int = 1
  input_order: Sequence[int] | None = None
  activation: Callable[[jax.Array], jax.Array] = nn.relu

  def default_masks(self) -> tuple[jax.Array, ...]:
    order = range(self.num_dims) if self.input_order is None else self.input_order
    return made_masks(check_order(order, self.num_dims), tuple(self.hidden_sizes),
                      num_outputs=self.num_outputs)

  @nn.compact
  def __call__(self, x: jax.Array, context: jax.Array | None = None, *,
               masks: Sequence[jax.Array] | None = None) -> jax.Array:
    validation.check_shape("x", x, (None, self.num_dims))
    if context is not None:
      validation.check_rank("context", context, 2, "[B, C]")
      validation.check_leading(("x", "context"), (x, context))
    if masks is None:
      masks = self.default_masks()
    if len(masks) != len(self.hidden_sizes) + 1:
      raise validation.ArgumentError("masks", f"masks must hold {len(self.hidden_sizes) + 1} "
                                     f"masks (one per layer), got {len(masks)}")
    widths = list(self.hidden_sizes) + [self.num_dims * self.num_outputs]
    h = x.astype(jnp.float32)
    for i, (width, mask) in enumerate(zip(widths, masks)):
      out = MaskedDense(width, name=f"masked_{i}")(h, mask)
      if context is not None and (i == 0 or i == len(widths) - 1):
        # The first dimension reaches no hidden unit, so the context also feeds the
        # outputs directly: every output is conditional.
        out = out + nn.Dense(width, use_bias=False, name=f"context_{i}")(context)
      h = self.activation(out) if i < len(widths) - 1 else out
    return h.reshape(x.shape[0], self.num_dims, self.num_outputs)
