"""The command line shared by every experiment:

  python -m experiments.<name> --workdir=DIR [--config.<key>=<value> ...]

Exit status: 0 on success, 1 on a non-finite loss (message names the step) or an unusable
checkpoint, 2 on an invalid config.
"""

from __future__ import annotations

import sys
from typing import Callable

from absl import app, flags
from absl import logging as absl_logging
import ml_collections
from ml_collections import config_flags

from gen_jax.training.checkpoint import CheckpointError
from gen_jax.training.loop import NonFiniteError


def run_experiment(get_config: Callable[[], ml_collections.ConfigDict],
                   train_and_evaluate: Callable[[ml_collections.ConfigDict, str], dict],
                   validate: Callable[[ml_collections.ConfigDict], None]) -> None:
  """Defines --workdir and --config.*, then runs `train_and_evaluate(config, workdir)`."""
  flags.DEFINE_string("workdir", None, "Output directory; an existing run there is resumed.")
  config_flags.DEFINE_config_dict("config", get_config(), "Experiment config.",
                                  lock_config=True)
  flags.mark_flags_as_required(["workdir"])

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    absl_logging.set_verbosity(absl_logging.WARNING)
    config = flags.FLAGS.config
    try:
      validate(config)
    except ValueError as e:
      print(f"error: {e}", file=sys.stderr)
      sys.exit(2)
    try:
      results = train_and_evaluate(config, flags.FLAGS.workdir)
    except (NonFiniteError, CheckpointError) as e:
      print(f"error: {e}", file=sys.stderr)
      sys.exit(1)
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()})

  app.run(main)
