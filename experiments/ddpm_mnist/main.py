"""DDPM (Ho et al. 2020) with a UNet ε-model on embedded MNIST; DDIM sampling; the full
variational bound in bits/dim.

  python -m experiments.ddpm_mnist --workdir=/tmp/ddpm
  python -m experiments.ddpm_mnist --workdir=/tmp/ddpm_cfg --config.class_conditional=True \\
      --config.guidance_scale=3
  python -m experiments.ddpm_mnist --workdir=/tmp/ddpm_cifar --config.preset=cifar10_ddpm

Images are the 256 levels of each pixel scaled to [-1, 1] (28×28, or zero-padded to 32×32
with `--config.image_size=32`). The UNet (`gen_jax.nets.UNet`) predicts ε (or x0, or v);
with `learned_variance` it also predicts the reverse variances and trains on the hybrid loss
(Nichol & Dhariwal 2021). With `class_conditional` it sees the digit label, replaced by the
null label with probability `label_dropout` (classifier-free guidance, Ho & Salimans 2022),
and samples with guidance scale `guidance_scale` (1 = the conditional model).

Evaluation and sampling use the EMA parameters. Outputs: samples/*.png (DDIM grids during
training; the final ancestral and DDIM grids), trajectory.png (x_T … x_0 of the ancestral
sampler, one row per image), and results.json with
  test_bpd / test_nll (nll_kind "bound"): the full bound L_T + Σ L_t + L_0 of
    `diffusion.variational_bound` (every one of the T terms) on the first `bound_examples`
    test digits (unconditional: the null label for a class-conditional model);
  fid / precision / recall: `metrics.evaluate_samples` (MNIST classifier features) of
    `num_fid_samples` DDIM samples (`ddim_steps` steps) against the test digits;
  ancestral_seconds / ancestral_images_per_second (all T steps) and ddim_seconds /
    ddim_images_per_second: one compiled call on `num_sample_images` images, compile time
    excluded (ancestral_compile_seconds, ddim_compile_seconds, bound_compile_seconds).
Periodic evaluations report test_bpd_estimate, the single-t unbiased estimate of the bound.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments.ddpm_mnist.config import apply_preset
from experiments.ddpm_mnist.config import get_config
from experiments.ddpm_mnist.config import PRESETS
from gen_jax import diffusion
from gen_jax import metrics
from gen_jax import nets
from gen_jax import random
from gen_jax import training
from gen_jax import validation
from gen_jax.training import outputs

SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("eps", "x0", "v")
VARIANCES = ("beta", "posterior")
FID_METRICS = ("fid", "precision", "recall")


def validate(config: ml_collections.ConfigDict) -> None:
  config = apply_preset(config) if config.preset in PRESETS else config
  training.validate_config(config)
  with validation.config_keys():
    validation.check_choice("preset", config.preset, ("none",) + tuple(PRESETS))
    validation.check_int("image_size", config.image_size, low=1)
    validation.check_int("num_timesteps", config.num_timesteps, low=1)
    validation.check_choice("schedule", config.schedule, SCHEDULES)
    validation.check_choice("prediction", config.prediction, PREDICTIONS)
    validation.check_choice("variance", config.variance, VARIANCES)
    if config.learned_variance and config.prediction != "eps":
      raise validation.ArgumentError(
          "learned_variance", "learned_variance needs prediction=eps (the "
          f"hybrid loss trains an ε-model), got prediction={config.prediction!r}")
    validation.check_number("hybrid_weight", config.hybrid_weight, low=0.0)
    validation.check_number("grad_clip", config.grad_clip, low=0.0)
    validation.check_int("warmup_steps", config.warmup_steps, low=0)
    validation.check_number("ema_decay", config.ema_decay, low=0.0, high=1.0,
                            low_inclusive=False, high_inclusive=False)
    validation.check_int("base_channels", config.base_channels, low=4)
    validation.check_int("num_res_blocks", config.num_res_blocks, low=1)
    validation.check_number("dropout", config.dropout, low=0.0, high=1.0, high_inclusive=False)
    validation.check_int("num_groups", config.num_groups, low=1)
    validation.check_number("label_dropout", config.label_dropout, low=0.0, high=1.0)
    validation.check_number("guidance_scale", config.guidance_scale)
    validation.check_int("ddim_steps", config.ddim_steps, low=1, high=config.num_timesteps)
    validation.check_int("num_sample_images", config.num_sample_images, low=1)
    validation.check_int("num_fid_samples", config.num_fid_samples, low=0)
    validation.check_int("bound_examples", config.bound_examples, low=1)
    validation.check_int("eval_batch_size", config.eval_batch_size, low=1)
    validation.check_int("trajectory_steps", config.trajectory_steps, low=1,
                         high=config.num_timesteps)
    scale = 2 ** (len(config.channel_mults) - 1)
    if config.image_size % scale:
      raise validation.ArgumentError(
          "image_size", f"image_size must be divisible by {scale} for "
          f"channel_mults={tuple(config.channel_mults)}, got {config.image_size}")


def make_schedule(config: ml_collections.ConfigDict) -> diffusion.Schedule:
  if config.schedule == "cosine":
    return diffusion.cosine_schedule(config.num_timesteps)
  return diffusion.linear_schedule(config.num_timesteps)


def make_unet(config: ml_collections.ConfigDict, channels: int,
              num_classes: int | None) -> nets.UNet:
  return nets.UNet(base_channels=config.base_channels,
                   channel_mults=tuple(config.channel_mults),
                   num_res_blocks=config.num_res_blocks,
                   attention_resolutions=tuple(config.attention_resolutions),
                   dropout=config.dropout,
                   num_classes=num_classes if config.class_conditional else None,
                   out_channels=channels * (2 if config.learned_variance else 1),
                   num_groups=config.num_groups)


def to_model_space(images: jax.Array, image_size: int) -> jax.Array:
  """[B, H, W, C] in [0, 1] on 256 levels -> [-1, 1], zero-padded (value −1) to image_size."""
  x = jnp.round(images * 255.0) * (2.0 / 255.0) - 1.0
  pad_h, pad_w = image_size - x.shape[1], image_size - x.shape[2]
  if pad_h or pad_w:
    x = jnp.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2),
                    (pad_w // 2, pad_w - pad_w // 2), (0, 0)), constant_values=-1.0)
  return x


def to_images(x: jax.Array, side: tuple[int, int]) -> jax.Array:
  """Model space [-1, 1] (possibly padded) -> [B, H, W, C] images in [0, 1] at the data size."""
  off_h, off_w = (x.shape[1] - side[0]) // 2, (x.shape[2] - side[1]) // 2
  x = x[:, off_h:off_h + side[0], off_w:off_w + side[1]]
  return jnp.clip((x + 1.0) / 2.0, 0.0, 1.0)


def _trajectory_every(num_timesteps: int, frames: int) -> int:
  every = max(1, num_timesteps // frames)
  while num_timesteps % every:
    every -= 1
  return every


def make_task(config: ml_collections.ConfigDict, train_data, test_data, *,
              workdir: str | None = None) -> training.Task:
  """The DDPM `Task` (state: params/EMA of group 'model'). With `workdir`, the final
  evaluation also writes the ancestral grid, the DDIM grid and the trajectory strip."""
  data_hw = tuple(train_data.image_shape[:2])
  channels = train_data.image_shape[2]
  if config.image_size < max(data_hw):
    raise validation.ArgumentError(
        "--config.image_size", f"--config.image_size must be at least the data's side "
        f"{max(data_hw)}, got {config.image_size}")
  shape = (config.image_size, config.image_size, channels)
  num_classes = train_data.num_classes if config.class_conditional else None
  if config.class_conditional and not num_classes:
    raise validation.ArgumentError("--config.class_conditional",
                                   "--config.class_conditional needs a labelled dataset")
  unet = make_unet(config, channels, num_classes)
  schedule = make_schedule(config)
  variance = "learned" if config.learned_variance else config.variance
  null_label = num_classes

  lr = config.learning_rate
  if config.warmup_steps:
    lr = optax.linear_schedule(0.0, config.learning_rate, config.warmup_steps)
  tx = optax.adam(lr)
  if config.grad_clip:
    tx = optax.chain(optax.clip_by_global_norm(config.grad_clip), tx)

  def init(key):
    x = jnp.zeros((1,) + shape)
    t = jnp.zeros((1,), jnp.int32)
    labels = None if num_classes is None else jnp.zeros((1,), jnp.int32)
    params = unet.init(key, x, t, labels)["params"]
    return training.TrainState.create(params={"model": params}, optimizers={"model": tx},
                                      ema_decay=config.ema_decay)

  def loss_fn(params, state, batch, key):
    k_loss, k_drop, k_label = random.split(key, 3)
    x0 = to_model_space(batch["image"], config.image_size)
    labels = None
    if num_classes is not None:
      drop = random.bernoulli(k_label, jnp.full((x0.shape[0],), config.label_dropout)) > 0
      labels = jnp.where(drop, null_label, batch["label"].astype(jnp.int32))

    def model_fn(x_t, t):
      return unet.apply({"params": params}, x_t, t, labels, train=True,
                        rngs={"dropout": k_drop})

    if config.learned_variance:
      loss, terms = diffusion.hybrid_loss(k_loss, model_fn, x0, schedule,
                                          vlb_weight=config.hybrid_weight)
      extra_metrics = {"mse": terms["mse"].mean(), "vlb": terms["vlb"].mean()}
    else:
      loss = diffusion.ddpm_eps_loss(k_loss, model_fn, x0, schedule,
                                     prediction=config.prediction)
      extra_metrics = {}
    return loss.mean(), (extra_metrics, state.extra)

  def eps_fn(params, labels=None):
    """(x_t, t) -> ε (or [ε, v]) of the model at params; labels None: the null label."""
    def model_fn(x_t, t):
      return unet.apply({"params": params}, x_t, t, labels)
    return diffusion.eps_from_prediction(model_fn, schedule, prediction=config.prediction)

  def sampling_eps_fn(params, n):
    """The ε of the sampler: unconditional, or guided towards labels 0, 1, …, 9, 0, …"""
    if num_classes is None:
      return eps_fn(params)
    labels = jnp.arange(n, dtype=jnp.int32) % num_classes
    cond = eps_fn(params, labels)
    if config.guidance_scale == 1.0:
      return cond
    return diffusion.guided_eps_fn(cond, eps_fn(params), config.guidance_scale)

  def ancestral(params, key, n, trajectory_every=None):
    return diffusion.ancestral_sample(key, sampling_eps_fn(params, n), (n,) + shape,
                                      schedule, variance=variance, clip_denoised=True,
                                      trajectory_every=trajectory_every)

  def ddim(params, key, n):
    return diffusion.ddim_sample(key, sampling_eps_fn(params, n), (n,) + shape, schedule,
                                 num_steps=config.ddim_steps, clip_denoised=True,
                                 learned_variance=config.learned_variance)

  def bound(params, key, x0):
    return diffusion.variational_bound(key, eps_fn(params), x0, schedule, variance=variance)

  def bound_estimate(params, key, x0):
    return diffusion.variational_bound_estimate(key, eps_fn(params), x0, schedule,
                                                variance=variance)

  test_x = np.asarray(to_model_space(
      jnp.asarray(test_data.images[:config.bound_examples]), config.image_size))
  n_grid = config.num_sample_images
  every = _trajectory_every(config.num_timesteps, config.trajectory_steps)
  # One compiled function per sampler, shared by the grids, the timings and the FID samples.
  ancestral_jit = jax.jit(lambda p, k, n: ancestral(p, k, n, every), static_argnums=2)
  ddim_jit = jax.jit(ddim, static_argnums=2)
  bound_jit = jax.jit(bound)
  bound_estimate_jit = jax.jit(bound_estimate)

  def timed(fn, *args):
    """(result, seconds of a compiled call, compile seconds ≈ first call − second call)."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    seconds = time.perf_counter() - t0
    return out, seconds, max(first - seconds, 0.0)

  def full_bound(params, key):
    totals, nats, compiled = [], [], None
    for i in range(0, len(test_x), config.eval_batch_size):
      x0 = jnp.asarray(test_x[i:i + config.eval_batch_size])
      if compiled is None:  # compiled ahead, so that its time is apart from the bound's
        t0 = time.perf_counter()
        compiled = bound_jit.lower(params, key, x0).compile()
        compile_seconds = time.perf_counter() - t0
      fn = compiled if x0.shape[0] == min(config.eval_batch_size, len(test_x)) else bound_jit
      out = fn(params, random.fold_in(key, i), x0)
      totals.append(np.asarray(out["total"]))
      nats.append(np.asarray(out["total_nats"]))
    return np.concatenate(totals), np.concatenate(nats), compile_seconds

  def evaluate(state, key, *, final=False):
    params = state.eval_params("model")
    k_bound, k_anc, k_ddim, k_fid, k_metrics = random.split(key, 5)
    if not final:
      est = training.map_batches(lambda x: bound_estimate_jit(params, k_bound, x), test_x,
                                 batch_size=config.eval_batch_size)
      return {"test_bpd_estimate": float(np.mean(est))}

    result = {}
    t0 = time.perf_counter()
    bpd, nats, bound_compile = full_bound(params, k_bound)
    result.update(test_bpd=float(np.mean(bpd)), test_nll=float(np.mean(nats)),
                  nll_kind="bound", bound_examples=int(len(bpd)),
                  bound_seconds_per_image=(time.perf_counter() - t0 - bound_compile) / len(bpd),
                  bound_compile_seconds=bound_compile)

    (anc, traj), anc_s, anc_compile = timed(ancestral_jit, params, k_anc, n_grid)
    dd, dd_s, dd_compile = timed(ddim_jit, params, k_ddim, n_grid)
    result.update(ancestral_seconds=anc_s, ancestral_images_per_second=n_grid / anc_s,
                  ancestral_compile_seconds=anc_compile, ddim_seconds=dd_s,
                  ddim_images_per_second=n_grid / dd_s, ddim_compile_seconds=dd_compile)

    if config.num_fid_samples:
      fake = np.asarray(to_images(ddim_jit(params, k_fid, config.num_fid_samples), data_hw))
      if np.all(np.isfinite(fake)):
        result.update(metrics.evaluate_samples(k_metrics, test_data.images, fake,
                                               metrics=FID_METRICS, features="mnist"))
      else:
        result.update(fid=float("inf"), precision=0.0, recall=0.0)
      result["fid_sampler"] = f"ddim_{config.ddim_steps}"

    if workdir is not None:
      outputs.save_image_grid(os.path.join(workdir, "samples", "ancestral_final.png"),
                              np.asarray(to_images(anc, data_hw)))
      outputs.save_image_grid(os.path.join(workdir, "samples", "ddim_final.png"),
                              np.asarray(to_images(dd, data_hw)))
      rows = min(8, n_grid)  # trajectory [frames, n, ...] -> rows of x_T … x_0
      frames = np.asarray(to_images(traj[:, :rows].reshape((-1,) + shape), data_hw))
      frames = frames.reshape(traj.shape[0], rows, *frames.shape[1:]).swapaxes(0, 1)
      outputs.save_image_grid(os.path.join(workdir, "trajectory.png"),
                              frames.reshape(-1, *frames.shape[2:]), columns=traj.shape[0])
    return result

  def sample(state, key):
    return to_images(ddim_jit(state.eval_params("model"), key, n_grid), data_hw)

  data_keys = ("image", "label") if num_classes is not None else ("image",)
  return training.Task(init=init, step=training.make_train_step(loss_fn), evaluate=evaluate,
                       sample=sample, plot_keys=("loss",), data_keys=data_keys)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  config = apply_preset(config)
  validate(config)
  train_data, test_data = training.load_train_test(config)
  task = make_task(config, train_data, test_data, workdir=workdir)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
