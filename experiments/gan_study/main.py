"""Lucic et al. (2018), "Are GANs Created Equal?", on embedded MNIST in one command.

  python -m experiments.gan_study --workdir=/tmp/study [--config.budget=small|medium|paper]
      [--config.seeds=0,1,2] [--config.losses=non_saturating,wgan_gp,vae]

Every GAN loss trains the same DCGAN (experiments.gan_mnist, one sub-workdir per loss and
seed: <workdir>/<loss>/seed_<s>) for the same number of generator updates and batch size;
the VAE (experiments.vae_mnist's conv VAE, same latent size, steps and batch) is sampled
for FID. Each run is an ordinary resumable training run: rerunning the command skips the
finished ones and resumes an interrupted one. Outputs: study.json (per model: FIDs, mean,
std, best, precision, recall, wall time), study.md (the table beside the paper's) and
study_boxplot.png.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.gan_mnist import config as gan_mnist_config
from experiments.gan_mnist import main as gan_mnist
from experiments.gan_study.config import get_config
from experiments.vae_mnist import config as vae_mnist_config
from experiments.vae_mnist import main as vae_mnist
from gen_jax import data
from gen_jax import gan
from gen_jax import training
from gen_jax import vae
from gen_jax import validation

MODELS = gan.LOSSES + ("vae",)
# (updates, batch size, DCGAN base width, GAN learning rate). 'paper': 20 epochs of 60k
# digits at batch 64 (Lucic et al. train MNIST for 20 epochs; their architecture is
# InfoGAN's, not DCGAN's) with DCGAN's 2e-4. 'small' raises the rate to 1e-3: at 300
# updates 2e-4 leaves every GAN at noise (NS: FID 202 at 500 updates vs 80 with 1e-3).
BUDGETS = {"small": (300, 64, 16, 1e-3), "medium": (2000, 64, 32, 2e-4),
           "paper": (18750, 64, 64, 2e-4)}
# Lucic et al. 2018, Table 2 (MNIST): FID of the best model of each loss (mean over
# repeated runs of that hyperparameter setting), Inception features on 60k MNIST.
PAPER_FID = {"minimax": 9.8, "non_saturating": 6.8, "least_squares": 7.8,
             "wasserstein": 6.7, "wgan_gp": 20.3, "dragan": 7.6, "began": 13.1, "vae": 23.8}
LABELS = {"minimax": "MM GAN", "non_saturating": "NS GAN", "maximum_likelihood": "ML GAN",
          "least_squares": "LSGAN", "wasserstein": "WGAN", "wgan_gp": "WGAN-GP",
          "dragan": "DRAGAN", "began": "BEGAN", "vae": "VAE"}


def parse_list(text: str, key: str) -> list[str]:
  items = [s.strip() for s in str(text).split(",") if s.strip()]
  if not items:
    raise validation.ArgumentError(f"--config.{key}", f"--config.{key} must be a "
                                   f"comma-separated list, got {text!r}")
  return items


def validate(config: ml_collections.ConfigDict) -> None:
  name = lambda key: f"--config.{key}"
  for model in parse_list(config.losses, "losses"):
    validation.check_choice(name("losses") + " entry", model, MODELS)
  for seed in parse_list(config.seeds, "seeds"):
    if not seed.isdigit():
      raise validation.ArgumentError(name("seeds"), f"--config.seeds must be integers >= 0, "
                                     f"got {config.seeds!r}")
  validation.check_choice(name("budget"), config.budget, tuple(BUDGETS))
  # 0 selects the budget's own number of steps and learning rate.
  validation.check_int(name("num_steps"), config.num_steps, low=0)
  validation.check_number(name("learning_rate"), config.learning_rate, low=0.0)
  for key in ("latent_dim", "eval_samples"):
    validation.check_int(name(key), config[key], low=1)


def budget(config: ml_collections.ConfigDict) -> tuple[int, int, int, float]:
  """(updates, batch, width, GAN learning rate), with the config's overrides."""
  steps, batch, width, lr = BUDGETS[config.budget]
  return (config.num_steps or steps), batch, width, (config.learning_rate or lr)


def _schedule(c: ml_collections.ConfigDict, steps: int) -> None:
  # No periodic evaluation: one grid and one FID at the end of each run.
  c.num_steps = steps
  c.log_every = max(1, min(100, steps))
  c.eval_every = steps
  c.checkpoint_every = max(1, min(1000, steps))


def gan_run_config(config: ml_collections.ConfigDict, loss: str,
                   seed: int) -> ml_collections.ConfigDict:
  steps, batch, width, lr = budget(config)
  c = gan_mnist_config.get_config()
  _schedule(c, steps)
  c.seed, c.batch_size, c.base_features = seed, batch, width
  c.loss, c.latent_dim, c.eval_samples = loss, config.latent_dim, config.eval_samples
  c.learning_rate = c.d_learning_rate = lr
  return c


