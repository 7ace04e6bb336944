"""Randomness shared by every family: keys of both kinds, per-example keys, fast draws.

- `as_key`: typed keys (`jax.random.key`) and legacy uint32 keys (`jax.random.PRNGKey`,
  trailing axis 2) alike; every public function of gen_jax that takes a key calls it, so
  both kinds give the same numbers for the same seed.
- `example_keys`: one key per example, indexed by its position in the *global* batch, so
  per-example noise does not depend on how the batch is split over devices.
- `bits`, `fold_in`, `split`, `uniform`, `gumbel`, `normal`, `bernoulli`: threefry draws
  lowered straight-line (below); `split`, `normal` and `bernoulli` also take [B] per-example keys.
- `reparameterize`: the Gaussian reparameterization trick as an explicit key transform.

Threefry random numbers, lowered so XLA:CPU can vectorize them: `bits`, `fold_in`, `split`,
`uniform`, `gumbel` and `normal` return exactly what `jax.random.bits` (uint32),
`jax.random.fold_in`, `jax.random.split`, `jax.random.uniform`, `jax.random.gumbel` and
`jax.random.normal` (float32) return — the same
Threefry-2x32-20 hash (Salmon et al. 2011) of the same counters — but as straight-line array
code. JAX lowers the hash for CPU as a 5-iteration `while` loop (to keep compile times short),
and XLA:CPU then writes the two state arrays to memory after every 4 rounds; straight-line,
the 20 rounds fuse into one loop that keeps its state in vector registers. Measured on the
2-core CPU this project targets: 122 µs instead of 555 µs for a 128×784 draw, the pixel noise
of one dynamically binarized MNIST batch.

Equality with `jax.random` holds for the default key implementation (threefry2x32) with
`jax_threefry_partitionable` on, JAX's default since 0.5; for any other key type or setting
these functions call `jax.random`. Each output is a function of its global index only, so a
sharded draw does not depend on the number of devices. All of them work under `vmap` over
keys (per-example keys).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

# Threefry-2x32 rotation constants, rounds 1-4 and 5-8 (Salmon et al. 2011, Table 4).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
# Key-schedule parity constant of Threefish.
_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(x: jax.Array, r: int) -> jax.Array:
  return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def threefry2x32(k0: jax.Array, k1: jax.Array, x0: jax.Array,
                 x1: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The Threefry-2x32 block function with 20 rounds, straight-line.

  Args:
    k0, k1: uint32 key words, broadcastable against the counters.
    x0, x1: uint32 counter words, same shape.
  Returns:
    The two uint32 output words.
  """
  keys = (k0, k1, k0 ^ k1 ^ _PARITY)
  x0, x1 = x0 + keys[0], x1 + keys[1]
  for i in range(5):
    for r in _ROTATIONS[i % 2]:
      x0 = x0 + x1
      x1 = _rotate_left(x1, r) ^ x0
    # Key injection after every 4 rounds, with the injection counter in the second word.
    x0 = x0 + keys[(i + 1) % 3]
    x1 = x1 + keys[(i + 2) % 3] + np.uint32(i + 1)
  return x0, x1


def as_key(key, *, name: str = "key") -> jax.Array:
  """A typed key array from a typed key or a legacy uint32 key (the kinds JAX users hold).

  Args:
    key: typed key(s) of any shape (`jax.random.key(0)`, `jax.random.split(...)`), or
      legacy raw key data, uint32 [..., 2] for the default threefry implementation
      (`jax.random.PRNGKey(0)`, `jax.random.split(PRNGKey(0), 3)`).
    name: the argument's name, for the error message.
  Returns:
    typed keys with the leading shape of `key` (a legacy [2] key becomes a scalar key).
  Raises:
    ValueError: naming `name`, if `key` is neither kind.
  """
  if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    return key
  dtype, shape = getattr(key, "dtype", None), jnp.shape(key)
  data_shape = jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0))).shape
  if dtype == jnp.uint32 and shape[len(shape) - len(data_shape):] == data_shape:
    return jax.random.wrap_key_data(key)
  raise ValueError(f"{name} must be a typed PRNG key (jax.random.key) or a legacy uint32 key "
                   f"(jax.random.PRNGKey) of shape [..., {', '.join(map(str, data_shape))}], "
                   f"got dtype {dtype} and shape {shape}")


def _is_default_threefry(key: jax.Array) -> bool:
  return (str(jax.random.key_impl(key)) == "threefry2x32"
          and bool(jax.config.jax_threefry_partitionable))


def _single_key(key, name: str = "key") -> jax.Array:
  key = as_key(key, name=name)
  if key.ndim != 0:
    raise ValueError(f"{name} must be a single key (vmap for several), got keys of shape "
                     f"{key.shape}")
  return key


