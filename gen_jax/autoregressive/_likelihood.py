"""Exact log-likelihoods of autoregressive models from their per-dimension parameters:
log p(x) = Σ_d log p(x_d | x_<d), each factor a Bernoulli (binary data) or a categorical over
K levels (8-bit data)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import validation

DISTRIBUTIONS = ("bernoulli", "categorical")
LEVELS = 256


def check_data(x, *, distribution: str, num_levels: int = LEVELS, name: str = "x") -> None:
  """`x` holds valid values for `distribution`: {0, 1} for 'bernoulli', integers in
  [0, num_levels - 1] for 'categorical'. Checks values only when `x` is concrete (host data,
  an eager call); traced values are unknown until XLA runs, so experiments call this on
  their data set once. Raises `ArgumentError` naming `name`."""
  validation.check_choice("distribution", distribution, DISTRIBUTIONS)
  if isinstance(x, jax.core.Tracer):
    return
  values = np.asarray(x)
  if values.size == 0:
    return
  if distribution == "bernoulli":
    bad = ~((values == 0) | (values == 1))
    if bad.any():
      raise validation.ArgumentError(
          name, f"{name} must be binary (0 or 1) for a Bernoulli model, got "
          f"{int(bad.sum())} other values, e.g. {values[bad].flat[0]!r} (binarize the data "
          "first, e.g. with gen_jax.random.bernoulli)")
  else:
    bad = ~((values >= 0) & (values <= num_levels - 1) & (np.mod(values, 1) == 0))
    if bad.any():
      raise validation.ArgumentError(
          name, f"{name} must hold integer levels in [0, {num_levels - 1}] for a categorical "
          f"model, got {int(bad.sum())} other values, e.g. {values[bad].flat[0]!r} (images in "
          f"[0, 1] become levels by round(x * {num_levels - 1}))")


def log_prob(logits: jax.Array, x: jax.Array, *, distribution: str = "bernoulli") -> jax.Array:
  """log p(x) = Σ_d log p(x_d | θ_d) in nats, exact, [B].

  Bernoulli: Σ_d x_d l_d − softplus(l_d) (l = logit of p(x_d = 1)).
  Categorical: Σ_d log softmax(l_d)[x_d] over K levels.

  Args:
    logits: the model's per-dimension parameters: [B, ...] (x's shape) for 'bernoulli',
      [B, ..., K] for 'categorical'.
    x: [B, ...] data: {0, 1} ('bernoulli') or integer levels 0..K-1 ('categorical'); the
      values are checked when x is concrete (see `check_data`).
    distribution: 'bernoulli' or 'categorical'.
  Returns:
    [B] log-likelihood per example in nats.
  """
  validation.check_choice("distribution", distribution, DISTRIBUTIONS)
  validation.check_min_rank("x", x, 1, "[B, ...]")
  if distribution == "bernoulli":
    validation.check_same_shape(("logits", "x"), (logits, x), batched=True)
    check_data(x, distribution=distribution)
    flat_l = logits.reshape(x.shape[0], -1)
    flat_x = jnp.asarray(x, flat_l.dtype).reshape(x.shape[0], -1)
    return (flat_x * flat_l - jax.nn.softplus(flat_l)).sum(-1)
  validation.check_shape("logits", logits, tuple(x.shape) + (None,))
  num_levels = logits.shape[-1]
  check_data(x, distribution=distribution, num_levels=num_levels)
  log_p = jax.nn.log_softmax(logits.reshape(x.shape[0], -1, num_levels), axis=-1)
  levels = jnp.asarray(x).reshape(x.shape[0], -1, 1).astype(jnp.int32)
  return jnp.take_along_axis(log_p, levels, -1).sum((1, 2))
