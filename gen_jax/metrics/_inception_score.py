"""Inception Score (Salimans et al., 2016, sec. 4)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax import validation
from gen_jax.metrics._validation import check_features


def inception_score(key: jax.Array | None, logits: jax.Array, *,
                    num_splits: int = 10) -> tuple[jax.Array, jax.Array]:
  """exp(E_x KL(p(y|x) || p(y))) over `num_splits` splits of the samples.

  p(y|x) = softmax(logits) and p(y) is each split's mean of p(y|x), as in the paper's
  code. Which rows go to which split matters: the paper's code takes consecutive chunks,
  which assumes the samples are in random order. Samples in *class order* (a
  class-conditional generator's output, class by class) then give single-class chunks
  whose p(y) equals p(y|x), and IS ≈ 1 for a perfect generator. Interleaving (row i ->
  split i mod num_splits) is no cure: it fails on the *cyclic* order that
  `gen_jax.gan.generate` uses for conditional models (labels = arange(N) % C) whenever
  num_splits shares a factor with C (C = num_splits = 10 gives one class per split).
  So the rows are permuted with `key` before the chunking: any order that does not
  depend on the key is broken.

  Args:
    key: PRNG key (typed or legacy uint32) for the permutation of the rows:
      split i holds rows perm[i*N//num_splits:(i+1)*N//num_splits] with
      perm = jax.random.permutation(key, N). `None` (passed explicitly) keeps the input
      order, i.e. the consecutive chunks of the paper's code: use it only for samples
      known to be in random order, e.g. to reproduce a number computed that way.
    logits: [N, C] classifier logits of generated samples, N >= num_splits.
    num_splits: number of splits.
  Returns:
    (mean, std) scalars over the splits' scores; std is the population std (ddof=0).
  """
  num_splits = validation.check_int("num_splits", num_splits, low=1)
  check_features("logits", logits, min_rows=num_splits)
  log_p = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), axis=-1)
  n = log_p.shape[0]
  if key is not None:
    key = validation.check_key("key", key)
    log_p = log_p[jax.random.permutation(key, n)]
  scores = []
  for i in range(num_splits):
    chunk = log_p[i * n // num_splits:(i + 1) * n // num_splits]
    log_marginal = jax.nn.logsumexp(chunk, axis=0) - jnp.log(chunk.shape[0])
    kl = (jnp.exp(chunk) * (chunk - log_marginal)).sum(-1)
    scores.append(jnp.exp(kl.mean()))
  scores = jnp.stack(scores)
  return scores.mean(), scores.std()
