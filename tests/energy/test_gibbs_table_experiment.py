"""experiments/gibbs_table end to end on a short run: results.json and the figure."""

import json
import os

import pytest

from experiments.gibbs_table import config as gibbs_config
from experiments.gibbs_table import main as gibbs_main
from gen_jax import validation


def test_short_run_writes_results_and_figure(tmp_path):
  config = gibbs_config.get_config()
  config.num_steps = 2000
  config.num_chains = 8
  results = gibbs_main.train_and_evaluate(config, str(tmp_path))
  assert json.loads((tmp_path / "results.json").read_text()) == results
  assert os.path.getsize(tmp_path / "gibbs_table.png") > 1000
  # 16,000 correlated draws of the notes' table: TV well under 0.03 (exact-kernel asymptotic
  # standard errors of the cells are < 0.007).
  assert results["tv_distance"] < 0.03
  assert results["tv_by_sweeps"]["num_sweeps"][-1] == 2000
  exact = results["tv_by_sweeps"]["state_at_sweep_exact"]
  assert exact[0] == pytest.approx(0.25) and exact[4] < 1e-3   # δ_(0,0) K: geometric decay


@pytest.mark.parametrize("key, value, message", [
    ("table", "0.1,0.4;0.3", "rows of equal length"),
    ("table", "0.1,-0.4;0.3,0.2", "non-negative"),
    ("init", "0,2", "within the table's shape"),
    ("num_chains", 0, ">= 1"),
])
def test_bad_config_names_the_key(key, value, message):
  config = gibbs_config.get_config()
  config[key] = value
  with pytest.raises(validation.ArgumentError, match=message) as info:
    gibbs_main.validate(config)
  assert info.value.argument == f"--config.{key}"
