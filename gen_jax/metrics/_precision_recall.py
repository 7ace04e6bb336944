"""Improved precision and recall (Kynkäänniemi et al., 2019, sec. 2, eq. 1-2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax import validation
from gen_jax.metrics._validation import check_features

_HIGHEST = jax.lax.Precision.HIGHEST


def _squared_distances(a: jax.Array, b: jax.Array) -> jax.Array:
  """[m, d], [n, d] -> [m, n] squared Euclidean distances (clipped at 0 after cancellation)."""
  cross = jnp.matmul(a, b.T, precision=_HIGHEST)
  return jnp.maximum((a * a).sum(-1)[:, None] + (b * b).sum(-1)[None, :] - 2.0 * cross, 0.0)


def _row_blocks(x: jax.Array, block_size: int) -> jax.Array:
  """[N, d] -> [ceil(N/B), B, d], zero-padded: rows are processed B at a time so that the
  [N, N] distance matrix never exists (50k x 50k floats would be 10 GB)."""
  n = x.shape[0]
  pad = -n % block_size
  return jnp.pad(x, ((0, pad), (0, 0))).reshape(-1, block_size, x.shape[1])


def knn_radii(features: jax.Array, *, k: int = 3, block_size: int = 1024) -> jax.Array:
  """Squared distance from each row to its k-th nearest other row: [N, d] -> [N]."""
  n = features.shape[0]
  blocks = _row_blocks(features, block_size)
  # top_k of -d over all rows: the row itself is the 0th neighbour (distance ~0), so the
  # k-th other row is entry k.
  kth = lambda block: -jax.lax.top_k(-_squared_distances(block, features), k + 1)[0][:, k]
  return jax.lax.map(kth, blocks).reshape(-1)[:n]


def _fraction_inside(query: jax.Array, support: jax.Array, radii: jax.Array,
                     block_size: int) -> jax.Array:
  """Fraction of query rows inside at least one ball B(support_j, radius_j)."""
  n = query.shape[0]
  blocks = _row_blocks(query, block_size)
  inside = lambda block: (_squared_distances(block, support) <= radii[None, :]).any(-1)
  return jax.lax.map(inside, blocks).reshape(-1)[:n].mean()


def precision_recall(real_features: jax.Array, fake_features: jax.Array, *, k: int = 3,
                     block_size: int = 1024) -> tuple[jax.Array, jax.Array]:
  """Improved precision and recall of generated samples.

  The manifold of a set is the union of balls around its points with radius the distance
  to the point's k-th nearest neighbour in the same set. Precision = fraction of fake
  points inside the real manifold; recall = fraction of real points inside the fake one.

  Args:
    real_features: [m, d]; fake_features: [n, d]; m, n > k.
    k: neighbourhood size (3 in the paper).
    block_size: rows per distance block; memory is O(block_size * max(m, n)).
  Returns:
    (precision, recall) scalars in [0, 1].
  """
  check_features("real_features", real_features, min_rows=k + 1)
  check_features("fake_features", fake_features, min_rows=k + 1)
  validation.check_trailing(("real_features", "fake_features"), (real_features, fake_features))
  real = jnp.asarray(real_features, jnp.float32)
  fake = jnp.asarray(fake_features, jnp.float32)
  real_radii = knn_radii(real, k=k, block_size=block_size)
  fake_radii = knn_radii(fake, k=k, block_size=block_size)
  precision = _fraction_inside(fake, real, real_radii, block_size)
  recall = _fraction_inside(real, fake, fake_radii, block_size)
  return precision, recall
