"""GANs on the 2-D ring of 8 Gaussians (Metz et al. 2017): mode collapse and unrolling.

  python -m experiments.gan_mixture --workdir=/tmp/ring_ns
  python -m experiments.gan_mixture --workdir=/tmp/ring_unrolled --config.loss=minimax \
      --config.unroll_steps=10

The defaults are Metz et al.'s (2017, App. A): G 2×128 ReLU, D 1×128 ReLU on its input
scaled by 1/4, orthogonal(0.8) kernels, z ∈ R²⁵⁶, Adam(1e-4, β₁ = 0.5) for both players,
batch 512; their unrolled GAN plays the minimax value function through K unrolled D
updates (`gen_jax.gan.GANGame.unroll_steps`; K = 5 in their §3.1 text, 10 in Fig. 1). The
budget is 15k generator updates, not their 25k: with K = 10 all 8 modes are covered on
seeds 0, 1, 2 from 12.5k on, the plain GAN holds at most one mode at every checkpoint of
25k-step runs, and 15k keeps the unrolled run under 3 minutes on 2 CPU cores.
`--config.num_steps=25000` is the paper's budget (8/8 on the same three seeds).

Data: `gen_jax.data`'s 'ring' toy dataset, `num_data` points (100k by default) drawn with
its fixed training key: 'x' [N, 2] with the mode index as 'label'. With σ = 0.02 the
empirical measure of 100k points is indistinguishable from the mixture at these batch sizes.

Outputs (beside the loop's): samples/scatter_step_*.png at each eval, samples_final.npy,
results.json with modes_covered (of num_modes; a mode counts when ≥ 1% of the 10k samples
lie within 3σ of it) and high_quality_fraction (samples within 3σ of some mode).
"""

from __future__ import annotations

import os

import flax.linen as nn
import jax
import ml_collections
import numpy as np

from experiments.gan_mixture.config import get_config
from gen_jax import data
from gen_jax import gan
from gen_jax import training
from gen_jax import validation
from gen_jax.nets.gan_mlp import MLPAutoencoder
from gen_jax.nets.gan_mlp import MLPDiscriminator
from gen_jax.nets.gan_mlp import MLPGenerator

class ScaledInputDiscriminator(nn.Module):
  """D(s·x): the discriminator of Metz et al. (2017, App. A) first scales its input down
  by 4, to about [−1, 1] for the ring of radius 2."""
  inner: nn.Module
  scale: float

  @nn.compact
  def __call__(self, x, labels=None, *, train: bool = False):
    return self.inner(x * self.scale, labels, train=train)


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config, generated_datasets=("ring",))
  gan.validate_gan_config(config)
  for key in ("num_modes", "num_data", "g_width", "g_layers", "d_width", "d_layers",
              "eval_samples"):
    validation.check_int(f"--config.{key}", config[key], low=1)
  for key in ("radius", "std", "d_input_scale"):
    validation.check_number(f"--config.{key}", config[key], low=0.0, low_inclusive=False)
  validation.check_int("--config.batch_size", config.batch_size, high=config.num_data)


def ring_dataset(config: ml_collections.ConfigDict) -> data.ArrayDataset:
  """'x' [num_data, 2], 'label' [num_data]: the training sample is a property of the task
  (the toy dataset's fixed key), not of the run's seed."""
  return data.toy_dataset("ring", "train", num_examples=config.num_data,
                          num_modes=config.num_modes, radius=config.radius, std=config.std)


