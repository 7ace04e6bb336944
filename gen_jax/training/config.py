"""Validation of the config keys every experiment shares."""

from __future__ import annotations

import ml_collections

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
  """Raises ValueError naming the first invalid key, its value and what is expected.

  Args:
    config: the experiment config.
    choices: {key: allowed values} for the experiment's own enumerated keys.
    generated_datasets: dataset names the experiment builds itself (e.g. 'ring'); only
      these, when given, are accepted as `dataset`, instead of the stored datasets.
  """
  def fail(key, expected):
    raise ValueError(f"--config.{key}={config[key]!r} is invalid: expected {expected}")

  for key in COMMON_KEYS:
    if key not in config:
      raise ValueError(f"config is missing the common key {key!r}")
  if not isinstance(config.seed, int) or config.seed < 0:
    fail("seed", "an integer >= 0")
  for key in ("num_steps", "batch_size", "log_every", "eval_every", "checkpoint_every"):
    if not isinstance(config[key], int) or config[key] <= 0:
      fail(key, "an integer > 0")
  if config.get("keep_checkpoints", 1) <= 0:
    fail("keep_checkpoints", "an integer > 0")
  if not config.learning_rate > 0:
    fail("learning_rate", "a number > 0")
  ds = config.dataset
  if generated_datasets:
    if ds not in generated_datasets:
      fail("dataset", f"one of {tuple(generated_datasets)} (this experiment generates its "
           "data)")
  elif not (ds in EMBEDDED_DATASETS or ds.startswith(("tfds:", "dir:"))):
    fail("dataset", f"one of {EMBEDDED_DATASETS}, 'tfds:<name>' or 'dir:<path>'")
  for key, allowed in (choices or {}).items():
    if config[key] not in allowed:
      fail(key, f"one of {tuple(allowed)}")


def load_train_test(config: ml_collections.ConfigDict):
  """The train and test splits of `config.dataset` (`config.data_dir` for TFDS), checked
  against `config.batch_size`.

  Returns:
    (train, test) `ArrayDataset`s.
  """
  data_dir = config.get("data_dir") or None
  train = load_dataset(config.dataset, "train", data_dir=data_dir)
  test = load_dataset(config.dataset, "test", data_dir=data_dir)
  if config.batch_size > len(train):
    raise ValueError(f"--config.batch_size={config.batch_size} is invalid: expected at most "
                     f"the {len(train)} training examples")
  return train, test
