"""Annealed importance sampling for an RBM's partition function (Neal 2001; Salakhutdinov &
Murray 2008, "On the quantitative analysis of deep belief networks", §3-4)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from gen_jax import random
from gen_jax import validation
from gen_jax.energy._rbm import check_params


def _log_unnormalized(params: dict, base_bias: jax.Array, beta, v: jax.Array) -> jax.Array:
  """log p*_β(v) = (1 − β) b_Aᵀv + β bᵀv + Σ_j softplus(β (c_j + (vW)_j)), [B].

  The geometric path between the base RBM (W = 0, visible bias b_A, hidden bias 0) and the
  target (S&M 2008, eq. 13, with the hidden units summed out).
  """
  return ((1.0 - beta) * (v @ base_bias) + beta * (v @ params["b"])
          + jax.nn.softplus(beta * (v @ params["W"] + params["c"])).sum(-1))


def _transition(key: jax.Array, params: dict, base_bias: jax.Array, beta,
                v: jax.Array) -> jax.Array:
  """A block Gibbs step leaving p_β invariant (S&M 2008, eqs. 15-17)."""
  key_h, key_v = random.split(key)
  h = random.bernoulli(key_h, jax.nn.sigmoid(beta * (v @ params["W"] + params["c"])))
  logits = (1.0 - beta) * base_bias + beta * (h @ params["W"].T + params["b"])
  return random.bernoulli(key_v, jax.nn.sigmoid(logits))


def ais_log_partition(key: jax.Array, params: dict, *, num_chains: int, num_betas: int,
                      base_visible_bias: jax.Array | None = None
                      ) -> tuple[jax.Array, jax.Array]:
  """An estimate of log Z by annealed importance sampling from the base-rate RBM.

  The path p_β ∝ p*_A^{1−β} p*_B^β runs over `num_betas` inverse temperatures spaced
  linearly from 0 to 1. Each chain starts with an exact draw from the base (W = 0, visible
  bias `base_visible_bias`, hidden bias 0, whose log Z_A = Σ_i softplus(b_A,i) + H log 2)
  and accumulates log w += log p*_{β_k}(v) − log p*_{β_{k−1}}(v) before a Gibbs transition
  at β_k. Then Z_B / Z_A ≈ mean(w), an unbiased estimate of Z (so log Z is biased low in
  expectation, by Jensen; more temperatures reduce the bias). One compiled `lax.scan` over
  temperatures; step k uses `random.fold_in(key, k)`.

  Args:
    key: one PRNG key, typed or legacy (same estimate).
    params: {"W": [V, H], "b": [V], "c": [H]}, the target RBM.
    num_chains: independent AIS runs (>= 1; >= 2 for a standard error).
    num_betas: inverse temperatures including 0 and 1 (>= 2).
    base_visible_bias: [V] visible bias of the base RBM; default zeros (uniform). S&M use
      the data's base rates, log(p̄ / (1 − p̄)) of the mean training image (smoothed).
  Returns:
    (log_z, std_err): float32 scalars; std_err is the delta-method standard error of
    log mean(w), sd(w) / (√num_chains · mean(w)), from the spread of the log-weights.
  """
  key = validation.check_key("key", key)
  num_visible, num_hidden = check_params(params)
  num_chains = validation.check_int("num_chains", num_chains, low=1)
  num_betas = validation.check_int("num_betas", num_betas, low=2)
  if base_visible_bias is None:
    base_visible_bias = jnp.zeros((num_visible,), jnp.float32)
  validation.check_shape("base_visible_bias", base_visible_bias, (num_visible,))
  validation.check_dtype("base_visible_bias", base_visible_bias, "float")
  base = base_visible_bias.astype(jnp.float32)
  betas = jnp.linspace(0.0, 1.0, num_betas, dtype=jnp.float32)

  v0 = random.bernoulli(random.fold_in(key, 0),
                        jnp.broadcast_to(jax.nn.sigmoid(base), (num_chains, num_visible)))

  def body(carry, k):
    v, log_w = carry
    beta_prev, beta = betas[k - 1], betas[k]
    log_w = log_w + (_log_unnormalized(params, base, beta, v)
                     - _log_unnormalized(params, base, beta_prev, v))
    v = _transition(random.fold_in(key, k), params, base, beta, v)
    return (v, log_w), None

  # The last transition (at β = 1) is not needed for the weights; it is one step of many.
  (_, log_w), _ = jax.lax.scan(body, (v0, jnp.zeros((num_chains,), jnp.float32)),
                               jnp.arange(1, num_betas))
  log_z_base = jax.nn.softplus(base).sum() + num_hidden * math.log(2.0)
  log_mean_w = jax.nn.logsumexp(log_w) - math.log(num_chains)
  # Delta method: Var[log mean w] ≈ Var[w] / (N mean(w)²), with w scaled by its maximum.
  w = jnp.exp(log_w - log_w.max())
  std_err = jnp.std(w, ddof=1 if num_chains > 1 else 0) / (math.sqrt(num_chains) * w.mean())
  return log_z_base + log_mean_w, std_err
