"""docs/ARCHITECTURE.md's promise: a new family plugs into the substrate through the public
API only. The throwaway family here is a diagonal Gaussian density on a 2-D toy dataset (data
of shape [N, 2] under 'x'), whose maximum-likelihood fit is the sample mean and variance:
trained through `training.train`, its test NLL must reach the closed form's."""

import dataclasses
import math

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import data
from gen_jax import training
from gen_jax import validation


@dataclasses.dataclass(frozen=True)
class GaussianSpec:
  learning_rate: float = 0.05

  def __post_init__(self):
    validation.check_number("learning_rate", self.learning_rate, low=0.0,
                            low_inclusive=False)


def log_prob(params, x):
  """log N(x; μ, diag σ²), [B]."""
  var = jnp.exp(params["log_var"])
  return -0.5 * jnp.sum(math.log(2 * math.pi) + params["log_var"] +
                        (x - params["mean"])**2 / var, axis=-1)


def make_task(spec, *, train_data, test_data):
  dim = train_data.element_spec["x"].shape[-1]
  test_x = test_data.gather(np.arange(len(test_data)))["x"]

  def init(key):
    del key
    params = {"mean": jnp.zeros(dim), "log_var": jnp.zeros(dim)}
    return training.TrainState.create({"model": params},
                                      {"model": optax.adam(spec.learning_rate)})

  def loss_fn(params, state, batch, key):
    nll = -log_prob(params, batch["x"])
    return nll.mean(), ({}, state.extra)

  def evaluate(state, key, *, final=False):
    nll = -training.map_batches(lambda x: log_prob(state.params["model"], x), test_x,
                                batch_size=1000).mean()
    return {"test_nll": float(nll), "test_bpd": float(nll) / (dim * math.log(2)),
            "nll_kind": "exact"}

  return training.Task(init=init, step=training.make_train_step(loss_fn),
                       evaluate=evaluate, data_keys=("x",))


def _config(**overrides):
  config = training.common_config()
  config.update({"num_steps": 400, "batch_size": 256, "log_every": 100, "eval_every": 1000,
                 "checkpoint_every": 400, "dataset": "ring", **overrides})
  return config


def test_throwaway_family_reaches_the_closed_form_fit(tmp_path):
  train_data, test_data = data.load_dataset("ring", "train"), data.load_dataset("ring", "test")
  task = make_task(GaussianSpec(), train_data=train_data, test_data=test_data)
  results = training.train(task, _config(), str(tmp_path), train_data)
  x = train_data.gather(np.arange(len(train_data)))["x"].astype(np.float64)
  t = test_data.gather(np.arange(len(test_data)))["x"].astype(np.float64)
  mean, var = x.mean(0), x.var(0)
  closed_form = float(np.mean(0.5 * np.sum(np.log(2 * np.pi * var) + (t - mean)**2 / var, -1)))
  assert results["nll_kind"] == "exact"
  # 400 Adam steps from N(0, I): within 0.02 nats of the MLE (the ring's fit is ~2.5 nats).
  assert results["test_nll"] == pytest.approx(closed_form, abs=0.02)
  assert results["num_params"] == 4 and results["train_seconds"] > 0
  assert results["cpu_convolutions"] == "xla"  # the default kernels, recorded


def test_a_needed_key_the_source_lacks_is_named_before_compiling(tmp_path):
  mnist = data.load_dataset("digits", "train")
  task = make_task(GaussianSpec(), train_data=data.load_dataset("ring", "test"),
                   test_data=data.load_dataset("ring", "test"))
  with pytest.raises(ValueError, match=r"'x'.*'image'"):
    training.train(task, _config(dataset="digits"), str(tmp_path), mnist)
