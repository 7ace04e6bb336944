"""experiments/flow_2d smoke test: a few steps of each model, results and plots."""

import json

import numpy as np
import pytest

from experiments.flow_2d import config as flow_config
from experiments.flow_2d import main as flow_main
from gen_jax import validation


@pytest.mark.parametrize("model,dataset", [
    ("spline", "checkerboard"), pytest.param("maf", "ring", marks=pytest.mark.slow)])
def test_smoke(tmp_path, model, dataset):
  config = flow_config.get_config()
  config.update(model=model, dataset=dataset, num_steps=4, eval_every=4, checkpoint_every=4,
                log_every=2, num_layers=2, hidden=8, batch_size=64, num_plot_samples=200)
  results = flow_main.train_and_evaluate(config, str(tmp_path))
  assert results["nll_kind"] == "exact" and np.isfinite(results["test_nll"])
  assert results["model"] == model and results["dataset"] == dataset
  saved = json.loads((tmp_path / "results.json").read_text())
  assert saved["test_nll"] == results["test_nll"]
  assert (tmp_path / "samples" / "density_final.png").exists()


def test_bad_model_is_reported_under_its_config_key():
  config = flow_config.get_config()
  config.model = "nice"
  with pytest.raises(validation.ArgumentError, match=r"--config\.model"):
    flow_main.validate(config)
