"""Trains a binary RBM with persistent contrastive divergence on binarized MNIST and
estimates its test log-likelihood by annealed importance sampling.

  python -m experiments.rbm_mnist --workdir=/tmp/rbm [--config.<key>=<value> ...]

The state holds the parameters {"W", "b", "c"} (group "rbm", SGD with momentum, the
learning rate decayed linearly to 0) and the persistent chains in `state.extra["chains"]`
[num_chains, 784]. A step is `energy.pcd_gradients` (plus weight decay on W) and
`training.apply_gradients`; its 'loss' is the PCD objective mean F(data) − mean F(chains)
(not a likelihood: its gradient is the PCD gradient), logged with the one-step
reconstruction error.

Evaluation: log Z by `energy.ais_log_partition` from the base-rate RBM (visible biases
log p̄/(1 − p̄) of the smoothed mean training digit, S&M 2008), and
test_nll = mean F(v_test) + log Z (nats per digit, nll_kind 'ais': an estimate whose
expected log Z is biased low, so the NLL is optimistic by the AIS bias). results.json adds
log_partition, log_partition_std_err (the delta-method standard error over AIS runs),
ais_chains, ais_betas and train_nll (first 1,000 training digits, same log Z);
filters.png (the first num_sample_images hidden units' weights, each scaled to [0, 1]) is
written at the final evaluation, and the sample grids are p(v | h) after
sample_gibbs_steps block Gibbs steps from uniform noise.
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments.rbm_mnist.config import get_config
from gen_jax import energy
from gen_jax import random
from gen_jax import training
from gen_jax import validation
from gen_jax.training import outputs


def check_config(config: ml_collections.ConfigDict) -> None:
  with validation.config_keys():
    for key in ("num_hidden", "gibbs_steps", "num_chains", "ais_chains", "final_ais_chains",
                "sample_gibbs_steps", "num_sample_images"):
      validation.check_int(key, config[key], low=1)
    for key in ("ais_betas", "final_ais_betas"):
      validation.check_int(key, config[key], low=2)
    validation.check_number("momentum", config.momentum, low=0.0, high=1.0,
                            high_inclusive=False)
    validation.check_number("weight_decay", config.weight_decay, low=0.0)
    validation.check_number("init_scale", config.init_scale, low=0.0)


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config)
  check_config(config)


def _flat(images) -> np.ndarray:
  images = np.asarray(images, np.float32)
  return images.reshape(images.shape[0], -1)


def check_binary_source(train_data) -> None:
  """The first (up to) 500 training images must be 0/1: an RBM here has binary units."""
  batch = train_data.gather(np.arange(min(500, len(train_data))), jax.random.key(0))
  with validation.config_keys():
    energy.check_binary("dataset", batch["image"])


def base_rate_bias(train_x: np.ndarray) -> np.ndarray:
  """log p̄/(1 − p̄) of the mean training image, smoothed by one pseudo-count per value."""
  p = (train_x.sum(0) + 1.0) / (train_x.shape[0] + 2.0)
  return np.log(p / (1.0 - p)).astype(np.float32)


def make_task(config: ml_collections.ConfigDict, *, train_data, test_data,
              workdir: str | None = None) -> training.Task:
  check_config(config)
  check_binary_source(train_data)
  shape = tuple(train_data.image_shape)
  dims = math.prod(shape)
  test_x = _flat(test_data.images)
  with validation.config_keys():
    energy.check_binary("dataset", test_x)
  train_x = _flat(train_data.gather(np.arange(len(train_data)), jax.random.key(0))["image"])
  base_bias = jnp.asarray(base_rate_bias(train_x))
  train_subset = train_x[:1000]
  schedule = optax.linear_schedule(config.learning_rate, 0.0, config.num_steps)
  tx = optax.sgd(schedule, momentum=config.momentum or None)

  def init(key):
    k_w, k_chains = random.split(key)
    params = {"W": config.init_scale * random.normal(k_w, (dims, config.num_hidden)),
              "b": base_bias, "c": jnp.zeros((config.num_hidden,), jnp.float32)}
    chains = random.bernoulli(k_chains, jnp.full((config.num_chains, dims), 0.5))
    return training.TrainState.create({"rbm": params}, {"rbm": tx}, extra={"chains": chains})

  def step(state, batch, key):
    params = state.params["rbm"]
    v = batch["image"].reshape(batch["image"].shape[0], -1)
    k_pcd, k_recon = random.split(key)
    grads, chains = energy.pcd_gradients(k_pcd, params, v, state.extra["chains"],
                                         k=config.gibbs_steps)
    grads = {**grads, "W": grads["W"] + config.weight_decay * params["W"]}
    gap = (energy.rbm_free_energy(params, v).mean()
           - energy.rbm_free_energy(params, chains).mean())
    _, h = energy.rbm_gibbs_step(k_recon, params, v)
    recon = jax.nn.sigmoid(h @ params["W"].T + params["b"])
    state, norm = training.apply_gradients(state, "rbm", grads)
    metrics = {"loss": gap, "grad_norm": norm,
               "recon_error": jnp.square(recon - v).sum(-1).mean()}
    return state.replace(step=state.step + 1, extra={"chains": chains}), metrics

  ais = jax.jit(energy.ais_log_partition, static_argnames=("num_chains", "num_betas"))
  free_energy = jax.jit(energy.rbm_free_energy)

  def evaluate(state, key, *, final=False):
    params = state.params["rbm"]
    num_chains = config.final_ais_chains if final else config.ais_chains
    num_betas = config.final_ais_betas if final else config.ais_betas
    log_z, std_err = ais(key, params, num_chains=num_chains, num_betas=num_betas,
                         base_visible_bias=base_bias)
    log_z = float(log_z)
    test_f = training.map_batches(lambda x: free_energy(params, x), test_x, batch_size=500)
    nll = float(test_f.mean()) + log_z
    results = {"test_nll": nll, "test_bpd": nll / (dims * math.log(2)), "nll_kind": "ais",
               "train_nll": float(free_energy(params, train_subset).mean()) + log_z,
               "log_partition": log_z, "log_partition_std_err": float(std_err),
               "ais_chains": num_chains, "ais_betas": num_betas}
    if final and workdir is not None:
      save_filters(os.path.join(workdir, "filters.png"), np.asarray(params["W"]), shape,
                   config.num_sample_images)
    return results

  @jax.jit
  def sample_grid(state, key):
    params = state.params["rbm"]
    k_init, k_chain = random.split(key)
    v = random.bernoulli(k_init, jnp.full((config.num_sample_images, dims), 0.5))

    def body(v, t):
      v, h = energy.rbm_gibbs_step(random.fold_in(k_chain, t), params, v)
      return v, h
    _, hs = jax.lax.scan(body, v, jnp.arange(config.sample_gibbs_steps))
    means = jax.nn.sigmoid(hs[-1] @ params["W"].T + params["b"])
    return means.reshape((-1,) + shape)

  return training.Task(init=init, step=step, evaluate=evaluate, sample=sample_grid,
                       plot_keys=("loss", "recon_error"), data_keys=("image",))


def save_filters(path: str, weights: np.ndarray, shape: tuple[int, ...], count: int) -> None:
  """The first `count` hidden units' incoming weights as images, each min-max scaled."""
  w = weights[:, :count].T
  low, high = w.min(1, keepdims=True), w.max(1, keepdims=True)
  w = (w - low) / np.maximum(high - low, 1e-12)
  outputs.save_image_grid(path, w.reshape((-1,) + shape))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  train_data, test_data = training.load_train_test(config)
  task = make_task(config, train_data=train_data, test_data=test_data, workdir=workdir)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
