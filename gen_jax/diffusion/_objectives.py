"""Training losses and the variational bound of a diffusion model (Ho et al. 2020; Nichol &
Dhariwal 2021).

The bound (Ho et al. 2020, Eq. 5), with 0-indexed t (t = step t+1 of the paper):
  -log p(x_0) <= L_T + sum_{t=1}^{T-1} L_t + L_0,
  L_T = KL(q(x_T | x_0) || N(0, I))                     (prior; abar_{T-1} here),
  L_t = E_q KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) (one draw of x_t per term),
  L_0 = -log p(x_0 | x_t at t = 0)                        (the decoder).
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from gen_jax import losses
from gen_jax import random
from gen_jax import validation
from gen_jax.diffusion import _process
from gen_jax.diffusion._process import extract
from gen_jax.diffusion._schedule import Schedule

Array = jax.Array
PREDICTIONS = ("eps", "x0", "v")
DECODERS = ("discretized", "gaussian")


def _mean_flat(x: Array) -> Array:
  return x.reshape(x.shape[0], -1).mean(-1)


def _sum_flat(x: Array) -> Array:
  return x.reshape(x.shape[0], -1).sum(-1)


def _draw_t_and_noise(key, x0, schedule, t):
  key = validation.check_key("key", key)
  batch = _process.check_data("x0", x0)
  num_timesteps = _process.check_schedule(schedule)
  key_t, key_noise = random.split(key)
  if t is None:
    t = jax.random.randint(key_t, (batch,), 0, num_timesteps)
  else:
    t = _process.check_timesteps(t, schedule, batch)
  noise = random.normal(key_noise, x0.shape, x0.dtype)
  return t, noise


def v_target(x0: Array, noise: Array, t: Array, schedule: Schedule) -> Array:
  """v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 (Salimans & Ho 2022, Sec. 4)."""
  n = x0.ndim
  return (extract(schedule.sqrt_alphas_cumprod, t, n) * noise
          - extract(schedule.sqrt_one_minus_alphas_cumprod, t, n) * x0)


def eps_from_prediction(model_fn: Callable, schedule: Schedule, *,
                        prediction: str = "eps") -> Callable:
  """The eps-predictor (x_t, t) -> eps of a model trained with `ddpm_eps_loss(...,
  prediction=...)`, for the samplers and the bound.

  x0-prediction: eps = (x_t / sqrt(abar_t) - x0_hat) / sqrt(1/abar_t - 1);
  v-prediction: eps = sqrt(abar_t) v_hat + sqrt(1 - abar_t) x_t.
  """
  validation.check_choice("prediction", prediction, PREDICTIONS)
  if prediction == "eps":
    return model_fn

  def eps_fn(x_t, t):
    out = model_fn(x_t, t)
    if prediction == "x0":
      return _process.predict_eps_from_x0(x_t, t, out, schedule)
    n = x_t.ndim
    return (extract(schedule.sqrt_alphas_cumprod, t, n) * out
            + extract(schedule.sqrt_one_minus_alphas_cumprod, t, n) * x_t)
  return eps_fn


def ddpm_eps_loss(key, model_fn: Callable, x0: Array, schedule: Schedule, *,
                  prediction: str = "eps", t: Array | None = None) -> Array:
  """The simple DDPM objective, per example (Ho et al. 2020, Eq. 14: L_simple).

  t ~ U{0..T-1}, eps ~ N(0, I), x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, and
    loss = mean over the example's dims of (model_fn(x_t, t) - target)^2
  with target eps ("eps"), x0 ("x0") or v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 ("v",
  Salimans & Ho 2022).

  Args:
    key: PRNG key; t and eps are drawn from it.
    model_fn: (x_t [B, ...], t int [B]) -> prediction [B, ...].
    x0: [B, ...] data.
    schedule: the `Schedule`.
    prediction: what the model predicts: "eps", "x0" or "v".
    t: optional int [B] timesteps instead of uniform draws.
  Returns:
    [B] per-example loss.
  """
  validation.check_choice("prediction", prediction, PREDICTIONS)
  t, noise = _draw_t_and_noise(key, x0, schedule, t)
  x_t = _process.q_sample_with_noise(x0, t, schedule, noise)
  out = model_fn(x_t, t)
  if getattr(out, "shape", None) != x0.shape:
    raise validation.ArgumentError(
        "model_fn", f"model_fn must return a prediction of x0's shape {x0.shape}, got "
        f"{validation._describe(out)}")  # pylint: disable=protected-access
  target = {"eps": noise, "x0": x0}.get(prediction)
  if target is None:
    target = v_target(x0, noise, t, schedule)
  return _mean_flat(jnp.square(out - target))


def decoder_log_likelihood(x0: Array, mean: Array, log_variance: Array, *,
                           decoder: str = "discretized") -> Array:
  """log p(x_0 | x_1) of the last reverse step, [B] nats.

  "discretized": the 256-level Gaussian of `losses.discretized_gaussian_log_likelihood`
  (x0 on [-1, 1], image data); "gaussian": the density log N(x0; mean, exp(log_variance))
  for continuous data (then the bound bounds a differential entropy and may be negative).
  """
  validation.check_choice("decoder", decoder, DECODERS)
  if decoder == "discretized":
    if not isinstance(x0, jax.core.Tracer):
      validation.check_range("x0", x0, -1.0, 1.0)
    return losses.discretized_gaussian_log_likelihood(x0, mean, 0.5 * log_variance)
  return _sum_flat(-0.5 * (math.log(2 * math.pi) + log_variance
                           + jnp.square(x0 - mean) * jnp.exp(-log_variance)))


def _vlb_term(x0, x_t, t, eps, v, schedule, *, variance, decoder, clip_denoised,
              terms=("kl", "decoder")):
  """[B] nats: L_t = KL(q(x_{t-1}|x_t,x0) || p(x_{t-1}|x_t)) for t > 0, -log p(x0|x_t) at 0
  (`terms` names the ones to compute when t is known to be all > 0 or all 0)."""
  x0_hat = _process.predict_x0_from_eps(x_t, t, eps, schedule)
  if clip_denoised:
    x0_hat = jnp.clip(x0_hat, -1.0, 1.0)
  mean, _, _ = _process._q_posterior(x0_hat, x_t, t, schedule)  # pylint: disable=protected-access
  log_var = _process.model_log_variance(schedule, t, variance, x_t.shape, v)
  if "kl" in terms:
    q_mean, _, q_log_var = _process._q_posterior(x0, x_t, t, schedule)  # pylint: disable=protected-access
    kl = _sum_flat(losses.normal_kl(q_mean, q_log_var, mean, log_var))
    if "decoder" not in terms:
      return kl
  nll = -decoder_log_likelihood(x0, mean, log_var, decoder=decoder)
  if "kl" not in terms:
    return nll
  return jnp.where(t == 0, nll, kl)


def hybrid_loss(key, model_fn: Callable, x0: Array, schedule: Schedule, *,
                vlb_weight: float = 0.001, decoder: str = "discretized",
                t: Array | None = None) -> tuple[Array, dict[str, Array]]:
  """L_hybrid = L_simple + lambda L_vlb with learned variances (Nichol & Dhariwal 2021,
  Sec. 3.1, Eqs. 15-16), per example.

  The model outputs [eps, v] concatenated on the last axis; the variance interpolates
  log sigma^2 = frac log beta_t + (1 - frac) log betatilde_t, frac = (v + 1) / 2. L_vlb is the
  term L_t of the bound at the drawn t, in bits per dimension, with the stop-gradient on eps:
  it trains the variance only, L_simple trains the mean.

  Args:
    key: PRNG key (t and eps drawn from it).
    model_fn: (x_t [B, ..., C], t int [B]) -> [B, ..., 2C].
    x0: [B, ..., C] data.
    schedule: the `Schedule`.
    vlb_weight: lambda (0.001 in the paper).
    decoder: the L_0 term's decoder, "discretized" (images) or "gaussian" (continuous).
    t: optional int [B] timesteps instead of uniform draws.
  Returns:
    (loss [B], {"mse": [B], "vlb": [B] bits/dim}).
  """
  vlb_weight = validation.check_number("vlb_weight", vlb_weight, low=0)
  validation.check_choice("decoder", decoder, DECODERS)
  t, noise = _draw_t_and_noise(key, x0, schedule, t)
  x_t = _process.q_sample_with_noise(x0, t, schedule, noise)
  eps, v = _process.call_eps_fn(model_fn, x_t, t, "learned", name="model_fn")
  mse = _mean_flat(jnp.square(eps - noise))
  dims = math.prod(x0.shape[1:])
  vlb = _vlb_term(x0, x_t, t, jax.lax.stop_gradient(eps), v, schedule, variance="learned",
                  decoder=decoder, clip_denoised=False) / (dims * math.log(2.0))
  return mse + vlb_weight * vlb, {"mse": mse, "vlb": vlb}


def _prior_nats(x0, schedule):
  n = x0.ndim
  last = jnp.full((x0.shape[0],), schedule.num_timesteps - 1)
  mean = extract(schedule.sqrt_alphas_cumprod, last, n) * x0
  log_var = jnp.log1p(-extract(schedule.alphas_cumprod, last, n))
  return _sum_flat(losses.normal_kl(mean, jnp.broadcast_to(log_var, x0.shape), 0.0, 0.0))


def _check_bound_args(key, x0, schedule, variance, decoder):
  key = validation.check_key("key", key)
  _process.check_data("x0", x0)
  _process.check_schedule(schedule)
  validation.check_choice("variance", variance, _process.VARIANCES)
  validation.check_choice("decoder", decoder, DECODERS)
  if decoder == "discretized" and not isinstance(x0, jax.core.Tracer):
    validation.check_range("x0", x0, -1.0, 1.0)
  return key


def variational_bound(key, eps_fn: Callable, x0: Array, schedule: Schedule, *,
                      variance: str = "beta", decoder: str = "discretized",
                      clip_denoised: bool = False) -> dict[str, Array]:
  """The full variational bound on -log p(x0), every term, per example, in bits/dim.

  L_T + sum_{t=1}^{T-1} L_t + L_0 (module docstring). Each L_t uses one draw x_t ~ q(x_t | x0)
  (key fold_in(key, t)), so the total is an unbiased estimate of the bound; the T - 1 middle
  terms run in one `lax.scan` over t (compile time independent of T), each a full batch
  call of eps_fn.

  Args:
    key: PRNG key.
    eps_fn: (x_t, t int [B]) -> eps (or [eps, v] with variance="learned").
    x0: [B, ...] data: on the 256 levels of [-1, 1] for decoder="discretized".
    schedule: the `Schedule`.
    variance: the reverse variance, "beta", "posterior" or "learned" (as the samplers).
    decoder: "discretized" (256 levels, images) or "gaussian" (a density, continuous data).
    clip_denoised: clip the predicted x0 to [-1, 1].
  Returns:
    dict of [B] bits/dim: "prior" (L_T), "diffusion" (sum of L_1..L_{T-1}), "decoder" (L_0),
    "total"; "terms" [B, T] (L_0 .. L_{T-1}); and "total_nats" [B] (nats per example).
  """
  key = _check_bound_args(key, x0, schedule, variance, decoder)
  batch = x0.shape[0]
  num_timesteps = schedule.num_timesteps
  scale = 1.0 / (math.prod(x0.shape[1:]) * math.log(2.0))

  def term(t_scalar, kind):
    t = jnp.full((batch,), t_scalar, jnp.int32)
    noise = random.normal(random.fold_in(key, t_scalar), x0.shape, x0.dtype)
    x_t = _process.q_sample_with_noise(x0, t, schedule, noise)
    eps, v = _process.call_eps_fn(eps_fn, x_t, t, variance)
    return _vlb_term(x0, x_t, t, eps, v, schedule, variance=variance, decoder=decoder,
                     clip_denoised=clip_denoised, terms=(kind,))

  decoder_nats = term(0, "decoder")
  if num_timesteps > 1:
    _, middle = jax.lax.scan(lambda c, t: (c, term(t, "kl")), None,
                             jnp.arange(1, num_timesteps, dtype=jnp.int32))
    middle = middle.T
  else:
    middle = jnp.zeros((batch, 0), x0.dtype)
  prior_nats = _prior_nats(x0, schedule)
  total_nats = prior_nats + middle.sum(-1) + decoder_nats
  return {"prior": prior_nats * scale, "diffusion": middle.sum(-1) * scale,
          "decoder": decoder_nats * scale, "total": total_nats * scale,
          "terms": jnp.concatenate([decoder_nats[:, None], middle], axis=1) * scale,
          "total_nats": total_nats}


def variational_bound_estimate(key, eps_fn: Callable, x0: Array, schedule: Schedule, *,
                               variance: str = "beta", decoder: str = "discretized",
                               clip_denoised: bool = False) -> Array:
  """The cheap unbiased single-t estimate of the bound: L_T + T * L_t, t ~ U{0..T-1} per
  example (one eps_fn call instead of T). [B] bits/dim; arguments as `variational_bound`."""
  key = _check_bound_args(key, x0, schedule, variance, decoder)
  t, noise = _draw_t_and_noise(key, x0, schedule, None)
  x_t = _process.q_sample_with_noise(x0, t, schedule, noise)
  eps, v = _process.call_eps_fn(eps_fn, x_t, t, variance)
  nats = _prior_nats(x0, schedule) + schedule.num_timesteps * _vlb_term(
      x0, x_t, t, eps, v, schedule, variance=variance, decoder=decoder,
      clip_denoised=clip_denoised)
  return nats / (math.prod(x0.shape[1:]) * math.log(2.0))
