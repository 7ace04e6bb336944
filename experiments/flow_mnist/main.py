"""RealNVP and Glow on 8-bit MNIST (the embedded 5,000 digits), with the histogram baseline.

  python -m experiments.flow_mnist --workdir=/tmp/glow
  python -m experiments.flow_mnist --workdir=/tmp/realnvp --config.model=realnvp
  python -m experiments.flow_mnist --workdir=/tmp/glow_vd --config.dequantization=variational
  python -m experiments.flow_mnist --workdir=/tmp/glow_cond --config.conditional=True

results.json: test_bpd (the dequantization bound in bits per dimension of the 8-bit test
digits; nll_kind 'bound'), test_nll (nats per digit), histogram_bpd (the per-pixel
256-level histogram fitted on the same training digits, `flows.histogram_fit`, exact),
fid / precision / recall of samples at temperature 1 against the test digits
(`metrics.evaluate_samples`, MNIST features); samples/temperature_{0.5,0.7,1.0}.png.
Class-conditional (conditional=True, the digit label one-hot as the flow's context):
test_bpd is the bound of log p(x | y), test_bpd_marginal that of log Σ_y π_y p(x | y)
(comparable with an unconditional run), the grids show one class per row, and the FID
samples cycle through the classes.
Published on full MNIST (60k training digits, long training): RealNVP 1.06, Glow 1.05
bits/dim; these runs see 4,000 digits for minutes, so expect far higher numbers.
"""

from __future__ import annotations

import dataclasses
import math
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.flow_mnist.config import get_config
from gen_jax import flows
from gen_jax import metrics
from gen_jax import training
from gen_jax import validation
from gen_jax.training import outputs

TEMPERATURES = (0.5, 0.7, 1.0)


def flow_spec(config: ml_collections.ConfigDict) -> flows.ImageFlowSpec:
  with validation.config_keys():
    validation.check_int("num_fid_samples", config.num_fid_samples, low=0)
    return flows.ImageFlowSpec(
        model=config.model, num_levels=config.num_levels,
        steps_per_level=config.steps_per_level, channels=config.channels,
        num_blocks=config.num_blocks, dequantization=config.dequantization,
        alpha=config.alpha, learning_rate=config.learning_rate, grad_clip=config.grad_clip,
        num_sample_images=config.num_sample_images, conditional=bool(config.conditional))


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config)
  flow_spec(config)


def histogram_bpd(train_images, test_images) -> float:
  """Bits/dim of the per-pixel 256-level histogram (Laplace smoothing) on the test set."""
  model = flows.histogram_fit(train_images)
  log_p = flows.histogram_log_prob(model, test_images)
  return float(np.mean(flows.bits_per_dim(log_p, int(np.prod(test_images.shape[1:])))))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  spec = flow_spec(config)
  train_data, test_data = training.load_train_test(config)
  shape = tuple(train_data.image_shape)
  with validation.config_keys():
    if shape[0] % 2 ** config.num_levels or shape[1] % 2 ** config.num_levels:
      raise validation.ArgumentError(
          "num_levels", f"num_levels must leave image sides {shape[:2]} divisible by "
          f"2^num_levels, got {config.num_levels}")
  task = flows.make_task(spec, train_data=train_data, test_data=test_data)
  num_classes = train_data.num_classes if spec.conditional else 0
  flow = spec.build(shape, num_classes)
  baseline = histogram_bpd(train_data.images, test_data.images)
  evaluate = task.evaluate

  def labels_for(n, grid):
    """Class-conditional: a grid's rows by class (grid), else classes in turn."""
    if not spec.conditional:
      return None
    y = flows.grid_labels(n, num_classes) if grid else np.arange(n) % num_classes
    return jax.nn.one_hot(y, num_classes, dtype=jnp.float32)

  sample = jax.jit(lambda p, k, t, n, c: flow.apply(p, k, n, context=c, temperature=t,
                                                    method="sample"), static_argnums=3)

  def evaluate_final(state, key, *, final=False):
    out = {**evaluate(state, key, final=final), "histogram_bpd": baseline}
    if not final:
      return out
    params = state.eval_params("model")["flow"]
    for i, t in enumerate(TEMPERATURES):
      images = np.asarray(sample(params, jax.random.fold_in(key, i), t,
                                 config.num_sample_images,
                                 labels_for(config.num_sample_images, grid=True)))
      outputs.save_image_grid(os.path.join(workdir, "samples", f"temperature_{t}.png"), images)
    if config.num_fid_samples:
      fake = np.concatenate([
          np.asarray(sample(params, jax.random.fold_in(key, 100 + i), 1.0, 250,
                            labels_for(250, grid=False)))
          for i in range(math.ceil(config.num_fid_samples / 250))])
      fake = np.nan_to_num(fake[:config.num_fid_samples], nan=0.0)
      out.update(metrics.evaluate_samples(jax.random.fold_in(key, 200),
                                          test_data.images, fake,
                                          metrics=("fid", "precision", "recall"),
                                          features="mnist"))
    return out

  task = dataclasses.replace(task, evaluate=evaluate_final)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