def build_game(config: ml_collections.ConfigDict) -> gan.GANGame:
  """MLP players after Metz et al. (App. A): G 2×128 ReLU, D 1×128 ReLU on x/4 (when
  d_input_scale = 0.25), z ∈ R²⁵⁶, orthogonal(0.8) kernel init."""
  init = (nn.initializers.orthogonal(config.orthogonal_init) if config.orthogonal_init > 0
          else nn.linear.default_kernel_init)
  n_cls = config.num_modes if config.conditional else 0
  generator = MLPGenerator((2,), hidden=(config.g_width,) * config.g_layers,
                           num_classes=n_cls, kernel_init=init)
  if config.loss == "began":
    discriminator = MLPAutoencoder(hidden=(config.d_width,) * config.d_layers,
                                   num_classes=n_cls)
  else:
    layer = None
    if config.minibatch == "discrimination":
      layer = gan.MinibatchDiscrimination(num_kernels=16, kernel_dim=4)
    elif config.minibatch == "stddev":
      layer = gan.MinibatchStddev()
    discriminator = MLPDiscriminator(hidden=(config.d_width,) * config.d_layers,
                                     num_classes=n_cls, minibatch_layer=layer,
                                     kernel_init=init)
    if config.d_input_scale != 1.0:
      discriminator = ScaledInputDiscriminator(discriminator, config.d_input_scale)
  g_opt, d_opt = gan.gan_optimizers(config.loss, learning_rate=config.learning_rate,
                                    d_learning_rate=config.d_learning_rate,
                                    beta1=config.beta1, beta2=config.beta2)
  return gan.GANGame(generator=generator, discriminator=discriminator, g_optimizer=g_opt,
                     d_optimizer=d_opt, loss=config.loss, latent_dim=config.latent_dim,
                     data_shape=(2,), num_classes=n_cls, data_key="x", d_steps=config.d_steps,
                     unroll_steps=config.unroll_steps,
                     unroll_real_term=config.unroll_real_term, penalty_weight=config.penalty_weight,
                     clip=config.clip, began_gamma=config.began_gamma,
                     began_lambda_k=config.began_lambda_k,
                     fresh_generator_noise=config.fresh_generator_noise,
                     label_smoothing=config.label_smoothing,
                     ema_decay=config.ema_decay or None)


def save_scatter(path: str, samples: np.ndarray, modes: np.ndarray, *, title: str = "",
                 ax=None) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  own = ax is None
  if own:
    fig, ax = plt.subplots(figsize=(4, 4))
  ax.scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.25, color="tab:blue", rasterized=True)
  ax.scatter(modes[:, 0], modes[:, 1], s=25, marker="x", color="tab:red")
  lim = 1.5 * float(np.abs(modes).max())
  ax.set_xlim(-lim, lim)
  ax.set_ylim(-lim, lim)
  ax.set_aspect("equal")
  ax.set_title(title, fontsize=9)
  if own:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  train_data = ring_dataset(config)
  game = build_game(config)
  modes = np.asarray(gan.ring_modes(num_modes=config.num_modes, radius=config.radius))
  n = config.eval_samples
  generate = jax.jit(lambda params, coll, key: gan.generate(key, game, params, coll, n))

  def evaluate(state, key, *, final=False):
    samples = np.asarray(generate(state.eval_params("g"), state.extra["g"], key))
    cover = gan.mode_coverage(samples, modes, std=config.std)
    step = int(state.step)
    save_scatter(os.path.join(workdir, "samples", f"scatter_step_{step:07d}.png"), samples,
                 modes, title=f"{config.loss}, K={config.unroll_steps}, step {step}: "
                 f"{cover['modes_covered']}/{config.num_modes} modes")
    result = {"modes_covered": cover["modes_covered"],
              "high_quality_fraction": cover["high_quality_fraction"]}
    if final:
      np.save(os.path.join(workdir, "samples_final.npy"), samples)
      result["mode_fractions"] = cover["mode_fractions"]
    return result

  task = gan.make_task(game, evaluate=evaluate)
  return training.train(task, config, workdir, train_data)


def plot_comparison(workdirs: list[str], labels: list[str], path: str) -> str:
  """Side-by-side final scatters of several runs (the README figure)."""
  import json  # pylint: disable=g-import-not-at-top
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, len(workdirs), figsize=(3.2 * len(workdirs), 3.4))
  for ax, wd, label in zip(np.atleast_1d(axes), workdirs, labels):
    with open(os.path.join(wd, "config.json")) as f:
      cfg = json.load(f)
    with open(os.path.join(wd, "results.json")) as f:
      res = json.load(f)
    modes = np.asarray(gan.ring_modes(num_modes=cfg["num_modes"], radius=cfg["radius"]))
    save_scatter("", np.load(os.path.join(wd, "samples_final.npy")), modes, ax=ax,
                 title=f"{label}\n{res['modes_covered']}/{cfg['num_modes']} modes, "
                 f"{100 * res['high_quality_fraction']:.0f}% within 3σ")
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=80)
  plt.close(fig)
  return path


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
