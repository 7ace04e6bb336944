"""Precision and recall for distributions, PRD (Sajjadi et al., 2018, sec. 3-4).

Both sample sets are clustered together with k-means; the normalized cluster histograms
P (real, the reference) and Q (fake, the evaluated model) give the PRD curve
  alpha(lambda) = sum_w min(lambda P(w), Q(w)),  beta(lambda) = alpha(lambda) / lambda
over slopes lambda = tan(theta), theta in (0, pi/2) (eq. 5-6 / Theorem 2), and the curve
is summarized by max F_8 (recall-like) and max F_{1/8} (precision-like), sec. 4.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import validation
from gen_jax.metrics._validation import check_features

_HIGHEST = jax.lax.Precision.HIGHEST


def _squared_distances(x: jax.Array, centroids: jax.Array) -> jax.Array:
  cross = jnp.matmul(x, centroids.T, precision=_HIGHEST)
  return (x * x).sum(-1)[:, None] + (centroids * centroids).sum(-1)[None, :] - 2.0 * cross


def _kmeans_plus_plus(key: jax.Array, x: jax.Array, num_clusters: int) -> jax.Array:
  """k-means++ seeding (Arthur & Vassilvitskii, 2007): D^2-weighted sampling."""
  n = x.shape[0]
  first_key, rest_key = jax.random.split(key)
  centroids = jnp.zeros((num_clusters, x.shape[1]), x.dtype)
  centroids = centroids.at[0].set(x[jax.random.randint(first_key, (), 0, n)])
  min_d2 = _squared_distances(x, centroids[:1])[:, 0]

  def body(i, carry):
    centroids, min_d2 = carry
    logits = jnp.log(jnp.maximum(min_d2, 0.0))  # log 0 = -inf: chosen points never recur
    idx = jax.random.categorical(jax.random.fold_in(rest_key, i), logits)
    centroids = centroids.at[i].set(x[idx])
    min_d2 = jnp.minimum(min_d2, _squared_distances(x, x[idx][None])[:, 0])
    return centroids, min_d2

  return jax.lax.fori_loop(1, num_clusters, body, (centroids, min_d2))[0]


def kmeans(key: jax.Array, x: jax.Array, num_clusters: int, *, num_iters: int = 50,
           num_init: int = 10) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Lloyd's k-means with k-means++ seeding; the best of `num_init` restarts.

  Args:
    key: PRNG key (seeding of every restart); typed or legacy uint32.
    x: [N, d] points, N >= num_clusters.
    num_clusters: k.
    num_iters: Lloyd iterations per restart (fixed count, so it jits to one loop).
    num_init: restarts; the one with the lowest inertia wins.
  Returns:
    (centroids [k, d], labels int32 [N], inertia scalar = sum of squared distances).
    A cluster that empties keeps its previous centroid.
  """
  key = validation.check_key("key", key)
  check_features("x", x, min_rows=num_clusters)
  x = jnp.asarray(x, jnp.float32)

  def lloyd(centroids, _):
    labels = jnp.argmin(_squared_distances(x, centroids), -1)
    one_hot = jax.nn.one_hot(labels, num_clusters, dtype=x.dtype)
    counts = one_hot.sum(0)
    sums = jnp.matmul(one_hot.T, x, precision=_HIGHEST)
    new = jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1.0)[:, None], centroids)
    return new, None

  def run(k):
    centroids = _kmeans_plus_plus(k, x, num_clusters)
    centroids, _ = jax.lax.scan(lloyd, centroids, None, length=num_iters)
    d2 = _squared_distances(x, centroids)
    labels = jnp.argmin(d2, -1)
    return centroids, labels.astype(jnp.int32), jnp.maximum(d2.min(-1), 0.0).sum()

  centroids, labels, inertia = jax.lax.map(run, jax.random.split(key, num_init))
  best = jnp.argmin(inertia)
  return centroids[best], labels[best], inertia[best]


def _slopes(num_angles: int, epsilon: float = 1e-10) -> np.ndarray:
  # float64 on host: in float32, pi/2 - 1e-10 rounds to above pi/2 and tan turns negative.
  return np.tan(np.linspace(epsilon, math.pi / 2 - epsilon, num_angles))


def prd_curve(reference_dist: jax.Array, eval_dist: jax.Array, *,
              num_angles: int = 1001) -> tuple[jax.Array, jax.Array]:
  """PRD curve of two histograms over the same bins.

  Args:
    reference_dist: [K] reference (real) distribution P, sums to 1.
    eval_dist: [K] evaluated (model) distribution Q, sums to 1.
    num_angles: number of slopes lambda = tan(theta), theta uniform in (0, pi/2).
  Returns:
    (precision [num_angles], recall [num_angles]) = (alpha(lambda), alpha(lambda)/lambda),
    clipped to [0, 1].
  """
  validation.check_rank("reference_dist", reference_dist, 1, "[K]")
  validation.check_same_shape(("reference_dist", "eval_dist"), (reference_dist, eval_dist))
  slopes = jnp.asarray(_slopes(num_angles), jnp.float32)[:, None]
  precision = jnp.minimum(reference_dist[None, :] * slopes, eval_dist[None, :]).sum(-1)
  recall = precision / slopes[:, 0]
  return jnp.clip(precision, 0.0, 1.0), jnp.clip(recall, 0.0, 1.0)


def prd(key: jax.Array, real_features: jax.Array, fake_features: jax.Array, *,
        num_clusters: int = 20, num_angles: int = 1001, num_runs: int = 10,
        num_init: int = 10, num_iters: int = 50) -> tuple[jax.Array, jax.Array]:
  """PRD curve from features, averaged over `num_runs` independent clusterings.

  Args:
    key: PRNG key for the k-means seeding; typed or legacy uint32.
    real_features: [m, d]; fake_features: [n, d] (the paper uses m == n).
    num_clusters: k-means clusters over the union (20 in the paper).
    num_angles: points on the curve (1001 in the paper).
    num_runs: clusterings averaged (10 in the paper).
    num_init, num_iters: k-means restarts and Lloyd iterations per clustering.
  Returns:
    (precision [num_angles], recall [num_angles]).
  """
  key = validation.check_key("key", key)
  check_features("real_features", real_features, min_rows=1)
  check_features("fake_features", fake_features, min_rows=1)
  validation.check_trailing(("real_features", "fake_features"), (real_features, fake_features))
  real = jnp.asarray(real_features, jnp.float32)
  fake = jnp.asarray(fake_features, jnp.float32)
  data = jnp.concatenate([real, fake])
  m = real.shape[0]

  def one_run(k):
    _, labels, _ = kmeans(k, data, num_clusters, num_iters=num_iters, num_init=num_init)
    real_hist = jnp.bincount(labels[:m], length=num_clusters) / m
    fake_hist = jnp.bincount(labels[m:], length=num_clusters) / fake.shape[0]
    return prd_curve(real_hist, fake_hist, num_angles=num_angles)

  precision, recall = jax.lax.map(one_run, jax.random.split(key, num_runs))
  return precision.mean(0), recall.mean(0)


def prd_f_beta(precision: jax.Array, recall: jax.Array, *,
               beta: float = 8.0, epsilon: float = 1e-10) -> tuple[jax.Array, jax.Array]:
  """(max F_beta, max F_{1/beta}) over the curve, F_b = (1+b^2) p r / (b^2 p + r).

  With beta = 8, F_8 weighs recall and F_{1/8} weighs precision (sec. 4 of the paper).
  """
  def f(b):
    return ((1 + b**2) * precision * recall / (b**2 * precision + recall + epsilon)).max()
  return f(beta), f(1.0 / beta)