def vae_run_config(config: ml_collections.ConfigDict, seed: int) -> ml_collections.ConfigDict:
  steps, batch, width, _ = budget(config)
  c = vae_mnist_config.get_config()
  _schedule(c, steps)
  c.seed, c.batch_size, c.learning_rate = seed, batch, config.vae_learning_rate
  c.architecture, c.binarize, c.likelihood = "conv", "none", "bernoulli"
  c.latent_dim, c.hidden = config.latent_dim, 16 * width
  # The importance-sampled log-likelihood is not what this study compares: keep it cheap.
  c.eval_samples = c.final_eval_samples = 1
  c.num_sample_images = 100
  c.fid_samples = config.eval_samples
  return c


@functools.lru_cache(maxsize=2)
def load(split: str) -> data.ArrayDataset:
  return data.load_dataset("mnist", split)


def train_vae(c: ml_collections.ConfigDict, workdir: str) -> dict:
  """experiments.vae_mnist's run, with FID / precision / recall of its samples at the end."""
  train_data, test_data = load("train"), load("test")
  spec = vae_mnist.vae_spec(c)
  task = vae.make_task(spec, train_data=train_data, test_data=test_data)
  model = vae.build_model(spec, train_data.image_shape, train_data.num_classes)

  @jax.jit
  def samples(params, key):
    z = jax.random.normal(key, (c.fid_samples, c.latent_dim), jnp.float32)
    return model.apply({"params": params}, z, None, method=lambda m, z, l: m.mean_image(z, l))

  vae_evaluate = task.evaluate

  def evaluate(state, key, *, final=False):
    result = dict(vae_evaluate(state, key, final=final))
    if final:
      fake = np.asarray(samples(state.eval_params("model"), key))
      result.update(gan_mnist.sample_metrics(jax.random.fold_in(key, 1), test_data.images,
                                             fake))
    return result

  task = dataclasses.replace(task, evaluate=evaluate)
  return training.train(task, c, workdir, train_data)


def run_one(config: ml_collections.ConfigDict, model: str, seed: int, workdir: str) -> dict:
  """Trains (or resumes, or reads back) one run; returns its record."""
  run_dir = os.path.join(workdir, model, f"seed_{seed}")
  record_path = os.path.join(run_dir, "study_record.json")
  c = vae_run_config(config, seed) if model == "vae" else gan_run_config(config, model, seed)
  if os.path.exists(record_path):
    with open(record_path) as f:
      record = json.load(f)
    if record.get("config") == json.loads(c.to_json_best_effort()):
      return record
  t0 = time.perf_counter()
  try:
    results = (train_vae(c, run_dir) if model == "vae"
               else gan_mnist.train_and_evaluate(c, run_dir, train_data=load("train"),
                                                 test_data=load("test")))
    record = {"fid": results["fid"], "precision": results["precision"],
              "recall": results["recall"], "diverged": False}
  except training.NonFiniteError as e:
    # A diverged run is a result of the study (Lucic et al. count such runs too).
    record = {"fid": float("inf"), "precision": 0.0, "recall": 0.0, "diverged": True,
              "error": str(e)}
  record.update(model=model, seed=seed, num_steps=c.num_steps,
                config=json.loads(c.to_json_best_effort()),
                wall_seconds=time.perf_counter() - t0)
  os.makedirs(run_dir, exist_ok=True)
  with open(record_path, "w") as f:
    json.dump(record, f, indent=2)
  return record


def summarize(records: list[dict]) -> dict:
  out = {}
  for model in dict.fromkeys(r["model"] for r in records):
    runs = [r for r in records if r["model"] == model]
    fids = np.asarray([r["fid"] for r in runs], np.float64)
    finite = fids[np.isfinite(fids)]
    out[model] = {
        "fids": fids.tolist(), "seeds": [r["seed"] for r in runs],
        "fid_mean": float(finite.mean()) if finite.size else float("inf"),
        "fid_std": float(finite.std()) if finite.size else float("nan"),
        "fid_best": float(fids.min()),
        "precision_mean": float(np.mean([r["precision"] for r in runs])),
        "recall_mean": float(np.mean([r["recall"] for r in runs])),
        "diverged": int(sum(r["diverged"] for r in runs)),
        "wall_seconds_mean": float(np.mean([r["wall_seconds"] for r in runs])),
        "paper_fid": PAPER_FID.get(model)}
  return out


def _fmt(v: float, digits: int = 1) -> str:
  return f"{v:.{digits}f}" if math.isfinite(v) else "—"


