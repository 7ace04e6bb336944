"""DDPM on 2-D toy data: the quickest way to see diffusion work.

  python -m experiments.diffusion_2d --workdir=/tmp/diff2d
  python -m experiments.diffusion_2d --workdir=/tmp/diff2d_moons --config.dataset=moons

Data: a `gen_jax.data` toy (train 100k / test 10k points, fixed data keys), standardized
with the training set's per-axis mean and standard deviation; the diffusion runs in the
standardized space and the likelihood is mapped back (log|det| of the scaling).

Model: `gen_jax.nets.TimeMLP` predicting eps (or x0 / v), trained with
`gen_jax.diffusion.make_task` (ddpm_eps_loss or the hybrid loss), EMA parameters for
evaluation and sampling.

Outputs (beside the loop's): samples/reverse_step_*.png, a strip of x_T ... x_0 scatter
plots of the ancestral sampler; samples/samples_step_*.png, ancestral and DDIM samples over
the test data; results.json with
  test_nll   the full variational bound (all T terms, `diffusion.variational_bound`) on
             eval_examples test points, nats per example in the data's original units;
             nll_kind "bound". The data are continuous, so L_0 is a Gaussian *density*
             decoder N(x0; mu_theta(x_1, 1), sigma_1^2) (not the 256-level image decoder)
             and the bound is on a differential entropy.
  test_bpd   the same in bits per dimension.
  energy_distance, energy_distance_ddim   2 E|X-Y| - E|X-X'| - E|Y-Y'| between
             num_samples samples and the test points (Szekely & Rizzo), ancestral / DDIM;
             energy_distance_data: the same for num_samples *training* points, the floor
             set by sampling noise at this size.
  samples_per_second   ancestral sampler (T steps), compiled, one call.
"""

from __future__ import annotations

import math
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.diffusion_2d.config import get_config
from gen_jax import data
from gen_jax import diffusion
from gen_jax import nets
from gen_jax import training
from gen_jax import validation

DATASETS = ("swiss_roll", "moons", "ring", "checkerboard")


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config, generated_datasets=DATASETS)
  for key in ("width", "depth", "eval_examples", "num_samples", "num_timesteps"):
    validation.check_int(f"--config.{key}", config[key], low=1)
  validation.check_int("--config.ddim_steps", config.ddim_steps, low=1,
                       high=config.num_timesteps)
  with validation.config_keys():
    diffusion_spec(config)


