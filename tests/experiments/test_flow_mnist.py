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
