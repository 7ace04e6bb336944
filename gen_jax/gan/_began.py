"""BEGAN's equilibrium controller (Berthelot et al. 2017, §3.4)."""

import chex
import jax
import jax.numpy as jnp

from gen_jax import validation

Array = chex.Array


def _check(real_recon: Array, fake_recon: Array) -> None:
  # The two batches may differ in size: each is [B] on its own.
  validation.check_rank("real_recon", real_recon, 1, "[B] (per-example losses)")
  validation.check_rank("fake_recon", fake_recon, 1, "[B] (per-example losses)")


def began_k_update(k: Array, real_recon: Array, fake_recon: Array, *, gamma: float,
                   lambda_k: float) -> Array:
  """k_{t+1} = clip(k_t + λ_k·(γ·L(x) − L(G(z))), 0, 1) (Berthelot et al. 2017, Eq. 4).

  Proportional control keeping E[L(G(z))] = γ·E[L(x)]; L(·) are batch means of the
  autoencoder-discriminator's reconstruction losses. No gradient flows through k.

  Args:
    k: scalar k_t.
    real_recon: [B] reconstruction losses L(x).
    fake_recon: [B] reconstruction losses L(G(z)) (the batch may differ in size).
    gamma: diversity ratio γ = E[L(G(z))] / E[L(x)] ∈ (0, 1].
    lambda_k: proportional gain λ_k (1e-3 in the paper).
  Returns:
    scalar k_{t+1} ∈ [0, 1].
  """
  _check(real_recon, fake_recon)
  balance = gamma * jnp.mean(real_recon) - jnp.mean(fake_recon)
  k_next = jnp.clip(jnp.asarray(k) + lambda_k * balance, 0.0, 1.0)
  return jax.lax.stop_gradient(k_next)


def began_convergence(real_recon: Array, fake_recon: Array, *, gamma: float) -> Array:
  """Convergence measure M = L(x) + |γ·L(x) − L(G(z))| (Berthelot et al. 2017, §3.4.1).

  Args:
    real_recon: [B] reconstruction losses L(x).
    fake_recon: [B] reconstruction losses L(G(z)).
    gamma: diversity ratio γ.
  Returns:
    scalar M_global (lower is better; tracks sample quality).
  """
  _check(real_recon, fake_recon)
  real_mean = jnp.mean(real_recon)
  return real_mean + jnp.abs(gamma * real_mean - jnp.mean(fake_recon))
