"""Three sample-based generators of the lecture notes on binarized MNIST, one command:

  python -m experiments.latent_mnist --workdir=/tmp/sbn                       # SBN, VIMCO
  python -m experiments.latent_mnist --workdir=/tmp/gmmn --config.model=gmmn
  python -m experiments.latent_mnist --workdir=/tmp/eae --config.model=entropic_ae

- sbn: a sigmoid belief net with a recognition net (`energy.sbn_init`), trained by
  maximizing `energy.vimco_surrogate` (Mnih & Rezende 2016); test_nll by
  `energy.sbn_log_likelihood` (nll_kind 'importance_sampled', final_eval_samples importance samples; an
  upper bound on the NLL in expectation). Samples: p(x = 1 | h_1) of ancestral draws.
- gmmn: an MLP generator (latent_dim → hidden → hidden → 784, sigmoid) fed N(0, I) noise,
  trained by minimizing `energy.gmmn_loss` (MMD² with a Gaussian mixture kernel, Li et al.
  2015) between a generated batch and a data batch. No likelihood.
- entropic_ae: a deterministic MLP encoder to latent_dim codes, rescaled per batch to mean
  squared norm latent_dim (so N(0, I) is the maximum-entropy code distribution), and an
  MLP decoder (Bernoulli logits); loss = mean BCE − entropy_weight ·
  `energy.kozachenko_leonenko_entropy`(codes) (Ghose et al. 2020). Samples: the decoder's
  means at z ~ N(0, I). No likelihood.

Every model reports fid, precision and recall (`metrics.evaluate_samples`, MNIST classifier
features) of num_eval_images generated means against the binarized test digits at the end.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments.latent_mnist.config import get_config
from gen_jax import energy
from gen_jax import metrics
from gen_jax import nets
from gen_jax import random
from gen_jax import training
from gen_jax import validation

MODELS = ("sbn", "gmmn", "entropic_ae")
FID_METRICS = ("fid", "precision", "recall")


def _ints(text: str, name: str) -> tuple[int, ...]:
  try:
    values = tuple(int(v) for v in str(text).split(","))
  except ValueError:
    raise validation.ArgumentError(
        name, f"{name} must be comma-separated integers, got {text!r}") from None
  for v in values:
    validation.check_int(name, v, low=1)
  return values


def _floats(text: str, name: str) -> tuple[float, ...]:
  try:
    values = tuple(float(v) for v in str(text).split(","))
  except ValueError:
    raise validation.ArgumentError(
        name, f"{name} must be comma-separated numbers, got {text!r}") from None
  for v in values:
    validation.check_number(name, v, low=0.0, low_inclusive=False)
  return values


def check_config(config: ml_collections.ConfigDict) -> dict:
  """The model options, checked (a bad value names --config.<key>)."""
  with validation.config_keys():
    validation.check_choice("model", config.model, MODELS)
    options = {"sbn_hidden": _ints(config.sbn_hidden, "sbn_hidden"),
               "bandwidths": _floats(config.bandwidths, "bandwidths")}
    validation.check_int("vimco_samples", config.vimco_samples, low=2)
    for key in ("eval_samples", "final_eval_samples", "latent_dim", "hidden", "entropy_k",
                "num_sample_images"):
      validation.check_int(key, config[key], low=1)
    validation.check_int("num_eval_images", config.num_eval_images, low=4)
    validation.check_number("entropy_weight", config.entropy_weight, low=0.0)
    if config.model == "entropic_ae":
      validation.check_int("batch_size", config.batch_size, low=config.entropy_k + 1)
  return options


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config)
  check_config(config)


def _flat(x: jax.Array) -> jax.Array:
  return x.reshape(x.shape[0], -1)


def normalize_codes(z: jax.Array) -> jax.Array:
  """z · √(d / mean_i ‖z_i‖²): the batch's codes at mean squared norm d, the constraint
  under which N(0, I) maximizes entropy (so the decoder samples from N(0, I))."""
  d = z.shape[-1]
  return z * jnp.sqrt(d / (jnp.mean(jnp.sum(z * z, -1)) + 1e-8))


def make_task(config: ml_collections.ConfigDict, *, train_data, test_data) -> training.Task:
  options = check_config(config)
  shape = tuple(train_data.image_shape)
  dims = math.prod(shape)
  test_images = np.asarray(test_data.images, np.float32)
  test_x = test_images.reshape(len(test_images), -1)
  tx = optax.adam(config.learning_rate)
  model, d = config.model, config.latent_dim
  generator = nets.MLP((config.hidden, config.hidden, dims))
  encoder = nets.MLP((config.hidden, d))
  decoder = nets.MLP((config.hidden, dims))
  if model == "sbn":
    with validation.config_keys():
      energy.check_binary("dataset", test_x)

  def init(key):
    if model == "sbn":
      params = energy.sbn_init(key, (dims,) + options["sbn_hidden"])
    elif model == "gmmn":
      params = generator.init(key, jnp.zeros((1, d)))["params"]
    else:
      k_enc, k_dec = random.split(key)
      params = {"encoder": encoder.init(k_enc, jnp.zeros((1, dims)))["params"],
                "decoder": decoder.init(k_dec, jnp.zeros((1, d)))["params"]}
    return training.TrainState.create({"model": params}, {"model": tx})

  def loss_fn(params, state, batch, key):
    x = _flat(batch["image"])
    if model == "sbn":
      surrogate, bound = energy.vimco_surrogate(key, params, x,
                                                num_samples=config.vimco_samples)
      return -surrogate.mean(), ({"bound": bound.mean()}, state.extra)
    if model == "gmmn":
      fake = jax.nn.sigmoid(generator.apply({"params": params},
                                            random.normal(key, (x.shape[0], d))))
      loss = energy.gmmn_loss(fake, x, bandwidths=options["bandwidths"])
      return loss, ({}, state.extra)
    z = normalize_codes(encoder.apply({"params": params["encoder"]}, x))
    logits = decoder.apply({"params": params["decoder"]}, z)
    bce = optax.sigmoid_binary_cross_entropy(logits, x).sum(-1)
    entropy = energy.kozachenko_leonenko_entropy(z, k=config.entropy_k)
    loss = bce.mean() - config.entropy_weight * entropy
    return loss, ({"bce": bce.mean(), "code_entropy": entropy}, state.extra)

  step = training.make_train_step(loss_fn, group="model")

  @functools.partial(jax.jit, static_argnums=2)
  def generate(params, key, num):
    if model == "sbn":
      return energy.sbn_sample(key, params, num)[1].reshape((num,) + shape)
    z = random.normal(key, (num, d))
    if model == "gmmn":
      out = generator.apply({"params": params}, z)
    else:
      out = decoder.apply({"params": params["decoder"]}, z)
    return jax.nn.sigmoid(out).reshape((num,) + shape)

  log_likelihood = jax.jit(energy.sbn_log_likelihood, static_argnames="num_samples")

  def evaluate(state, key, *, final=False):
    params = state.params["model"]
    results = {}
    if model == "sbn":
      k = config.final_eval_samples if final else config.eval_samples
      batch = max(1, min(len(test_x), 100_000 // k))
      ll = training.map_batches(
          lambda x: log_likelihood(jax.random.fold_in(key, 0), params, x, num_samples=k),
          test_x, batch_size=batch)
      nll = float(-np.mean(ll))
      results.update({"test_nll": nll, "test_bpd": nll / (dims * math.log(2)),
                      "nll_kind": "importance_sampled", "eval_samples": k})
    if final:
      fake = np.asarray(generate(params, jax.random.fold_in(key, 1), config.num_eval_images))
      if np.all(np.isfinite(fake)):
        results.update(metrics.evaluate_samples(jax.random.fold_in(key, 2), test_images, fake,
                                                metrics=FID_METRICS, features="mnist"))
      else:
        results.update({"fid": float("inf"), "precision": 0.0, "recall": 0.0})
    return results

  def sample_grid(state, key):
    return generate(state.params["model"], key, config.num_sample_images)

  plot_keys = {"sbn": ("loss", "bound"), "gmmn": ("loss",),
               "entropic_ae": ("loss", "bce", "code_entropy")}[model]
  return training.Task(init=init, step=step, evaluate=evaluate, sample=sample_grid,
                       plot_keys=plot_keys, data_keys=("image",))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  train_data, test_data = training.load_train_test(config)
  task = make_task(config, train_data=train_data, test_data=test_data)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
