"""The reparameterization trick as an explicit key transform."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax import prng
from gen_jax.data import dynamic_binarize


def reparameterize(key: jax.Array, mean: jax.Array, log_var: jax.Array) -> jax.Array:
  """z = mean + exp(½·log_var)·ε, ε ~ N(0, I) drawn from `key` (Kingma & Welling 2014, §2.4).

  Args:
    key: PRNG key; the same key gives the same z. Either one key for the whole array, or
      [B] keys, one per example along the leading axis (see `example_keys`).
    mean: [...] means.
    log_var: [...] log-variances, same shape as mean.
  Returns:
    z with the shape of `mean`; differentiable in mean and log_var.
  """
  if jnp.shape(mean) != jnp.shape(log_var):
    raise ValueError(f"mean and log_var must have equal shapes, got mean: {jnp.shape(mean)}, "
                     f"log_var: {jnp.shape(log_var)}")
  eps = normal(key, jnp.shape(mean), jnp.result_type(mean))
  return mean + jnp.exp(0.5 * log_var) * eps


def _is_per_example(key: jax.Array, shape: tuple[int, ...]) -> bool:
  if key.ndim == 0:
    return False
  if key.ndim == 1 and shape and key.shape[0] == shape[0]:
    return True
  raise ValueError(f"key must be a single key or [B] keys with B = shape[0]; got keys of "
                   f"shape {key.shape} for an array of shape {shape}")


def normal(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
  """N(0, I) of `shape` from one key, or from [B] per-example keys (one row per key)."""
  # gen_jax.prng.normal equals jax.random.normal bit for bit, lowered without a while loop.
  if _is_per_example(key, shape):
    return jax.vmap(lambda k: prng.normal(k, shape[1:], dtype))(key)
  return prng.normal(key, shape, dtype)


def bernoulli(key: jax.Array, p: jax.Array) -> jax.Array:
  """Bernoulli(p) draws as float32 (`gen_jax.data.dynamic_binarize`), from one key or from
  [B] per-example keys."""
  if _is_per_example(key, p.shape):
    return jax.vmap(dynamic_binarize)(key, p)
  return dynamic_binarize(key, p)


def split_key(key: jax.Array, num: int = 2) -> jax.Array:
  """`jax.random.split` for one key ([num]) or per-example keys ([num, B])."""
  if key.ndim == 0:
    return prng.split(key, num)
  return jax.vmap(lambda k: prng.split(k, num), out_axes=1)(key)


def example_keys(key: jax.Array, batch_size: int, axis_name: str | None = None) -> jax.Array:
  """One key per example, indexed by the example's position in the *global* batch.

  Noise drawn from these keys does not depend on how the batch is split: under `jit` with a
  sharded batch the global index is the local one, and inside `pmap`/`shard_map` with
  `axis_name` the device offset is added, so both paths draw identical noise.

  Args:
    key: PRNG key of the step.
    batch_size: the local batch size.
    axis_name: the mapped axis when called inside pmap/shard_map.
  Returns:
    [batch_size] keys.
  """
  offset = 0
  if axis_name is not None:
    offset = jax.lax.axis_index(axis_name) * batch_size
  return prng.fold_in(key, offset + jnp.arange(batch_size))
