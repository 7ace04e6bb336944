"""Samplers of the reverse process, each one `lax.scan` over the steps (compile time
independent of T): ancestral sampling (Ho et al. 2020, Alg. 2) and DDIM (Song et al. 2021).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import random
from gen_jax import validation
from gen_jax.diffusion import _process
from gen_jax.diffusion._schedule import Schedule

Array = jax.Array


def _check_shape_arg(shape) -> tuple[int, ...]:
  ok = isinstance(shape, (tuple, list)) and len(shape) >= 1 and all(
      isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in shape)
  if not ok:
    raise validation.ArgumentError("shape", f"shape must be a tuple of positive ints "
                                   f"(B, ...), got {shape!r}")
  return tuple(int(d) for d in shape)


def guided_eps_fn(eps_fn_cond: Callable, eps_fn_uncond: Callable, scale: float) -> Callable:
  """Classifier-free guidance (Ho & Salimans 2022, Eq. 6, with scale = 1 + w):
  eps = eps_uncond + scale (eps_cond - eps_uncond); scale 1 is the conditional model,
  0 the unconditional one. Both are (x_t, t) -> eps (close over labels / a null label)."""
  scale = validation.check_number("scale", scale)

  def eps_fn(x_t, t):
    uncond = eps_fn_uncond(x_t, t)
    return uncond + scale * (eps_fn_cond(x_t, t) - uncond)
  return eps_fn


def _scan_steps(step, x, timesteps: np.ndarray, trajectory_every: int | None):
  """Runs `step(x, t) -> x` over `timesteps` (descending) in one scan; with
  trajectory_every = k, a scan of scans also returning [x_start, x after each k steps]."""
  if trajectory_every is None:
    x, _ = jax.lax.scan(lambda x, t: (step(x, t), None), x, jnp.asarray(timesteps))
    return x
  chunks = jnp.asarray(timesteps.reshape(-1, trajectory_every))

  def chunk(x, ts):
    x, _ = jax.lax.scan(lambda x, t: (step(x, t), None), x, ts)
    return x, x
  x_end, states = jax.lax.scan(chunk, x, chunks)
  return x_end, jnp.concatenate([x[None], states], axis=0)


def _check_trajectory(trajectory_every, num_steps):
  if trajectory_every is None:
    return None
  k = validation.check_int("trajectory_every", trajectory_every, low=1, high=num_steps)
  if num_steps % k:
    raise validation.ArgumentError(
        "trajectory_every", f"trajectory_every must divide the number of steps {num_steps}, "
        f"got {k}")
  return k


def ancestral_sample(key, eps_fn: Callable, shape: Sequence[int], schedule: Schedule, *,
                     variance: str = "beta", clip_denoised: bool = False,
                     trajectory_every: int | None = None):
  """Ancestral sampling of p(x_{0:T}) (Ho et al. 2020, Alg. 2), all T steps in one scan.

  x_T ~ N(0, I); for t = T-1, ..., 0:
    x_{t-1} = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps_fn(x_t, t)) + sigma_t z
  (the posterior mean at the predicted x0; with clip_denoised the predicted x0 is clipped to
  [-1, 1] first), z ~ N(0, I), and no noise at t = 0. sigma_t^2 = beta_t ("beta"),
  betatilde_t ("posterior") or the learned interpolation ("learned": eps_fn returns [eps, v]
  on the last axis; Nichol & Dhariwal 2021, Eq. 15).

  Args:
    key: PRNG key: x_T from split(key)[0], step t's z from fold_in(split(key)[1], t).
    eps_fn: (x_t [B, ...], t int32 [B]) -> eps [B, ...] (or [B, ..., 2C] when learned).
    shape: (B, ...) of the samples.
    schedule: the `Schedule`.
    variance: "beta", "posterior" or "learned".
    clip_denoised: clip the predicted x0 to [-1, 1] (image data).
    trajectory_every: k dividing T: also return the states [x_T, x after k steps, ..., x_0]
      ([T/k + 1, B, ...]) for plotting the reverse process.
  Returns:
    x_0 [B, ...], or (x_0, trajectory) with trajectory_every.
  """
  key = validation.check_key("key", key)
  shape = _check_shape_arg(shape)
  num_timesteps = _process.check_schedule(schedule)
  validation.check_choice("variance", variance, _process.VARIANCES)
  every = _check_trajectory(trajectory_every, num_timesteps)
  key_init, key_steps = random.split(key)
  x_init = random.normal(key_init, shape)

  def step(x, t_scalar):
    t = jnp.full((shape[0],), t_scalar, jnp.int32)
    out = _process.p_mean_variance(eps_fn, x, t, schedule, variance=variance,
                                   clip_denoised=clip_denoised)
    z = random.normal(random.fold_in(key_steps, t_scalar), shape)
    sigma = jnp.where(t_scalar > 0, jnp.exp(0.5 * out["log_variance"]), 0.0)
    return out["mean"] + sigma * z

  return _scan_steps(step, x_init, np.arange(num_timesteps - 1, -1, -1, dtype=np.int32),
                     every)


def ddim_timesteps(num_timesteps: int, num_steps: int) -> np.ndarray:
  """The DDIM sub-sequence tau_0 < ... < tau_{S-1}: round(linspace(0, T-1, S)), so it always
  ends at T-1 and starts at 0 (distinct since S <= T)."""
  return np.round(np.linspace(0, num_timesteps - 1, num_steps)).astype(np.int32)


def ddim_sample(key, eps_fn: Callable, shape: Sequence[int], schedule: Schedule, *,
                num_steps: int = 50, eta: float = 0.0, clip_denoised: bool = False,
                learned_variance: bool = False):
  """DDIM sampling (Song et al. 2021, Eq. 12) over S = num_steps timesteps, one scan.

  On the sub-sequence tau = ddim_timesteps(T, S), from tau_i with abar = abar_{tau_i} to the
  previous one with abar' = abar_{tau_{i-1}} (1 after tau_0):
    x0_hat = (x - sqrt(1 - abar) eps) / sqrt(abar),
    sigma = eta sqrt((1 - abar') / (1 - abar) (1 - abar / abar')),
    x' = sqrt(abar') x0_hat + sqrt(1 - abar' - sigma^2) eps + sigma z.
  eta = 0 is deterministic given x_T; eta = 1 with S = T is ancestral sampling with the
  posterior variance betatilde.

  Args:
    key: PRNG key (x_T from split(key)[0], step i's z from fold_in(split(key)[1], i)).
    eps_fn: (x_t, t int32 [B]) -> eps (or [eps, v] with learned_variance: v is ignored).
    shape: (B, ...).
    schedule: the `Schedule`.
    num_steps: S in [1, T].
    eta: the stochasticity, >= 0.
    clip_denoised: clip x0_hat to [-1, 1].
    learned_variance: eps_fn returns [eps, v] on the last axis.
  Returns:
    x_0 [B, ...].
  """
  key = validation.check_key("key", key)
  shape = _check_shape_arg(shape)
  num_timesteps = _process.check_schedule(schedule)
  num_steps = validation.check_int("num_steps", num_steps, low=1, high=num_timesteps)
  eta = validation.check_number("eta", eta, low=0)
  tau = ddim_timesteps(num_timesteps, num_steps)
  prev = np.concatenate([[-1], tau[:-1]]).astype(np.int32)
  abar = jnp.asarray(schedule.alphas_cumprod)
  key_init, key_steps = random.split(key)
  x_init = random.normal(key_init, shape)
  kind = "learned" if learned_variance else "beta"

  def step(x, inputs):
    i, t_scalar, prev_scalar = inputs
    t = jnp.full((shape[0],), t_scalar, jnp.int32)
    eps, _ = _process.call_eps_fn(eps_fn, x, t, kind)
    a = abar[t_scalar]
    a_prev = jnp.where(prev_scalar >= 0, abar[jnp.maximum(prev_scalar, 0)], 1.0)
    x0 = (x - jnp.sqrt(1.0 - a) * eps) / jnp.sqrt(a)
    if clip_denoised:
      x0 = jnp.clip(x0, -1.0, 1.0)
      eps = (x - jnp.sqrt(a) * x0) / jnp.sqrt(1.0 - a)
    sigma = eta * jnp.sqrt((1.0 - a_prev) / (1.0 - a) * (1.0 - a / a_prev))
    z = random.normal(random.fold_in(key_steps, i), shape)
    x = (jnp.sqrt(a_prev) * x0 + jnp.sqrt(jnp.maximum(1.0 - a_prev - sigma**2, 0.0)) * eps
         + sigma * z)
    return x, None

  order = np.arange(num_steps - 1, -1, -1)
  xs = (jnp.asarray(order, jnp.int32), jnp.asarray(tau[order]), jnp.asarray(prev[order]))
  x, _ = jax.lax.scan(step, x_init, xs)
  return x
