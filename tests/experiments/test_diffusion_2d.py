"""Smoke test of experiments.diffusion_2d (a few steps, tiny sizes) and its config checks."""

import json
import math
import os

import numpy as np
import pytest

from experiments.diffusion_2d import config as config_lib
from experiments.diffusion_2d import main as main_lib
from gen_jax import validation


def _tiny(**overrides):
  c = config_lib.get_config()
  c.num_steps, c.batch_size, c.log_every, c.eval_every, c.checkpoint_every = 6, 64, 3, 100, 6
  c.num_timesteps, c.ddim_steps = 10, 4
  c.width, c.depth = 16, 1
  c.eval_examples, c.num_samples = 64, 64
  for k, v in overrides.items():
    c[k] = v
  return c


def test_smoke_hybrid_loss_writes_results_and_plots(tmp_path):
  config = _tiny(loss="hybrid", dataset="moons")
  results = main_lib.train_and_evaluate(config, str(tmp_path))
  assert results["step"] == 6 and results["nll_kind"] == "bound"
  assert math.isfinite(results["test_nll"])
  np.testing.assert_allclose(results["test_bpd"], results["test_nll"] / (2 * math.log(2)))
  for key in ("energy_distance", "energy_distance_ddim", "energy_distance_data",
              "samples_per_second", "train_seconds", "num_params"):
    assert key in results, key
  with open(tmp_path / "results.json") as f:
    assert json.load(f)["test_nll"] == pytest.approx(results["test_nll"])
  files = set(os.listdir(tmp_path / "samples"))
  assert {"reverse_step_0000006.png", "samples_step_0000006.png"} <= files
  with open(tmp_path / "metrics.jsonl") as f:
    records = [json.loads(line) for line in f]
  assert any("vlb" in r for r in records)


def test_energy_distance_is_zero_for_equal_samples_and_positive_for_shifted():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(300, 2))
  assert main_lib.energy_distance(x, x) == pytest.approx(0.0, abs=1e-12)
  # A shift by d in one axis: the population value is positive; the estimate clearly so.
  assert main_lib.energy_distance(x, x + np.array([1.0, 0.0])) > 0.3


@pytest.mark.parametrize("key,value,match", [
    ("loss", "l1", "--config.loss"), ("dataset", "mnist", "--config.dataset"),
    ("ddim_steps", 500, "--config.ddim_steps"), ("prediction", "score", "--config.prediction")])
def test_validate_names_the_config_key(key, value, match):
  config = config_lib.get_config()
  config[key] = value
  with pytest.raises(validation.ArgumentError, match=match):
    main_lib.validate(config)
