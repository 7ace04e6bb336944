"""Tractable models of MNIST with exact likelihoods: NADE, MADE, PixelCNN, gated PixelCNN,
PixelRNN (Row LSTM or Diagonal BiLSTM) and a sum-product network.

  python -m experiments.ar_mnist --workdir=/tmp/pixelcnn
  python -m experiments.ar_mnist --workdir=/tmp/gated --config.model=gated_pixelcnn
  python -m experiments.ar_mnist --workdir=/tmp/diag --config.model=pixelrnn \\
      --config.rnn_layer=diagonal
  python -m experiments.ar_mnist --workdir=/tmp/nade --config.model=nade
  python -m experiments.ar_mnist --workdir=/tmp/spn --config.model=spn
  python -m experiments.ar_mnist --workdir=/tmp/pcnn256 --config.distribution=categorical

Binarized embedded MNIST by default (dynamic binarization for training; the test digits
binarized once with a fixed key, the same bits as experiments.factorized_mnist, the
pixel-independent baseline); 256 levels with distribution=categorical or
logistic_mixture (conv models).

results.json: test_nll (exact, nats per test image), test_bpd, nll_kind "exact",
samples_per_second_fast / samples_per_second_naive (num_speed_images per call, each
sampler compiled first) and their ratio sampling_speedup, plus what the loop adds.
Images: samples/step_*.png (fast sampler) and completions.png (three rows: test digits,
their top halves as given, the model's completions of the bottom halves: ancestral for the
autoregressive models, an exact conditional draw for the SPN). The SPN has one sampler
(one pass), so its "naive" speed is the same sampler's.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.ar_mnist.config import get_config
from gen_jax import autoregressive as ar
from gen_jax import random
from gen_jax import training
from gen_jax import validation
from gen_jax.training import outputs

CONV_MODELS = ("pixelcnn", "gated_pixelcnn", "pixelrnn")
DENSE_MODELS = ("nade", "made", "spn")
MODELS = DENSE_MODELS + CONV_MODELS
LEVELS = 256


def conv_spec(config: ml_collections.ConfigDict) -> ar.ConvARSpec:
  """The typed spec of a conv model; a bad value names `--config.<key>`."""
  with validation.config_keys():
    return ar.ConvARSpec(**{f.name: config[f.name] for f in dataclasses.fields(ar.ConvARSpec)
                            if f.name in config})


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config, choices={"model": MODELS})
  with validation.config_keys():
    for key in ("num_speed_images", "num_completions", "eval_batch_size"):
      validation.check_int(key, config[key], low=1)
  if config.model in CONV_MODELS:
    conv_spec(config)
  else:
    dense_spec(config)


@dataclasses.dataclass(frozen=True)
class Samplers:
  """What the final evaluation calls, on the model's parameters: fast(key, params, n),
  naive(key, params, n) and complete(key, params, given, num_given, labels), all returning
  raw values [n, H, W, C] (0/1 or levels); complete is None when the model's order does
  not start with the top half."""
  fast: callable
  naive: callable
  complete: callable | None


def _test_images(test_data, distribution, binarize):
  x = np.asarray(test_data.images, np.float32)
  if distribution == "bernoulli" and binarize == "dynamic":
    return np.asarray(random.bernoulli(jax.random.key(7), x))   # factorized_mnist's bits
  return x if distribution == "bernoulli" else np.round(x * (LEVELS - 1))


def conv_task(config, train_data, test_data):
  spec = conv_spec(config)
  task = ar.make_conv_task(spec, train_data=train_data, test_data=test_data)
  model = spec.module()
  shape = tuple(train_data.image_shape)

  def labels(n):
    return jnp.arange(n) % spec.num_classes if spec.conditional else None

  samplers = Samplers(
      fast=lambda k, p, n: ar.conv_sample(k, model, p, (n, *shape), labels=labels(n)),
      naive=lambda k, p, n: ar.conv_sample_naive(k, model, p, (n, *shape),
                                                 labels=labels(n)),
      complete=lambda k, p, g, m, y: ar.conv_sample(k, model, p, g.shape, given=g,
                                                    num_given=m,
                                                    labels=y if spec.conditional else None))
  return task, samplers


def _complete_flat(key, apply_fn, given, num_given, distribution):
  """Ancestral completion in raster order by full passes (NADE / MADE): dimensions
  >= num_given of given [B, D] are drawn with the family's noise and draw rule."""
  b, d = given.shape
  noise = ar.sampling_noise(key, (b, d), distribution=distribution)
  x0 = jnp.where(jnp.arange(d) < num_given, given, 0.0)

  def body(t, x):
    logits = apply_fn(x).reshape((b, d) + (() if distribution == "bernoulli" else (-1,)))
    return x.at[:, t].set(ar.draw(noise[:, t], logits[:, t], distribution=distribution))

  return jax.lax.fori_loop(num_given, d, body, x0)


