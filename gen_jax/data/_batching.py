"""Stateless batching: the batch of step s is a pure function of (data key, s).

Resuming at step s therefore reproduces the data order of an uninterrupted run without
storing any iterator state in the checkpoint.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import prng


@functools.lru_cache(maxsize=2)
def _epoch_permutation(key_data: tuple[int, ...], epoch: int, num_examples: int) -> np.ndarray:
  key = jax.random.wrap_key_data(np.asarray(key_data, np.uint32))
  return np.asarray(jax.random.permutation(jax.random.fold_in(key, epoch), num_examples))


def batch_indices(key: jax.Array, step: int, *, num_examples: int, batch_size: int) -> np.ndarray:
  """Indices of the examples in the batch of `step` (epochs reshuffled, remainder dropped).

  Args:
    key: data-order key (a typed PRNG key).
    step: global step (>= 0).
    num_examples: dataset size.
    batch_size: global batch size, <= num_examples.
  Returns:
    int [batch_size] indices.
  """
  if not 0 < batch_size <= num_examples:
    raise ValueError(f"batch_size must be in [1, {num_examples}] (the dataset size), "
                     f"got {batch_size}")
  steps_per_epoch = num_examples // batch_size
  epoch, pos = divmod(int(step), steps_per_epoch)
  key_data = tuple(int(v) for v in np.asarray(jax.random.key_data(key)).ravel())
  perm = _epoch_permutation(key_data, epoch, num_examples)
  return perm[pos * batch_size:(pos + 1) * batch_size]


def dynamic_binarize(key: jax.Array, images: jax.Array) -> jax.Array:
  """Bernoulli draw per pixel with probability = intensity (Salakhutdinov & Murray 2008).

  The uniform of each pixel is the top 16 bits of its word of `gen_jax.prng.bits` (bit for
  bit `jax.random.bits`, but lowered so XLA:CPU vectorizes it: through `jax.random` the
  noise was a quarter of an MLP-VAE step on CPU). The draw is 1 with probability
  ⌈65536·p⌉/65536, within 2⁻¹⁶ of p (8-bit image data has resolution 2⁻⁸).

  Args:
    key: PRNG key (one key; vmap for per-example keys).
    images: [...] intensities in [0, 1].
  Returns:
    float32 array of 0/1 with the shape of `images`.
  """
  shape = jnp.shape(images)
  # Flat, so XLA:CPU vectorizes over all pixels (a trailing channel axis of 1 defeats it).
  flat = jnp.reshape(images, (-1,))
  bits = prng.bits(key, flat.shape) >> np.uint32(16)
  threshold = jnp.ceil(jnp.clip(flat, 0.0, 1.0) * 65536.0).astype(jnp.uint32)
  return jnp.where(bits < threshold, np.float32(1.0), np.float32(0.0)).reshape(shape)


def static_binarize(images: jax.Array, threshold: float = 0.5) -> jax.Array:
  """Deterministic binarization: 1 where intensity > threshold."""
  return (images > threshold).astype(jnp.float32)
