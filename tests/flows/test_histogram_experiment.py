"""experiments/histogram_mnist end to end: one epoch of counting through the training loop
gives exactly `flows.histogram_fit` of the whole training set."""

import json

import numpy as np
import pytest

from experiments.histogram_mnist import config as histogram_config
from experiments.histogram_mnist import main as histogram_main
from gen_jax import data
from gen_jax import flows
from gen_jax import validation


@pytest.mark.parametrize("overrides", [{}, {"num_bins": 2, "patch_height": 2,
                                            "patch_width": 2, "num_steps": 20,
                                            "batch_size": 200, "eval_every": 20,
                                            "checkpoint_every": 20}])
def test_one_epoch_of_counting_is_the_fit(tmp_path, overrides):
  config = histogram_config.get_config()
  config.update(overrides)
  results = histogram_main.train_and_evaluate(config, str(tmp_path))
  train = data.load_dataset("mnist", "train").images
  test = data.load_dataset("mnist", "test").images
  model = flows.histogram_fit(train, num_bins=config.num_bins,
                              patch=(config.patch_height, config.patch_width))
  expected = -float(np.mean(flows.histogram_log_prob(model, test)))
  assert results["test_nll"] == pytest.approx(expected, rel=1e-6)
  assert results["test_bpd"] == pytest.approx(expected / (784 * np.log(2)), rel=1e-6)
  assert results["nll_kind"] == "exact" and results["num_params"] == 0
  assert json.loads((tmp_path / "results.json").read_text())["test_nll"] == results["test_nll"]
  assert list((tmp_path / "samples").glob("*.png"))


def test_bad_patch_is_reported_under_its_config_key(tmp_path):
  config = histogram_config.get_config()
  config.patch_height = 3   # 28 rows do not split into 3-row patches
  train, test = data.load_dataset("mnist", "train"), data.load_dataset("mnist", "test")
  with pytest.raises(validation.ArgumentError, match=r"--config\.patch"):
    histogram_main.make_task(config, train_data=train, test_data=test)
