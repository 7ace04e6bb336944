"""The forward process q(x_t | x_0), its posterior q(x_{t-1} | x_t, x_0), and the reverse
model p(x_{t-1} | x_t) an eps-predictor defines (Ho et al. 2020, Eqs. 4, 6, 7, 11).

Timesteps are 0-indexed (see `_schedule`). `t` is int [B]; coefficients are read as
`schedule.<field>[t]` and broadcast over the example's axes.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import random
from gen_jax import validation
from gen_jax.diffusion._schedule import Schedule

Array = jax.Array
VARIANCES = ("beta", "posterior", "learned")


def check_schedule(schedule) -> int:
  """`schedule` is a `Schedule`; returns T (static)."""
  if not isinstance(schedule, Schedule):
    raise validation.ArgumentError(
        "schedule", f"schedule must be a gen_jax.diffusion.Schedule (linear_schedule, "
        f"cosine_schedule), got {type(schedule).__name__}")
  return schedule.num_timesteps


def check_timesteps(t, schedule: Schedule, batch: int, name: str = "t") -> Array:
  """`t` is int [B] and, when its values are known (not traced), in [0, T)."""
  num_timesteps = check_schedule(schedule)
  validation.check_shape(name, t, [batch])
  validation.check_dtype(name, t, "int")
  if not isinstance(t, jax.core.Tracer):
    values = np.asarray(t)
    if values.size and (values.min() < 0 or values.max() >= num_timesteps):
      raise validation.ArgumentError(
          name, f"{name} must lie in [0, T) = [0, {num_timesteps - 1}] for a schedule of "
          f"T = {num_timesteps} steps, got values in [{values.min()}, {values.max()}]")
  return jnp.asarray(t)


def check_data(name: str, x) -> int:
  """`x` is a float [B, ...] array; returns B."""
  validation.check_min_rank(name, x, 1, "[B, ...]")
  validation.check_dtype(name, x, "float")
  return x.shape[0]


def extract(coefficients: Array, t: Array, ndim: int) -> Array:
  """coefficients[t] as [B, 1, ..., 1] (rank `ndim`), to broadcast over an example."""
  return jnp.asarray(coefficients)[t].reshape((t.shape[0],) + (1,) * (ndim - 1))


def q_sample(key, x0: Array, t: Array, schedule: Schedule) -> tuple[Array, Array]:
  """A draw of q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (Ho et al. 2020, Eq. 4).

  x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, eps ~ N(0, I) drawn from `key` with x0's
  shape.

  Args:
    key: PRNG key (typed or legacy).
    x0: [B, ...] clean data.
    t: int [B] timesteps in [0, T).
    schedule: the `Schedule`.
  Returns:
    (x_t, eps), both x0's shape.
  """
  key = validation.check_key("key", key)
  batch = check_data("x0", x0)
  t = check_timesteps(t, schedule, batch)
  noise = random.normal(key, x0.shape, x0.dtype)
  return q_sample_with_noise(x0, t, schedule, noise), noise


def q_sample_with_noise(x0: Array, t: Array, schedule: Schedule, noise: Array) -> Array:
  """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise (no checks: the internal form)."""
  return (extract(schedule.sqrt_alphas_cumprod, t, x0.ndim) * x0
          + extract(schedule.sqrt_one_minus_alphas_cumprod, t, x0.ndim) * noise)


def q_posterior(x0: Array, x_t: Array, t: Array,
                schedule: Schedule) -> tuple[Array, Array, Array]:
  """q(x_{t-1} | x_t, x_0) = N(mean, variance I) (Ho et al. 2020, Eqs. 6-7).

  mean = beta_t sqrt(abar_{t-1}) / (1 - abar_t) x_0 + (1 - abar_{t-1}) sqrt(alpha_t) /
  (1 - abar_t) x_t, variance = betatilde_t = beta_t (1 - abar_{t-1}) / (1 - abar_t). At t = 0
  the variance is 0 (x_{-1} = x_0); `log_variance` is then the clipped log betatilde_1.

  Args:
    x0, x_t: [B, ...] data and its noised version.
    t: int [B] in [0, T).
    schedule: the `Schedule`.
  Returns:
    (mean, variance, log_variance), each x0's shape.
  """
  validation.check_same_shape(("x0", "x_t"), (x0, x_t), batched=True)
  t = check_timesteps(t, schedule, x0.shape[0])
  return _q_posterior(x0, x_t, t, schedule)


def _q_posterior(x0, x_t, t, schedule):
  n = x0.ndim
  mean = (extract(schedule.posterior_mean_coef1, t, n) * x0
          + extract(schedule.posterior_mean_coef2, t, n) * x_t)
  variance = jnp.broadcast_to(extract(schedule.posterior_variance, t, n), x0.shape)
  log_variance = jnp.broadcast_to(extract(schedule.posterior_log_variance_clipped, t, n),
                                  x0.shape)
  return mean, variance, log_variance


def predict_x0_from_eps(x_t: Array, t: Array, eps: Array, schedule: Schedule) -> Array:
  """x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), the inversion of Eq. 4."""
  n = x_t.ndim
  return (extract(schedule.sqrt_recip_alphas_cumprod, t, n) * x_t
          - extract(schedule.sqrt_recipm1_alphas_cumprod, t, n) * eps)


def predict_eps_from_x0(x_t: Array, t: Array, x0: Array, schedule: Schedule) -> Array:
  """eps = (x_t / sqrt(abar_t) - x0) / sqrt(1/abar_t - 1)."""
  n = x_t.ndim
  return ((extract(schedule.sqrt_recip_alphas_cumprod, t, n) * x_t - x0)
          / extract(schedule.sqrt_recipm1_alphas_cumprod, t, n))


def model_log_variance(schedule: Schedule, t: Array, variance: str, shape,
                       v: Array | None = None) -> Array:
  """log sigma_t^2 of p(x_{t-1} | x_t), broadcast to `shape`.

  "beta": log beta_t; "posterior": the clipped log betatilde_t; "learned" (Nichol & Dhariwal
  2021, Eq. 15): frac log beta_t + (1 - frac) log betatilde_t with frac = (v + 1) / 2, v the
  model's second output.
  """
  n = len(shape)
  if variance == "beta":
    return jnp.broadcast_to(extract(schedule.log_betas, t, n), shape)
  if variance == "posterior":
    return jnp.broadcast_to(extract(schedule.posterior_log_variance_clipped, t, n), shape)
  frac = (v + 1.0) / 2.0
  return (frac * extract(schedule.log_betas, t, n)
          + (1.0 - frac) * extract(schedule.posterior_log_variance_clipped, t, n))


def call_eps_fn(eps_fn: Callable, x_t: Array, t: Array, variance: str,
                name: str = "eps_fn") -> tuple[Array, Array | None]:
  """Calls eps_fn(x_t, t) and checks its output's shape at trace time: x_t's shape, or with
  learned variances x_t's shape with the last axis doubled ([eps, v] concatenated)."""
  out = eps_fn(x_t, t)
  if variance == "learned":
    expected = x_t.shape[:-1] + (2 * x_t.shape[-1],)
    if getattr(out, "shape", None) != expected:
      raise validation.ArgumentError(
          name, f"{name} must return [eps, v] concatenated on the last axis, shape "
          f"{expected} for x_t of shape {x_t.shape} (variance='learned'), got "
          f"{validation._describe(out)}")  # pylint: disable=protected-access
    eps, v = jnp.split(out, 2, axis=-1)
    return eps, v
  if getattr(out, "shape", None) != x_t.shape:
    raise validation.ArgumentError(
        name, f"{name} must return eps of x_t's shape {x_t.shape}, got "
        f"{validation._describe(out)}")  # pylint: disable=protected-access
  return out, None