def write_table(path: str, summary: dict, config: ml_collections.ConfigDict,
                total_seconds: float) -> str:
  steps, batch, width, lr = budget(config)
  lines = [
      "# GAN study (Lucic et al. 2018) on embedded MNIST", "",
      f"Budget `{config.budget}`: {steps} updates at batch {batch}, DCGAN base width "
      f"{width}, Adam({lr:g}, β₁ = 0.5) (RMSProp for WGAN) for every GAN loss (the VAE: "
      "experiments.vae_mnist's conv VAE, same steps, batch and latent size "
      f"{config.latent_dim}, Adam({config.vae_learning_rate:g})); seeds {config.seeds}; "
      f"FID of {config.eval_samples} samples vs the 1,000 test digits. Wall time: "
      f"{total_seconds:.0f} s for this invocation, "
      f"{sum(s['wall_seconds_mean'] * len(s['fids']) for s in summary.values()):.0f} s "
      "summed over the runs (2-core CPU shared with other jobs: noisy).", "",
      "| model | FID mean ± std | best FID | precision | recall | diverged | "
      "s / run | paper FID (Lucic et al., Table 2) |",
      "|---|---|---|---|---|---|---|---|"]
  for model, s in summary.items():
    paper = s["paper_fid"]
    lines.append(
        f"| {LABELS[model]} | {_fmt(s['fid_mean'])} ± {_fmt(s['fid_std'])} | "
        f"{_fmt(s['fid_best'])} | {s['precision_mean']:.2f} | {s['recall_mean']:.2f} | "
        f"{s['diverged']}/{len(s['fids'])} | {s['wall_seconds_mean']:.0f} | "
        f"{paper if paper is not None else '— (not in the study)'} |")
  lines += [
      "", "Caveats: not comparable in absolute terms with the paper's numbers. We train on "
      "the 4,000 training digits of the 5,000 embedded MNIST digits (the paper: 60k); FID "
      "uses the features of gen_jax's small MNIST classifier (the paper: InceptionV3), "
      f"computed from {config.eval_samples} samples (the paper: 10k); one fixed "
      "hyperparameter setting per loss (the paper: the best of a 100-point search per "
      f"loss); budget '{config.budget}' (the paper: 20 epochs of 60k). Only the ranking, "
      "and how it moves with the budget, is worth reading.", ""]
  with open(path, "w") as f:
    f.write("\n".join(lines))
  return path


def plot_boxplot(path: str, summary: dict) -> str:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  models = list(summary)
  fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(models)), 4))
  finite = [[v for v in summary[m]["fids"] if math.isfinite(v)] or [np.nan] for m in models]
  ax.boxplot(finite, showmeans=True)
  for i, vals in enumerate(finite, start=1):
    ax.scatter(np.full(len(vals), i), vals, s=12, color="tab:blue", zorder=3)
  ax.set_xticks(range(1, len(models) + 1))
  ax.set_xticklabels([f"{LABELS[m]}\n(paper {summary[m]['paper_fid'] or '—'})"
                      for m in models], fontsize=8)
  ax.set_yscale("log")
  ax.set_ylabel("FID (MNIST-classifier features; lower is better)")
  ax.set_title("FID per loss over seeds; diverged runs omitted", fontsize=9)
  ax.grid(alpha=0.3, axis="y")
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)
  return path


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  os.makedirs(workdir, exist_ok=True)
  if config.compilation_cache:
    # Seeds of one loss compile the same step: the persistent cache reuses it.
    jax.config.update("jax_compilation_cache_dir", os.path.join(workdir, "jax_cache"))
  t0 = time.perf_counter()
  records = [run_one(config, model, int(seed), workdir)
             for model in parse_list(config.losses, "losses")
             for seed in parse_list(config.seeds, "seeds")]
  total = time.perf_counter() - t0
  summary = summarize(records)
  with open(os.path.join(workdir, "study.json"), "w") as f:
    json.dump({"budget": config.budget, "num_steps": budget(config)[0],
               "learning_rate": budget(config)[3],
               "seeds": config.seeds, "total_wall_seconds": total, "models": summary,
               "runs": records}, f, indent=2)
  write_table(os.path.join(workdir, "study.md"), summary, config, total)
  plot_boxplot(os.path.join(workdir, "study_boxplot.png"), summary)
  # results.json like every experiment's (what experiments.reproduce reads): the mean FID
  # per model and the runs' summed wall time (stable when finished runs are read back).
  results = {f"fid_mean_{m}": s["fid_mean"] for m, s in summary.items()}
  results["train_seconds"] = sum(r["wall_seconds"] for r in records)
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
  return results


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
