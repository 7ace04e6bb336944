"""Validation of the config keys every experiment shares."""

from __future__ import annotations

import ml_collections

from gen_jax import validation
from gen_jax.data import EMBEDDED_DATASETS
from gen_jax.data import load_dataset

COMMON_KEYS = ("seed", "num_steps", "batch_size", "learning_rate", "log_every", "eval_every",
               "checkpoint_every", "dataset")


def common_config() -> ml_collections.ConfigDict:
  """Defaults of the shared keys; experiments extend this."""
  # The trailing comments are the keys' --help descriptions (gen_jax.training.cli).
  c = ml_collections.ConfigDict()
  c.seed = 0                 # root of every random stream: init, data order, noise, evals
  c.num_steps = 1000         # training steps (optimizer updates)
  c.batch_size = 128         # global batch, split over the devices (a multiple of their number)
  c.learning_rate = 1e-3     # Adam step size
  c.log_every = 50           # steps between records in metrics.jsonl and TensorBoard
  c.eval_every = 500         # steps between evaluations and sample grids
  c.checkpoint_every = 500   # steps between checkpoints (the last step is always saved)
  c.keep_checkpoints = 3     # checkpoints kept in workdir/checkpoints
  c.dataset = "mnist"        # mnist | digits | tfds:<name> | dir:<path> (README, Data)
  c.data_dir = ""            # TFDS data directory for tfds:<name> ('': TFDS's default)
  return c


def validate_config(config: ml_collections.ConfigDict, *, choices: dict | None = None,
                    generated_datasets: tuple[str, ...] = ()) -> None:
  """Raises `validation.ArgumentError` naming the first invalid key (`--config.<key>`), what
  it expects and the value.

  Args:
    config: the experiment config.
    choices: {key: allowed values} for the experiment's own enumerated keys.
    generated_datasets: dataset names the experiment builds itself (e.g. 'ring'); only
      these, when given, are accepted as `dataset`, instead of the stored datasets.
  """
  name = lambda key: f"--config.{key}"
  for key in COMMON_KEYS:
    if key not in config:
      raise validation.ArgumentError(key, f"config is missing the common key {key!r}")
  validation.check_int(name("seed"), config.seed, low=0)
  for key in ("num_steps", "batch_size", "log_every", "eval_every", "checkpoint_every"):
    validation.check_int(name(key), config[key], low=1)
  validation.check_int(name("keep_checkpoints"), config.get("keep_checkpoints", 1), low=1)
  validation.check_number(name("learning_rate"), config.learning_rate, low=0.0,
                          low_inclusive=False)
  ds = config.dataset
  if generated_datasets:
    if ds not in generated_datasets:
      raise validation.ArgumentError(
          name("dataset"), f"--config.dataset must be one of {tuple(generated_datasets)} "
          f"(this experiment generates its data), got {ds!r}")
  elif not (ds in EMBEDDED_DATASETS or ds.startswith(("tfds:", "dir:"))):
    raise validation.ArgumentError(
        name("dataset"), f"--config.dataset must be one of {EMBEDDED_DATASETS}, "
        f"'tfds:<name>' or 'dir:<path>', got {ds!r}")
  for key, allowed in (choices or {}).items():
    validation.check_choice(name(key), config[key], allowed)


def load_train_test(config: ml_collections.ConfigDict):
  """The train and test splits of `config.dataset`, checked against `config.batch_size`.

  Reads `config.data_dir` (TFDS data directory) and, when present, `config.streaming` (for
  'tfds:' names: read batches from disk instead of loading the splits into memory).

  Returns:
    (train, test) `gen_jax.data.DataSource`s (see `gen_jax.data.load_dataset`).
  """
  data_dir = config.get("data_dir") or None
  streaming = bool(config.get("streaming", False))
  train = load_dataset(config.dataset, "train", data_dir=data_dir, streaming=streaming)
  test = load_dataset(config.dataset, "test", data_dir=data_dir, streaming=streaming)
  validation.check_int("--config.batch_size", config.batch_size, high=len(train))
  return train, test