def p_mean_variance(eps_fn: Callable, x_t: Array, t: Array, schedule: Schedule, *,
                    variance: str = "beta", clip_denoised: bool = False
                    ) -> dict[str, Array]:
  """p(x_{t-1} | x_t) = N(mean, exp(log_variance)) from an eps-predictor (Ho et al. 2020,
  Eq. 11: mean = q_posterior mean at x0_hat = predict_x0_from_eps(x_t, t, eps_fn(x_t, t))).

  Args:
    eps_fn: (x_t [B, ...], t int [B]) -> eps [B, ...] (or [eps, v] on the last axis with
      variance="learned").
    x_t: [B, ...]; t: int [B].
    schedule: the `Schedule`.
    variance: "beta" (sigma^2 = beta_t), "posterior" (betatilde_t) or "learned".
    clip_denoised: clip x0_hat to [-1, 1] (image data) before forming the mean.
  Returns:
    dict with mean, log_variance, x0 (x0_hat), eps, and v (learned only).
  """
  validation.check_choice("variance", variance, VARIANCES)
  t = check_timesteps(t, schedule, check_data("x_t", x_t))
  eps, v = call_eps_fn(eps_fn, x_t, t, variance)
  x0 = predict_x0_from_eps(x_t, t, eps, schedule)
  if clip_denoised:
    x0 = jnp.clip(x0, -1.0, 1.0)
  mean, _, _ = _q_posterior(x0, x_t, t, schedule)
  log_variance = model_log_variance(schedule, t, variance, x_t.shape, v)
  out = {"mean": mean, "log_variance": log_variance, "x0": x0, "eps": eps}
  if v is not None:
    out["v"] = v
  return out
