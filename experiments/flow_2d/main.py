"""Normalizing flows on 2-D toy densities: RealNVP, rational-quadratic spline couplings,
MAF and IAF on two moons, a ring of Gaussians or a checkerboard.

  python -m experiments.flow_2d --workdir=/tmp/flow2d
  python -m experiments.flow_2d --workdir=/tmp/flow2d_spline_cb \\
      --config.model=spline --config.dataset=checkerboard
  python -m experiments.flow_2d --workdir=/tmp/flow2d_cond --config.conditional=True

Outputs (beside the loop's): samples/density_step_*.png (the learned density on a grid,
beside samples and the data) at each evaluation; results.json with test_nll (exact, nats
per point on 20,000 held-out points), nll_kind, model, dataset. With conditional=True the
flow models p(x | label): test_nll is the conditional NLL, test_nll_marginal that of the
implied marginal Σ_y π_y p(x | y) (comparable with an unconditional run's test_nll; their
gap is at most the label entropy H(y)), the plot shows that marginal and samples coloured by
their label.
"""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.flow_2d.config import get_config
from gen_jax import data
from gen_jax import flows
from gen_jax import training
from gen_jax import validation

DATASETS = ("moons", "ring", "checkerboard")


def flow_spec(config: ml_collections.ConfigDict) -> flows.Flow2DSpec:
  with validation.config_keys():
    validation.check_int("hidden", config.hidden, low=1)
    return flows.Flow2DSpec(model=config.model, num_layers=config.num_layers,
                            hidden=(config.hidden, config.hidden), num_bins=config.num_bins,
                            bound=config.bound, learning_rate=config.learning_rate,
                            grad_clip=config.grad_clip, conditional=bool(config.conditional))


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config, generated_datasets=DATASETS)
  flow_spec(config)
  with validation.config_keys():
    validation.check_int("num_plot_samples", config.num_plot_samples, low=1)


def plot(path: str, functions, params, key, train_x: np.ndarray, num_samples: int,
         title: str) -> None:
  """Data, learned density (on a 200 x 200 grid) and samples, side by side."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  lo, hi = np.percentile(train_x, 0.5, axis=0) - 0.5, np.percentile(train_x, 99.5, axis=0) + 0.5
  t0, t1 = np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200)
  grid = np.stack(np.meshgrid(t0, t1), -1).reshape(-1, 2).astype(np.float32)
  log_prob, sample = functions
  log_p = np.asarray(log_prob(params, grid))
  samples = sample(params, key, num_samples)
  colours = None
  if isinstance(samples, tuple):  # conditional: (samples, their labels)
    samples, colours = samples
  samples = np.asarray(samples)
  fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
  axes[0].scatter(train_x[:num_samples, 0], train_x[:num_samples, 1], s=1, alpha=0.3)
  axes[0].set_title("data")
  axes[1].imshow(np.exp(log_p).reshape(200, 200), origin="lower",
                 extent=(lo[0], hi[0], lo[1], hi[1]), aspect="auto", cmap="viridis")
  axes[1].set_title("density")
  if colours is None:
    axes[2].scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.3, color="tab:orange")
  else:
    axes[2].scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.3, c=np.asarray(colours),
                    cmap="tab10")
  axes[2].set_title("samples")
  for ax in (axes[0], axes[2]):
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
  fig.suptitle(title)
  fig.tight_layout()
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fig.savefig(path, dpi=80)
  plt.close(fig)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  spec = flow_spec(config)
  train_data = data.toy_dataset(config.dataset, "train")
  test_data = data.toy_dataset(config.dataset, "test")
  task = flows.make_task(spec, train_data=train_data, test_data=test_data)
  train_x = np.asarray(train_data["x"])
  if spec.conditional:
    num_classes = train_data.num_classes
    labels = np.asarray(train_data["label"])
    frequencies = np.bincount(labels, minlength=num_classes) / len(labels)
    flow = spec.build(num_classes)
    _, marginal, sample = flows.conditional_2d_functions(flow, num_classes, frequencies)
    sample = jax.jit(sample)

    def sample_with_labels(p, k, n):  # labels drawn from the training frequencies
      y = jax.random.categorical(jax.random.fold_in(k, 1), jnp.log(frequencies), shape=(n,))
      return sample(p, k, y), y

    functions = (jax.jit(marginal), sample_with_labels)
  else:
    flow = spec.build()
    functions = (jax.jit(lambda p, v: flow.apply(p, v, method="log_prob")),  # compiled once
                 jax.jit(lambda p, k, n: flow.apply(p, k, n, method="sample"),
                         static_argnums=2))
  evaluate = task.evaluate
  evals = [0]

  def evaluate_and_plot(state, key, *, final=False):
    out = dict(evaluate(state, key, final=final))
    evals[0] += 1
    name = "final" if final else f"eval_{evals[0]:03d}"
    plot(os.path.join(workdir, "samples", f"density_{name}.png"), functions,
         state.eval_params("model"), jax.random.fold_in(key, 1), train_x,
         config.num_plot_samples,
         f"{config.model} on {config.dataset}{' | label' if spec.conditional else ''}: "
         f"test NLL {out['test_nll']:.3f} nats")
    return {**out, "model": config.model, "dataset": config.dataset}

  task = dataclasses.replace(task, evaluate=evaluate_and_plot)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
