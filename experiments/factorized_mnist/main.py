"""The pixel-independent baseline: one Bernoulli (or 256-way categorical) per pixel.

  python -m experiments.factorized_mnist --workdir=/tmp/factorized
  python -m experiments.factorized_mnist --workdir=/tmp/factorized256 \\
      --config.likelihood=categorical

results.json: test_nll (exact, nats per test digit), test_bpd, nll_kind, num_params.
"""

from __future__ import annotations

import ml_collections

from experiments.factorized_mnist.config import get_config
from gen_jax import factorized
from gen_jax import training
from gen_jax import validation


def factorized_spec(config: ml_collections.ConfigDict) -> factorized.FactorizedSpec:
  with validation.config_keys():
    return factorized.FactorizedSpec(likelihood=config.likelihood, binarize=config.binarize,
                                     learning_rate=config.learning_rate,
                                     num_sample_images=config.num_sample_images)


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config)
  factorized_spec(config)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  train_data, test_data = training.load_train_test(config)
  task = factorized.make_task(factorized_spec(config), train_data=train_data,
                              test_data=test_data)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
