"""The histogram baseline every flow must beat: one 256-way categorical per pixel (or a
joint table per patch), fitted by counting.

  python -m experiments.histogram_mnist --workdir=/tmp/histogram
  python -m experiments.histogram_mnist --workdir=/tmp/histogram2x2 \\
      --config.num_bins=2 --config.patch_height=2 --config.patch_width=2

The loop's steps count batches: the state holds the running counts
(`flows.histogram_counts` of each batch, added up), and the step's loss is the batch's
NLL under the histogram of the digits counted before it (its sequential code length, in
nats per digit). After one epoch the counts are those of the whole training set, and
the model is `flows.histogram_fit(train)` exactly.

results.json: test_nll (exact, nats per test digit, of the digits quantized to num_bins
levels: comparable across models only at equal num_bins), test_bpd, nll_kind, num_params
(0: nothing is trained by gradients).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.histogram_mnist.config import get_config
from gen_jax import flows
from gen_jax import training
from gen_jax import validation


def histogram_options(config: ml_collections.ConfigDict) -> dict:
  """The keyword arguments of `flows.histogram_counts` / `histogram_from_counts`,
  checked (a bad value is reported as --config.<key>)."""
  with validation.config_keys():
    validation.check_int("num_bins", config.num_bins, low=2, high=256)
    validation.check_int("patch_height", config.patch_height, low=1)
    validation.check_int("patch_width", config.patch_width, low=1)
    validation.check_number("smoothing", config.smoothing, low=0.0, low_inclusive=False)
    validation.check_int("num_sample_images", config.num_sample_images, low=1)
  return {"num_bins": config.num_bins, "patch": (config.patch_height, config.patch_width)}


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config)
  histogram_options(config)


def make_task(config: ml_collections.ConfigDict, *, train_data, test_data) -> training.Task:
  """Counting as a `Task`: state.extra['counts'] [P, K] int32, no parameters."""
  options = histogram_options(config)
  shape = tuple(train_data.image_shape)
  dims = math.prod(shape)
  test_x = np.asarray(test_data.images, np.float32)
  with validation.config_keys():  # patch / num_bins that do not fit the images
    empty = flows.histogram_counts(np.zeros((1,) + shape, np.uint8), **options) * 0

  def model(state):
    return flows.histogram_from_counts(state.extra["counts"], image_shape=shape,
                                       smoothing=config.smoothing, **options)

  def init(key):
    del key  # nothing random: the counts start at 0
    return training.TrainState.create({}, {}, extra={"counts": jnp.asarray(empty)})

  def step(state, batch, key):
    del key
    x = batch["image"]
    nll = -flows.histogram_log_prob(model(state), x).mean()
    counts = state.extra["counts"] + flows.histogram_counts(x, **options)
    return state.replace(step=state.step + 1, extra={"counts": counts}), {"loss": nll}

  def evaluate(state, key, *, final=False):
    del key, final  # exact and deterministic
    histogram = model(state)
    ll = training.map_batches(lambda x: flows.histogram_log_prob(histogram, x), test_x,
                              batch_size=500)
    nll = float(-ll.mean())
    return {"test_nll": nll, "test_bpd": nll / (dims * math.log(2)), "nll_kind": "exact"}

  def sample_grid(state, key):
    return flows.histogram_sample(key, model(state), config.num_sample_images)

  return training.Task(init=init, step=step, evaluate=evaluate, sample=jax.jit(sample_grid),
                       plot_keys=("loss",), data_keys=("image",))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  train_data, test_data = training.load_train_test(config)
  task = make_task(config, train_data=train_data, test_data=test_data)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