def _counter(shape: tuple[int, ...]) -> jax.Array:
  """The low word of each element's row-major index (the high word is 0 below 2³²)."""
  size = math.prod(shape)
  if size >= 2**32:
    raise ValueError(f"shape must have fewer than 2**32 elements, got {shape} ({size})")
  return jax.lax.iota(jnp.uint32, max(size, 1))[:size].reshape(shape)


def bits(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """uint32 random bits of `shape`, equal to `jax.random.bits(key, shape, jnp.uint32)`.

  Args:
    key: one PRNG key, typed or legacy (vmap for several).
    shape: output shape, fewer than 2³² elements.
  Returns:
    uint32 array of `shape`.
  """
  shape = tuple(int(d) for d in shape)
  key = _single_key(key)
  if not _is_default_threefry(key):
    return jax.random.bits(key, shape, jnp.uint32)
  k = jax.random.key_data(key)
  index = _counter(shape)
  y0, y1 = threefry2x32(k[0], k[1], jnp.zeros_like(index), index)
  return y0 ^ y1


def fold_in(key: jax.Array, data: jax.Array | int) -> jax.Array:
  """`jax.random.fold_in(key, d)` for every d in `data` at once.

  Args:
    key: one PRNG key, typed or legacy.
    data: integer array of any shape (or an int), taken modulo 2³² as `jax.random.fold_in`.
  Returns:
    typed keys of `data`'s shape; element i equals `jax.random.fold_in(key, data[i])`.
  """
  key = _single_key(key)
  if isinstance(data, (int, np.integer)):
    data = np.uint32(int(data) % 2**32)
  data = jnp.asarray(data)
  if not jnp.issubdtype(data.dtype, jnp.integer):
    raise ValueError(f"data must be integers, got dtype {data.dtype}")
  if not _is_default_threefry(key):
    flat = jax.vmap(lambda d: jax.random.fold_in(key, d))(data.reshape(-1))
    return flat.reshape(data.shape)
  k = jax.random.key_data(key)
  counter = data.astype(jnp.uint32)
  y0, y1 = threefry2x32(k[0], k[1], jnp.zeros_like(counter), counter)
  return jax.random.wrap_key_data(jnp.stack([y0, y1], axis=-1),
                                  impl=jax.random.key_impl(key))


def _split_one(key: jax.Array, num: int) -> jax.Array:
  if not _is_default_threefry(key):
    return jax.random.split(key, num)
  return fold_in(key, jnp.arange(num, dtype=jnp.uint32))


def split(key: jax.Array, num: int = 2) -> jax.Array:
  """`jax.random.split(key, num)` for one key ([num] keys; with the partitionable threefry
  key i is `fold_in(key, i)`), or for [B] per-example keys ([num, B]: each split)."""
  key = as_key(key)
  if key.ndim == 0:
    return _split_one(key, num)
  if key.ndim == 1:
    return jax.vmap(lambda k: _split_one(k, num), out_axes=1)(key)
  raise ValueError(f"key must be one key or [B] per-example keys, got keys of shape "
                   f"{key.shape}")


def _per_example(key: jax.Array, shape: tuple[int, ...]) -> bool:
  """True for [B] keys drawing the rows of a [B, ...] array; False for one key."""
  if key.ndim == 0:
    return False
  if key.ndim == 1 and shape and key.shape[0] == shape[0]:
    return True
  raise ValueError(f"key must be a single key or [B] keys with B = shape[0]; got keys of "
                   f"shape {key.shape} for an array of shape {shape}")


def _unit_floats(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """float32 in [0, 1) on the grid 2⁻²³: the top 23 bits of each word as the mantissa of a
  float in [1, 2), minus 1 (jax.random's construction)."""
  mantissa = bits(key, shape) >> np.uint32(32 - 23)
  return jax.lax.bitcast_convert_type(mantissa | np.float32(1.0).view(np.uint32),
                                      jnp.float32) - np.float32(1.0)


def uniform(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32, minval=0.0,
            maxval=1.0) -> jax.Array:
  """Uniform draws on [minval, maxval), equal to `jax.random.uniform(key, shape, dtype, ...)`.

  float32 with the default key implementation takes the straight-line path (23 random
  mantissa bits per element); other dtypes or keys call jax.random.

  Args:
    key: one key, typed or legacy (vmap for several).
    shape: output shape.
    dtype: float dtype.
    minval, maxval: scalar bounds (or arrays broadcastable to `shape`).
  """
  shape = tuple(int(d) for d in shape)
  key = _single_key(key)
  if jnp.dtype(dtype) != jnp.float32 or not _is_default_threefry(key):
    return jax.random.uniform(key, shape, dtype, minval, maxval)
  lo = jax.lax.broadcast_to_rank(jnp.asarray(minval, jnp.float32), len(shape))
  hi = jax.lax.broadcast_to_rank(jnp.asarray(maxval, jnp.float32), len(shape))
  return jnp.maximum(lo, _unit_floats(key, shape) * (hi - lo) + lo)


def gumbel(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
  """Standard Gumbel draws, equal to `jax.random.gumbel(key, shape, dtype)`: −log(−log u),
  u uniform on [tiny, 1) (`uniform` above; other dtypes or keys call jax.random)."""
  shape = tuple(int(d) for d in shape)
  key = _single_key(key)
  if jnp.dtype(dtype) != jnp.float32 or not _is_default_threefry(key):
    return jax.random.gumbel(key, shape, dtype)
  tiny = np.finfo(np.float32).tiny
  return -jnp.log(-jnp.log(uniform(key, shape, jnp.float32, tiny, 1.0)))


def _normal_one(key: jax.Array, shape: tuple[int, ...], dtype) -> jax.Array:
  if jnp.dtype(dtype) != jnp.float32 or not _is_default_threefry(key):
    return jax.random.normal(key, shape, dtype)
  lo = np.nextafter(np.float32(-1.0), np.float32(0.0), dtype=np.float32)
  hi = np.float32(1.0)
  u = jnp.maximum(lo, _unit_floats(key, shape) * (hi - lo) + lo)
  return np.float32(np.sqrt(2.0)) * jax.lax.erf_inv(u)


def normal(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
  """Standard normal draws of `shape`, equal to `jax.random.normal(key, shape, dtype)`.

  Inverse-CDF sampling as in `jax.random`: a uniform u on (−1, 1) from the top 23 bits of
  each word, then √2·erfinv(u). float32 takes the fast path; other dtypes call jax.random.

  Args:
    key: one key (typed or legacy), or [B] per-example keys: row b of the [B, ...] result
      is then `normal(key[b], shape[1:])`, whatever else is in the batch.
    shape: output shape.
    dtype: float dtype.
  """
  shape = tuple(int(d) for d in shape)
  key = as_key(key)
  if _per_example(key, shape):
    return jax.vmap(lambda k: _normal_one(k, shape[1:], dtype))(key)
  return _normal_one(key, shape, dtype)


def _bernoulli_one(key: jax.Array, p: jax.Array) -> jax.Array:
  shape = jnp.shape(p)
  # Flat, so XLA:CPU vectorizes over all elements (a trailing axis of 1 defeats it).
  flat = jnp.reshape(p, (-1,))
  u16 = bits(key, flat.shape) >> np.uint32(16)
  threshold = jnp.ceil(jnp.clip(flat, 0.0, 1.0) * 65536.0).astype(jnp.uint32)
  return jnp.where(u16 < threshold, np.float32(1.0), np.float32(0.0)).reshape(shape)


def bernoulli(key: jax.Array, p: jax.Array) -> jax.Array:
  """Bernoulli(p) draws as float32 0/1, one per element of `p`.

  The uniform of element i is the top 16 bits of its word of `bits` (bit for bit
  `jax.random.bits`, lowered so XLA:CPU vectorizes it); the draw is 1 with probability
  ⌈65536·p⌉/65536, within 2⁻¹⁶ of p (8-bit image data has resolution 2⁻⁸).

  Args:
    key: one key (typed or legacy), or [B] per-example keys for a [B, ...] `p`.
    p: probabilities in [0, 1] (clipped), any shape.
  Returns:
    float32 array of 0/1 with the shape of `p`.
  """
  key = as_key(key)
  if _per_example(key, jnp.shape(p)):
    return jax.vmap(_bernoulli_one)(key, p)
  return _bernoulli_one(key, p)


def reparameterize(key: jax.Array, mean: jax.Array, log_var: jax.Array) -> jax.Array:
  """z = mean + exp(½·log_var)·ε, ε ~ N(0, I) drawn from `key` (Kingma & Welling 2014, §2.4).

  Args:
    key: PRNG key, typed or legacy; the same key gives the same z. Either one key for the
      whole array, or [B] keys, one per example along the leading axis (`example_keys`).
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


def example_keys(key: jax.Array, batch_size: int, axis_name: str | None = None) -> jax.Array:
  """One key per example, indexed by the example's position in the *global* batch.

  Noise drawn from these keys does not depend on how the batch is split: under `jit` with a
  sharded batch the global index is the local one, and inside `pmap`/`shard_map` with
  `axis_name` the device offset is added, so both paths draw identical noise.

  Args:
    key: PRNG key of the step (typed or legacy).
    batch_size: the local batch size.
    axis_name: the mapped axis when called inside pmap/shard_map.
  Returns:
    [batch_size] typed keys.
  """
  offset = 0
  if axis_name is not None:
    offset = jax.lax.axis_index(axis_name) * batch_size
  return fold_in(key, offset + jnp.arange(batch_size))
