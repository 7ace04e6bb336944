"""Tests for gen_jax/training/config.py: each invalid shared key is named with its value."""

import pytest

from experiments.gan_mixture import config as ring_config
from experiments.gan_mixture import main as ring_main
from gen_jax import training


@pytest.mark.parametrize("key,value,expected", [
    ("seed", -1, "an integer >= 0"), ("num_steps", 0, "an integer >= 1"),
    ("batch_size", -3, "an integer >= 1"), ("learning_rate", 0.0, "a number > 0"),
    ("dataset", "imagenet", "'tfds:<name>'"), ("keep_checkpoints", 0, "an integer >= 1")])
def test_invalid_common_keys_are_named(key, value, expected):
  config = training.common_config()
  config[key] = value
  with pytest.raises(ValueError, match=rf"--config\.{key} must be .*, got {value!r}") as e:
    training.validate_config(config)
  assert expected in str(e.value)
  assert e.value.argument == f"--config.{key}"


def test_stored_and_generated_datasets():
  config = training.common_config()
  for name in ("mnist", "digits", "tfds:mnist", "dir:/data"):
    config.dataset = name
    training.validate_config(config)
  config.dataset = "ring"
  with pytest.raises(ValueError, match="--config.dataset must be .* got 'ring'"):
    training.validate_config(config)
  training.validate_config(config, generated_datasets=("ring",))
  config.dataset = "mnist"
  with pytest.raises(ValueError, match=r"one of \('ring',\) \(this experiment generates"):
    training.validate_config(config, generated_datasets=("ring",))


def test_ring_experiment_validates_its_own_config():
  config = ring_config.get_config()
  ring_main.validate(config)
  config.batch_size = 0
  with pytest.raises(ValueError, match="--config.batch_size must be an integer >= 1, got 0"):
    ring_main.validate(config)
  config = ring_config.get_config()
  config.dataset = "mnist"
  with pytest.raises(ValueError, match="--config.dataset must be one of .* got 'mnist'"):
    ring_main.validate(config)
