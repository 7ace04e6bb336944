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


def test_conditional_run_reports_conditional_and_marginal_nll(tmp_path):
  # 150 steps of a conditional RealNVP on two moons (labels: the moon). The marginal
  # log Σ_y π_y p(x | y) can exceed the conditional NLL by at most H(y) = log 2 nats (the
  # mixture's log-sum-exp is at least log π_y + log p(x | y)); the moons barely overlap, so a
  # fitted model gets close to that bound.
  config = flow_config.get_config()
  config.update(conditional=True, num_steps=150, eval_every=150, checkpoint_every=150,
                log_every=50, num_layers=4, hidden=32, batch_size=256, num_plot_samples=200)
  results = flow_main.train_and_evaluate(config, str(tmp_path))
  assert results["conditional"] is True and results["nll_kind"] == "exact"
  gap = results["test_nll_marginal"] - results["test_nll"]
  assert 0.5 < gap <= np.log(2) + 1e-4, gap
  assert (tmp_path / "samples" / "density_final.png").exists()
