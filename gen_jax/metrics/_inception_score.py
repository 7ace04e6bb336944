"""Inception Score (Salimans et al., 2016, sec. 4)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax.metrics._validation import check_features


def inception_score(logits: jax.Array, *, num_splits: int = 10) -> tuple[jax.Array, jax.Array]:
  """exp(E_x KL(p(y|x) || p(y))) over `num_splits` consecutive chunks of the samples.

  Chunk i holds rows [i*N//num_splits, (i+1)*N//num_splits), p(y) is the chunk's mean of
  p(y|x) = softmax(logits), as in the paper's code.

  Args:
    logits: [N, C] classifier logits of generated samples, N >= num_splits.
    num_splits: number of chunks.
  Returns:
    (mean, std) scalars over the chunks' scores; std is the population std (ddof=0).
  """
  check_features("logits", logits, min_rows=max(num_splits, 1))
  if num_splits < 1:
    raise ValueError(f"num_splits must be >= 1, got {num_splits}")
  log_p = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), axis=-1)
  n = log_p.shape[0]
  scores = []
  for i in range(num_splits):
    chunk = log_p[i * n // num_splits:(i + 1) * n // num_splits]
    log_marginal = jax.nn.logsumexp(chunk, axis=0) - jnp.log(chunk.shape[0])
    kl = (jnp.exp(chunk) * (chunk - log_marginal)).sum(-1)
    scores.append(jnp.exp(kl.mean()))
  scores = jnp.stack(scores)
  return scores.mean(), scores.std()
