"""Trains a VAE (any of the family) on embedded MNIST or another dataset.

  python -m experiments.vae_mnist --workdir=/tmp/vae [--config.<key>=<value> ...]
"""

from __future__ import annotations

import dataclasses

import ml_collections

from experiments.vae_mnist.config import get_config
from gen_jax import training
from gen_jax import vae
from gen_jax import validation


def vae_spec(config: ml_collections.ConfigDict) -> vae.VAESpec:
  """The typed spec of the config's VAE (its fields are config keys); a bad value raises
  `validation.ArgumentError` naming `--config.<key>`."""
  with validation.config_keys():
    return vae.VAESpec(**{f.name: config[f.name] for f in dataclasses.fields(vae.VAESpec)
                          if f.name in config})


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config)
  vae_spec(config)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  spec = vae_spec(config)
  training.validate_config(config)
  train_data, test_data = training.load_train_test(config)
  task = vae.make_task(spec, train_data=train_data, test_data=test_data)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
