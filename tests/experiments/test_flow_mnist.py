"""experiments/flow_mnist smoke test: a few steps of a tiny RealNVP / Glow, the results
vocabulary, the histogram baseline and the temperature grids."""

import json

import numpy as np
import pytest

from experiments.flow_mnist import config as flow_config
from experiments.flow_mnist import main as flow_main
from gen_jax import data
from gen_jax import flows
from gen_jax import validation


@pytest.mark.parametrize("model,dequantization,fid", [
    ("realnvp", "uniform", 250),
    pytest.param("glow", "variational", 0, marks=pytest.mark.slow)])
def test_smoke(tmp_path, model, dequantization, fid):
  config = flow_config.get_config()
  config.update(model=model, dequantization=dequantization, num_steps=2, eval_every=2,
                checkpoint_every=2, log_every=1, batch_size=8, steps_per_level=1,
                channels=4, num_sample_images=4, num_fid_samples=fid)
  results = flow_main.train_and_evaluate(config, str(tmp_path))
  assert results["nll_kind"] == "bound" and np.isfinite(results["test_bpd"])
  assert results["test_bpd"] == pytest.approx(results["test_nll"] / (784 * np.log(2)))
  train = data.load_dataset("mnist", "train").images
  test = data.load_dataset("mnist", "test").images
  expected = float(np.mean(flows.bits_per_dim(
      flows.histogram_log_prob(flows.histogram_fit(train), test), 784)))
  assert results["histogram_bpd"] == pytest.approx(expected, rel=1e-6)
  if fid:
    assert {"fid", "precision", "recall"} <= set(results)
  for t in flow_main.TEMPERATURES:
    assert (tmp_path / "samples" / f"temperature_{t}.png").exists()
  assert json.loads((tmp_path / "results.json").read_text())["test_bpd"] == results["test_bpd"]


def test_bad_dequantization_is_reported_under_its_config_key():
  config = flow_config.get_config()
  config.dequantization = "gaussian"
  with pytest.raises(validation.ArgumentError, match=r"--config\.dequantization"):
    flow_main.validate(config)


def test_class_conditional_glow_reports_conditional_and_marginal_bounds(tmp_path):
  # Two steps of a tiny class-conditional Glow. Both bounds use the same dequantized u, and
  # log Σ_y' π_y' p(u | y') >= log π_y + log p(u | y): the marginal's nats exceed the
  # conditional's by at most the test mean of -log π_y (π the training label frequencies).
  config = flow_config.get_config()
  config.update(model="glow", conditional=True, num_steps=2, eval_every=2,
                checkpoint_every=2, log_every=1, batch_size=8, steps_per_level=1,
                channels=4, num_sample_images=4, num_fid_samples=0)
  results = flow_main.train_and_evaluate(config, str(tmp_path))
  assert results["conditional"] is True and results["nll_kind"] == "bound"
  train = np.asarray(data.load_dataset("mnist", "train")["label"])
  test = np.asarray(data.load_dataset("mnist", "test")["label"])
  log_pi = np.log(np.bincount(train, minlength=10) / len(train))
  gap = results["test_nll_marginal"] - results["test_nll"]
  assert np.isfinite(results["test_bpd_marginal"])
  assert gap <= float(np.mean(-log_pi[test])) + 1e-3, gap
  assert (tmp_path / "samples" / "temperature_0.7.png").exists()


def test_grid_labels_put_one_class_per_row():
  np.testing.assert_array_equal(flows.grid_labels(9, 10), [0, 0, 0, 1, 1, 1, 2, 2, 2])
  assert flows.grid_labels(64, 10).reshape(8, 8)[:, 0].tolist() == list(range(8))