def dense_spec(config: ml_collections.ConfigDict) -> ar.DenseARSpec:
  """The typed spec of NADE / MADE / SPN (MADE: one hidden layer of hidden_size)."""
  with validation.config_keys():
    fields = {f.name: config[f.name] for f in dataclasses.fields(ar.DenseARSpec)
              if f.name in config}
    return ar.DenseARSpec(**fields, hidden_sizes=(config.hidden_size,))


def dense_task(config, train_data, test_data):
  """NADE / MADE / SPN over the flattened image (the family's `make_dense_task`)."""
  spec = dense_spec(config)
  task = ar.make_dense_task(spec, train_data=train_data, test_data=test_data)
  shape = tuple(train_data.image_shape)
  dims = math.prod(shape)
  model = spec.module(dims)

  def fast(key, params, n):
    return ar.dense_sample(key, model, params, n).reshape(n, *shape)

  def naive(key, params, n):
    return ar.dense_sample(key, model, params, n, fast=False).reshape(n, *shape)

  def complete(key, params, given, num_given, labels):
    del labels
    n = given.shape[0]
    flat = given.reshape(n, dims)
    if spec.model == "spn":   # exact conditional sampling given the top half
      observed = jnp.arange(dims) < num_given
      return ar.spn_complete(model, params, flat, observed, key=key,
                             mode="sample").reshape(given.shape)
    if spec.model == "made":
      apply = lambda v: model.apply(params, v, mask_index=0)
    else:
      apply = lambda v: model.apply(params, v)
    return _complete_flat(key, apply, flat, num_given, spec.distribution).reshape(given.shape)

  raster = spec.model != "made" or not spec.order_agnostic
  return task, Samplers(fast=fast, naive=naive, complete=complete if raster else None)


def _images_per_second(fn, key, n: int) -> float:
  """n / seconds of one call of the compiled fn(key) (compilation excluded)."""
  compiled = jax.jit(fn).lower(key).compile()
  t = time.perf_counter()
  jax.block_until_ready(compiled(key))
  return n / max(time.perf_counter() - t, 1e-9)


def final_extras(config, samplers, test_data, state, key, workdir) -> dict:
  """Sampler speeds (both compiled, one timed call each) and completions.png."""
  params = state.eval_params("model")
  n = config.num_speed_images
  k_speed, k_comp = jax.random.split(jax.random.fold_in(key, 99))
  fast = _images_per_second(lambda k: samplers.fast(k, params, n), k_speed, n)
  naive = _images_per_second(lambda k: samplers.naive(k, params, n), k_speed, n)
  out = {"samples_per_second_fast": fast, "samples_per_second_naive": naive,
         "sampling_speedup": fast / naive}
  if samplers.complete is None:
    return out
  m = min(config.num_completions, len(test_data))
  given = jnp.asarray(_test_images(test_data, config.distribution, config.binarize)[:m])
  labels = jnp.asarray(np.asarray(test_data.labels[:m], np.int32)) if config.get(
      "conditional") else None
  h, w, c = given.shape[1:]
  num_given = (h // 2) * w * c
  done = jax.jit(lambda k: samplers.complete(k, params, given, num_given, labels))(k_comp)
  scale = 1.0 if config.distribution == "bernoulli" else 1.0 / (LEVELS - 1)
  occluded = np.array(given) * scale
  occluded[:, h // 2:] = 0.5
  grid = np.concatenate([np.asarray(given) * scale, occluded, np.asarray(done) * scale], 0)
  if jax.process_index() == 0:   # rows: test digits, their top halves, completions
    outputs.save_image_grid(os.path.join(workdir, "completions.png"), np.clip(grid, 0, 1),
                            columns=m)
  return out


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  train_data, test_data = training.load_train_test(config)
  build = conv_task if config.model in CONV_MODELS else dense_task
  task, samplers = build(config, train_data, test_data)

  def evaluate(state, key, *, final=False):
    result = dict(task.evaluate(state, key, final=final))
    if final:
      result.update(final_extras(config, samplers, test_data, state, key, workdir))
    return result

  return training.train(dataclasses.replace(task, evaluate=evaluate), config, workdir,
                        train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
