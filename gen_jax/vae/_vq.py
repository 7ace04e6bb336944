"""Vector quantization for VQ-VAE (van den Oord et al. 2017)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax import validation


def nearest_code(z_e: jax.Array, codebook: jax.Array) -> jax.Array:
  """Index of the nearest codebook row (squared Euclidean) for each vector.

  Args:
    z_e: [..., D] encoder outputs.
    codebook: [K, D].
  Returns:
    int32 [...] indices.
  """
  validation.check_rank("codebook", codebook, 2, "[K, D]")
  validation.check_min_rank("z_e", z_e, 1, "[..., D]")
  validation.check_trailing(("z_e", "codebook"), (z_e, codebook), "last (code) axis D")
  # ‖z − e‖² = ‖z‖² − 2 z·e + ‖e‖²; the ‖z‖² term does not change the argmin.
  scores = -2.0 * jnp.einsum("...d,kd->...k", z_e, codebook) + jnp.sum(codebook**2, -1)
  return jnp.argmin(scores, axis=-1).astype(jnp.int32)


def quantize(z_e: jax.Array, codebook: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Quantize with the straight-through estimator.

  Args:
    z_e: [..., D] encoder outputs.
    codebook: [K, D] code vectors.
  Returns:
    (z_q_st, z_q, codes): z_q_st = z_e + sg(z_q − z_e) carries the decoder's gradient to the
    encoder unchanged (eq. 3 of the paper); z_q = codebook[codes] receives the codebook loss.
  """
  codes = nearest_code(z_e, codebook)
  z_q = codebook[codes]
  z_q_st = z_e + jax.lax.stop_gradient(z_q - z_e)
  return z_q_st, z_q, codes


def vq_losses(z_e: jax.Array, z_q: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Codebook and commitment terms, per example.

  codebook = ‖sg(z_e) − e‖², commitment = ‖z_e − sg(e)‖², each summed over all non-batch
  axes. The VQ-VAE loss is recon + codebook + β·commitment.

  Returns:
    ([B] codebook loss, [B] commitment loss).
  """
  validation.check_same_shape(("z_e", "z_q"), (z_e, z_q), batched=True)
  sq = lambda a, b: jnp.square(a - b).reshape(a.shape[0], -1).sum(-1)
  return sq(jax.lax.stop_gradient(z_e), z_q), sq(z_e, jax.lax.stop_gradient(z_q))


def codebook_perplexity(codes: jax.Array, num_codes: int) -> jax.Array:
  """exp(entropy of the average code usage): 1 when one code is used, K when all evenly."""
  p = jnp.bincount(codes.ravel(), length=num_codes) / codes.size
  return jnp.exp(-jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)))


def ema_codebook_update(codebook_sums: jax.Array, counts: jax.Array, z_e: jax.Array,
                        codes: jax.Array, *, decay: float,
                        epsilon: float = 1e-5) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Exponential-moving-average codebook (van den Oord et al. 2017, App. A.1).

  N_k ← γ N_k + (1−γ) n_k, m_k ← γ m_k + (1−γ) Σ_{i: code i = k} z_i, e_k = m_k / N_k
  with Laplace smoothing of N so unused codes do not divide by zero.

  Args:
    codebook_sums: [K, D] running sums m.
    counts: [K] running counts N.
    z_e: [..., D] encoder outputs of this batch (gradients stopped inside).
    codes: [...] their codes.
    decay: γ.
  Returns:
    (new_sums, new_counts, new_codebook).
  """
  validation.check_rank("counts", counts, 1, "[K]")
  num_codes = counts.shape[0]
  validation.check_shape("codebook_sums", codebook_sums, (num_codes, None))
  validation.check_trailing(("z_e", "codebook_sums"), (z_e, codebook_sums),
                            "last (code) axis D")
  validation.check_shape("codes", codes, z_e.shape[:-1])
  z = jax.lax.stop_gradient(z_e).reshape(-1, z_e.shape[-1])
  one_hot = jax.nn.one_hot(codes.ravel(), num_codes, dtype=z.dtype)
  counts = decay * counts + (1 - decay) * one_hot.sum(0)
  sums = decay * codebook_sums + (1 - decay) * one_hot.T @ z
  n = counts.sum()
  smoothed = (counts + epsilon) / (n + num_codes * epsilon) * n
  return sums, counts, sums / smoothed[:, None]
