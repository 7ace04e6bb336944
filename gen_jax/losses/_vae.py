"""Per-example likelihoods, KL and bounds for latent-variable models.

Every function returns one value per example, shape [B]; sums run over all non-batch axes.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from gen_jax import validation

Array = jax.Array

_LOG_2PI = math.log(2.0 * math.pi)


def _sum_per_example(values: Array) -> Array:
  return values.reshape(values.shape[0], -1).sum(-1)


def _flat(x: Array) -> Array:
  # Elementwise work on [B, D] rather than e.g. [B, 28, 28, 1]: XLA:CPU vectorizes the
  # innermost axis, and a size-1 channel axis made the Bernoulli log-likelihood 4x slower.
  return x.reshape(x.shape[0], -1)


def gaussian_kl(mean: Array, log_var: Array) -> Array:
  """KL(N(mean, diag exp(log_var)) || N(0, I)), in closed form (Kingma & Welling 2014, App. B).

  KL = ½ Σ (exp(log_var) + mean² − 1 − log_var).

  Args:
    mean: [B, ...] posterior means.
    log_var: [B, ...] posterior log-variances, same shape as `mean` (broadcasting is refused:
      a [B, 1] log_var beside a [B, D] mean is almost always a bug).
  Returns:
    [B] KL in nats.
  """
  validation.check_same_shape(("mean", "log_var"), (mean, log_var), batched=True)
  kl = 0.5 * (jnp.exp(log_var) + jnp.square(mean) - 1.0 - log_var)
  return _sum_per_example(kl)


def gaussian_kl_per_dim(mean: Array, log_var: Array) -> Array:
  """Like `gaussian_kl` but keeps the latent axes: [B, ...] KL per dimension (for free bits
  and active-unit counts)."""
  validation.check_same_shape(("mean", "log_var"), (mean, log_var), batched=True)
  return 0.5 * (jnp.exp(log_var) + jnp.square(mean) - 1.0 - log_var)


def bernoulli_log_likelihood(x: Array, logits: Array) -> Array:
  """log p(x | logits) under independent Bernoullis, p = sigmoid(logits).

  x·log σ(l) + (1 − x)·log σ(−l) = x·l − softplus(l): one softplus per pixel instead of two
  log-sigmoids, and finite for |logits| up to 1e4 and beyond.
  Accepts x in [0, 1] (continuous targets give the cross-entropy, the usual MNIST convention).

  Args:
    x: [B, ...] targets in [0, 1].
    logits: [B, ...] decoder logits, same shape as x.
  Returns:
    [B] log-likelihood in nats (≤ 0 for binary x).
  """
  validation.check_same_shape(("x", "logits"), (x, logits), batched=True)
  x, logits = _flat(x), _flat(logits)
  return (x * logits - jax.nn.softplus(logits)).sum(-1)


def gaussian_log_likelihood(x: Array, mean: Array, log_var: Array | float = 0.0) -> Array:
  """log N(x; mean, diag exp(log_var)).

  −½ Σ (log 2π + log_var + (x − mean)² / exp(log_var)).

  Args:
    x: [B, ...] observations.
    mean: [B, ...] means, same shape as x.
    log_var: log-variances broadcastable to x (a scalar, per-dimension [...] or full [B, ...]).
  Returns:
    [B] log-density in nats.
  """
  validation.check_same_shape(("x", "mean"), (x, mean), batched=True)
  log_var = jnp.asarray(log_var, x.dtype)
  validation.check_broadcastable("log_var", log_var, "x", x.shape)
  ll = -0.5 * (_LOG_2PI + log_var + jnp.square(x - mean) * jnp.exp(-log_var))
  return _sum_per_example(jnp.broadcast_to(ll, x.shape))


def iwae_bound(log_weights: Array) -> Array:
  """Importance-weighted bound (Burda et al. 2016): logsumexp_k w_k − log K.

  Args:
    log_weights: [B, K] holding log p(x, z_k) − log q(z_k | x) for K samples z_k ~ q(z | x).
  Returns:
    [B] bound in nats; K = 1 gives the ELBO, K → ∞ gives log p(x).
  """
  validation.check_rank("log_weights", log_weights, 2, "[B, K]")
  k = log_weights.shape[1]
  return jax.nn.logsumexp(log_weights, axis=1) - math.log(k)


def vae_squared_error_loss(x: Array, reconstruction: Array, mean: Array, log_var: Array, *,
                           alpha: float = 1.0) -> Array:
  """The notes' autoencoder form of the VAE objective, α·L₁ + L₂.

  L₁ = ‖x − Dec(Enc(x))‖² (squared reconstruction error, a Gaussian likelihood with fixed
  variance up to constants) and L₂ = KL(q(z|x) ‖ N(0, I)) in closed form.

  Args:
    x: [B, ...] data.
    reconstruction: [B, ...] decoder output Dec(z), same shape as x.
    mean, log_var: [B, D] posterior parameters.
    alpha: weight of the reconstruction term.
  Returns:
    [B] loss.
  """
  validation.check_same_shape(("x", "reconstruction"), (x, reconstruction), batched=True)
  return alpha * _sum_per_example(jnp.square(x - reconstruction)) + gaussian_kl(mean, log_var)


def free_bits_kl(kl_per_dim: Array, *, free_bits: float) -> Array:
  """KL with a floor of `free_bits` nats per latent dimension (Kingma et al. 2016, eq. 15).

  The floor acts on each dimension's batch-mean KL: dimensions whose mean is below λ
  contribute the constant λ (no gradient pushes them further towards the prior), the others
  their per-example KL. The batch mean of the result is Σ_d max(mean_b KL_bd, λ).

  Args:
    kl_per_dim: [B, D] per-example, per-dimension KL.
    free_bits: λ ≥ 0, nats per dimension.
  Returns:
    [B] floored KL.
  """
  validation.check_rank("kl_per_dim", kl_per_dim, 2, "[B, D]")
  validation.check_number("free_bits", free_bits, low=0.0)
  dim_mean = kl_per_dim.mean(0, keepdims=True)
  floored = jnp.where(dim_mean < free_bits, jnp.full_like(kl_per_dim, free_bits), kl_per_dim)
  return floored.sum(-1)


def diagonal_gaussian_kl(mean_q: Array, log_var_q: Array, mean_p: Array,
                         log_var_p: Array) -> Array:
  """KL(N(mean_q, diag exp(log_var_q)) || N(mean_p, diag exp(log_var_p))), closed form.

  ½ Σ (log_var_p − log_var_q + (exp(log_var_q) + (mean_q − mean_p)²) / exp(log_var_p) − 1);
  the prior term of hierarchical VAEs, where p(z₁ | z₂) is itself learned.

  Args:
    mean_q, log_var_q, mean_p, log_var_p: [B, ...], all the same shape.
  Returns:
    [B] KL in nats.
  """
  validation.check_same_shape(("mean_q", "log_var_q", "mean_p", "log_var_p"),
                              (mean_q, log_var_q, mean_p, log_var_p), batched=True)
  kl = 0.5 * (log_var_p - log_var_q +
              (jnp.exp(log_var_q) + jnp.square(mean_q - mean_p)) * jnp.exp(-log_var_p) - 1.0)
  return _sum_per_example(kl)
