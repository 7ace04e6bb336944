"""experiments/rbm_mnist end to end on a tiny run: results vocabulary, PNGs, bad configs."""

import json
import os

import numpy as np
import pytest

from experiments.rbm_mnist import config as rbm_config
from experiments.rbm_mnist import main as rbm_main
from gen_jax import data
from gen_jax import energy
from gen_jax import validation


def _tiny():
  config = rbm_config.get_config()
  config.num_steps = 6
  config.batch_size = 20
  config.log_every = 3
  config.eval_every = 3
  config.checkpoint_every = 6
  config.num_hidden = 12
  config.num_chains = 10
  config.ais_chains = 8
  config.ais_betas = 20
  config.final_ais_chains = 8
  config.final_ais_betas = 30
  config.sample_gibbs_steps = 5
  config.num_sample_images = 16
  return config


def test_tiny_run_writes_ais_results_filters_and_samples(tmp_path):
  results = rbm_main.train_and_evaluate(_tiny(), str(tmp_path))
  assert json.loads((tmp_path / "results.json").read_text()) == results
  assert results["nll_kind"] == "ais" and results["ais_betas"] == 30
  assert results["step"] == 6 and results["num_params"] == 784 * 12 + 784 + 12
  # log Z of an RBM >= the log of its largest term; with small weights and base-rate biases
  # the NLL of binarized digits lies well between 0 and 784 log 2.
  assert 0.0 < results["test_nll"] < 784 * np.log(2)
  assert results["test_bpd"] == pytest.approx(results["test_nll"] / (784 * np.log(2)))
  assert results["log_partition_std_err"] >= 0.0
  assert os.path.getsize(tmp_path / "filters.png") > 500
  assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000003.png", "step_0000006.png"]


def test_base_rate_bias_is_the_smoothed_logit_of_the_mean():
  x = np.array([[1, 0], [1, 0], [0, 0]], np.float32)
  np.testing.assert_allclose(rbm_main.base_rate_bias(x), np.log([(3 / 5) / (2 / 5), 0.2 / 0.8]),
                             rtol=1e-6)


@pytest.mark.parametrize("key, value, message", [
    ("num_hidden", 0, ">= 1"),
    ("final_ais_betas", 1, ">= 2"),
    ("momentum", 1.0, "momentum"),
])
def test_bad_config_names_the_key(key, value, message):
  config = rbm_config.get_config()
  config[key] = value
  with pytest.raises(validation.ArgumentError, match=message) as info:
    rbm_main.validate(config)
  assert info.value.argument == f"--config.{key}"


def test_non_binary_data_is_refused_naming_the_dataset():
  train = data.load_dataset("mnist", "train")
  with pytest.raises(validation.ArgumentError, match="binary") as info:
    rbm_main.check_binary_source(train)
  assert info.value.argument == "--config.dataset"
  energy.check_binary("x", np.array([0.0, 1.0]))  # binary passes