def diffusion_spec(config: ml_collections.ConfigDict) -> diffusion.DiffusionSpec:
  return diffusion.DiffusionSpec(
      num_timesteps=config.num_timesteps, schedule=config.schedule,
      beta_start=config.beta_start, beta_end=config.beta_end, loss=config.loss,
      prediction=config.prediction, vlb_weight=config.vlb_weight,
      sample_variance=config.sample_variance, decoder="gaussian", clip_denoised=False,
      learning_rate=config.learning_rate, grad_clip=config.grad_clip,
      ema_decay=config.ema_decay, data_key="x", data_transform="identity")


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
  """2 E|X - Y| - E|X - X'| - E|Y - Y'| (V-statistics, float64): 0 iff equal laws."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  d = lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).mean()
  return float(2 * d(x, y) - d(x, x) - d(y, y))


def _scatter(ax, points, color, title, lim, **kw):
  ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.3, color=color, rasterized=True, **kw)
  ax.set_xlim(-lim, lim)
  ax.set_ylim(-lim, lim)
  ax.set_aspect("equal")
  ax.set_xticks([])
  ax.set_yticks([])
  ax.set_title(title, fontsize=8)


def save_plots(workdir: str, step: int, trajectory: np.ndarray, steps: list[int],
               samples: np.ndarray, ddim: np.ndarray, test: np.ndarray, title: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  out = os.path.join(workdir, "samples")
  os.makedirs(out, exist_ok=True)
  lim = 1.1 * float(np.abs(test).max())
  fig, axes = plt.subplots(1, len(trajectory), figsize=(2 * len(trajectory), 2.2))
  for ax, x, t in zip(axes, trajectory, steps):
    _scatter(ax, x, "tab:blue", f"x_{t}", max(lim, 3.5))
  fig.suptitle(f"reverse process, {title}", fontsize=9)
  fig.tight_layout()
  fig.savefig(os.path.join(out, f"reverse_step_{step:07d}.png"), dpi=80)
  plt.close(fig)
  fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
  for ax, pts, name in zip(axes, (samples, ddim), ("ancestral", "DDIM")):
    _scatter(ax, test, "tab:gray", "", lim)
    _scatter(ax, pts, "tab:red", f"{name} samples (red) over test data", lim)
  fig.tight_layout()
  fig.savefig(os.path.join(out, f"samples_step_{step:07d}.png"), dpi=80)
  plt.close(fig)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  with validation.config_keys():
    spec = diffusion_spec(config)
  raw_train = data.toy_dataset(config.dataset, "train")
  raw_test = data.toy_dataset(config.dataset, "test")
  x_train = np.asarray(raw_train.arrays["x"], np.float64)
  mean, std = x_train.mean(0), x_train.std(0)
  standardize = lambda x: ((np.asarray(x, np.float64) - mean) / std).astype(np.float32)
  train_data = data.ArrayDataset(arrays={"x": standardize(x_train)},
                                 name=f"{config.dataset}:train:standardized")
  test_x = standardize(raw_test.arrays["x"])[:config.eval_examples]
  log_det = float(np.log(std).sum())   # log p(x) = log p(z) - sum log std
  schedule = spec.make_schedule()
  T = config.num_timesteps
  model = nets.TimeMLP(out_features=4 if spec.loss == "hybrid" else 2,
                       features=(config.width,) * config.depth)
  n = config.num_samples
  # The strip shows x_T, the states where sqrt(abar) (the signal's weight) crosses these
  # levels, and x_0: on an SNR grid, since with a linear schedule the shape appears late.
  sqrt_abar = np.sqrt(np.r_[1.0, np.asarray(schedule.alphas_cumprod, np.float64)])
  shown = sorted({T} | {int(np.argmin(np.abs(sqrt_abar - a))) for a in (0.2, 0.5, 0.8, 0.95)}
                 | {0}, reverse=True)   # paper-indexed x_t, t = T .. 0

  @jax.jit
  def bound(params, x, key):
    eps_fn = diffusion.model_eps_fn(spec, model, params)
    return diffusion.variational_bound(key, eps_fn, x, schedule, variance=spec.variance,
                                       decoder="gaussian")

  @jax.jit
  def ancestral(params, key):
    eps_fn = diffusion.model_eps_fn(spec, model, params)
    x0, traj = diffusion.ancestral_sample(key, eps_fn, (n, 2), schedule,
                                          variance=spec.variance, trajectory_every=1)
    return x0, traj[np.array([T - t for t in shown])]

  @jax.jit
  def ddim(params, key):
    eps_fn = diffusion.model_eps_fn(spec, model, params)
    return diffusion.ddim_sample(key, eps_fn, (n, 2), schedule, num_steps=config.ddim_steps,
                                 learned_variance=spec.loss == "hybrid")

  def evaluate(state, key, *, final=False):
    params = state.eval_params("model")
    k_bound, k_anc, k_ddim = jax.random.split(key, 3)
    terms = jax.device_get(bound(params, jnp.asarray(test_x), k_bound))
    nats = float(np.mean(terms["total_nats"])) + log_det
    x0, traj = ancestral(params, k_anc)
    x0 = np.asarray(jax.block_until_ready(x0))
    x_ddim = np.asarray(ddim(params, k_ddim))
    unstd = lambda z: np.asarray(z, np.float64) * std + mean
    test = unstd(test_x)
    step = int(state.step)
    result = {
        "test_nll": nats, "test_bpd": nats / (2 * math.log(2.0)), "nll_kind": "bound",
        "bound_prior_nats": float(np.mean(terms["prior"])) * 2 * math.log(2.0),
        "bound_diffusion_nats": float(np.mean(terms["diffusion"])) * 2 * math.log(2.0),
        "bound_decoder_nats": float(np.mean(terms["decoder"])) * 2 * math.log(2.0),
        "energy_distance": energy_distance(unstd(x0), test),
        "energy_distance_ddim": energy_distance(unstd(x_ddim), test),
    }
    if final:
      result["energy_distance_data"] = energy_distance(
          np.asarray(raw_train.arrays["x"][:n], np.float64), test)
      t0 = time.perf_counter()
      jax.block_until_ready(ancestral(params, jax.random.fold_in(k_anc, 1)))
      result["samples_per_second"] = n / (time.perf_counter() - t0)
    save_plots(workdir, step, unstd(np.asarray(traj)), shown,
               unstd(x0), unstd(x_ddim), test,
               f"{config.dataset}, step {step}, bound {nats:.3f} nats")
    return result

  task = diffusion.make_task(spec, model, data_shape=(2,), evaluate=evaluate,
                             plot_keys=("loss", "mse") + (("vlb",) if spec.loss == "hybrid"
                                                          else ()))
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
