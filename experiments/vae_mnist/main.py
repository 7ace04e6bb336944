"""Trains a VAE (any of the family) on embedded MNIST or another dataset.

  python -m experiments.vae_mnist --workdir=/tmp/vae [--config.<key>=<value> ...]
"""

from __future__ import annotations

import ml_collections

from experiments.vae_mnist.config import get_config
from gen_jax import training
from gen_jax import vae


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config, choices={
      "model": vae._task.MODELS, "architecture": vae._task.ARCHITECTURES,
      "likelihood": vae._task.LIKELIHOODS, "binarize": vae._task.BINARIZATIONS,
      "objective": vae._task.OBJECTIVES})
  for key in ("latent_dim", "hidden", "iwae_samples", "eval_samples", "final_eval_samples",
              "num_codes", "code_dim", "eval_batch_size", "num_sample_images"):
    if not isinstance(config[key], int) or config[key] <= 0:
      raise ValueError(f"--config.{key}={config[key]!r} is invalid: expected an integer > 0")
  for key in ("eval_samples", "final_eval_samples"):
    if config[key] > 100 and config[key] % 100:
      raise ValueError(f"--config.{key}={config[key]} is invalid: expected <= 100 or a "
                       "multiple of 100 (samples are drawn in chunks of 100)")
  if config.beta < 0 or config.free_bits < 0 or config.kl_warmup_steps < 0:
    raise ValueError("--config.beta, free_bits and kl_warmup_steps must be >= 0")
  if not 0 < config.vq_decay < 1:
    raise ValueError(f"--config.vq_decay={config.vq_decay} is invalid: expected in (0, 1)")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  train_data, test_data = training.load_train_test(config)
  task = vae.make_vae_task(config, train_data, test_data)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
