"""Noise schedules of the Gaussian forward process (Ho et al. 2020; Nichol & Dhariwal 2021).

Timesteps are 0-indexed: t in {0, ..., T-1}; `betas[t]` is the variance of step t+1 of the
DDPM paper, alphabar_t = prod_{s<=t} (1 - beta_s) and alphabar_{-1} = 1. Every coefficient is
computed in float64 NumPy and stored as float32 [T], so samplers and bounds read them by
index instead of recomputing products in float32.
"""

from __future__ import annotations

import math

import flax.struct
import jax
import numpy as np

from gen_jax import validation


@flax.struct.dataclass
class Schedule:
  """The forward process q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I), as a pytree
  of float32 [T] arrays (a valid jit argument: T is read from the arrays' static shape).

  Attributes (all [T], index t = step t+1 of the paper):
    betas: beta_t.
    log_betas: log beta_t.
    alphas: 1 - beta_t.
    alphas_cumprod: alphabar_t = prod_{s<=t} alpha_s.
    alphas_cumprod_prev: alphabar_{t-1}, with alphabar_{-1} = 1.
    sqrt_alphas_cumprod, sqrt_one_minus_alphas_cumprod: the q(x_t | x_0) scales.
    sqrt_recip_alphas_cumprod, sqrt_recipm1_alphas_cumprod: x0 = a x_t - b eps.
    posterior_variance: betatilde_t = beta_t (1 - alphabar_{t-1}) / (1 - alphabar_t)
      (0 at t = 0).
    posterior_log_variance_clipped: log betatilde_t with betatilde_0 replaced by betatilde_1
      (finite everywhere; the DDPM convention).
    posterior_mean_coef1: beta_t sqrt(alphabar_{t-1}) / (1 - alphabar_t), the x0 coefficient.
    posterior_mean_coef2: (1 - alphabar_{t-1}) sqrt(alpha_t) / (1 - alphabar_t), the x_t one.
  """
  betas: jax.Array
  log_betas: jax.Array
  alphas: jax.Array
  alphas_cumprod: jax.Array
  alphas_cumprod_prev: jax.Array
  sqrt_alphas_cumprod: jax.Array
  sqrt_one_minus_alphas_cumprod: jax.Array
  sqrt_recip_alphas_cumprod: jax.Array
  sqrt_recipm1_alphas_cumprod: jax.Array
  posterior_variance: jax.Array
  posterior_log_variance_clipped: jax.Array
  posterior_mean_coef1: jax.Array
  posterior_mean_coef2: jax.Array

  @property
  def num_timesteps(self) -> int:
    """T, static (the arrays' length)."""
    return int(self.betas.shape[0])


def schedule_from_betas(betas) -> Schedule:
  """A `Schedule` from any float array of betas in (0, 1), [T] (computed in float64).

  Args:
    betas: [T] variances beta_t of the forward steps, each in (0, 1).
  Returns:
    the `Schedule`, float32 fields.
  """
  betas = np.asarray(betas, dtype=np.float64)
  validation.check_rank("betas", betas, 1, "[T]")
  if betas.shape[0] < 1:
    raise validation.ArgumentError("betas", f"betas must have T >= 1 entries, got shape "
                                   f"{betas.shape}")
  if not np.all((betas > 0) & (betas < 1)):
    raise validation.ArgumentError("betas", f"betas must lie in (0, 1), got values in "
                                   f"[{betas.min()}, {betas.max()}]")
  alphas = 1.0 - betas
  abar = np.cumprod(alphas)
  abar_prev = np.concatenate([[1.0], abar[:-1]])
  post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
  # betatilde_0 = 0: the clipped log uses betatilde_1 there (or beta_0 when T = 1).
  first = post_var[1] if betas.shape[0] > 1 else betas[0]
  post_log_var = np.log(np.concatenate([[first], post_var[1:]]))
  fields = dict(
      betas=betas,
      log_betas=np.log(betas),
      alphas=alphas,
      alphas_cumprod=abar,
      alphas_cumprod_prev=abar_prev,
      sqrt_alphas_cumprod=np.sqrt(abar),
      sqrt_one_minus_alphas_cumprod=np.sqrt(1.0 - abar),
      sqrt_recip_alphas_cumprod=np.sqrt(1.0 / abar),
      sqrt_recipm1_alphas_cumprod=np.sqrt(1.0 / abar - 1.0),
      posterior_variance=post_var,
      posterior_log_variance_clipped=post_log_var,
      posterior_mean_coef1=betas * np.sqrt(abar_prev) / (1.0 - abar),
      posterior_mean_coef2=(1.0 - abar_prev) * np.sqrt(alphas) / (1.0 - abar),
  )
  return Schedule(**{k: np.asarray(v, np.float32) for k, v in fields.items()})


def linear_schedule(num_timesteps: int, *, beta_start: float = 1e-4,
                    beta_end: float = 0.02) -> Schedule:
  """The DDPM schedule (Ho et al. 2020, Sec. 4): beta_t linear from beta_start to beta_end.

  Args:
    num_timesteps: T >= 1.
    beta_start, beta_end: beta_0 and beta_{T-1}, in (0, 1).
  Returns:
    the `Schedule` (float32 [T] fields, computed in float64).
  """
  num_timesteps = validation.check_int("num_timesteps", num_timesteps, low=1)
  beta_start = validation.check_number("beta_start", beta_start, low=0, high=1,
                                       low_inclusive=False, high_inclusive=False)
  beta_end = validation.check_number("beta_end", beta_end, low=0, high=1,
                                     low_inclusive=False, high_inclusive=False)
  return schedule_from_betas(np.linspace(beta_start, beta_end, num_timesteps,
                                         dtype=np.float64))


def cosine_schedule(num_timesteps: int, *, s: float = 0.008,
                    max_beta: float = 0.999) -> Schedule:
  """The cosine schedule (Nichol & Dhariwal 2021, Eq. 17).

  f(t) = cos((t / T + s) / (1 + s) * pi / 2)^2, beta_t = min(1 - f(t+1) / f(t), max_beta) for
  t = 0..T-1, and alphabar the cumulative product of 1 - beta (so the clipping at max_beta,
  which only bites near t = T, is reflected in alphabar).

  Args:
    num_timesteps: T >= 1.
    s: the small offset keeping beta_0 away from 0.
    max_beta: the clip, in (0, 1).
  Returns:
    the `Schedule`.
  """
  num_timesteps = validation.check_int("num_timesteps", num_timesteps, low=1)
  s = validation.check_number("s", s, low=0)
  max_beta = validation.check_number("max_beta", max_beta, low=0, high=1,
                                     low_inclusive=False, high_inclusive=False)
  steps = np.arange(num_timesteps + 1, dtype=np.float64) / num_timesteps
  f = np.cos((steps + s) / (1.0 + s) * math.pi / 2) ** 2
  betas = np.minimum(1.0 - f[1:] / f[:-1], max_beta)
  return schedule_from_betas(betas)
