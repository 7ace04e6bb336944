"""experiments/latent_mnist (SBN, GMMN, entropic AE) end to end on tiny runs."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.latent_mnist import config as latent_config
from experiments.latent_mnist import main as latent_main
from gen_jax import validation


def _tiny(model):
  config = latent_config.get_config()
  config.model = model
  config.num_steps = 4
  config.batch_size = 16
  config.log_every = 2
  config.eval_every = 4
  config.checkpoint_every = 4
  config.sbn_hidden = "8,4"
  config.vimco_samples = 3
  config.final_eval_samples = 4
  config.latent_dim = 3
  config.hidden = 16
  config.num_eval_images = 40
  config.num_sample_images = 9
  return config


@pytest.mark.parametrize("model", latent_main.MODELS)
def test_tiny_run_writes_results_and_samples(tmp_path, model):
  results = latent_main.train_and_evaluate(_tiny(model), str(tmp_path))
  assert json.loads((tmp_path / "results.json").read_text()) == results
  assert results["step"] == 4
  assert {"fid", "precision", "recall"} <= set(results)
  assert 0.0 <= results["precision"] <= 1.0 and results["fid"] > 0
  if model == "sbn":
    assert results["nll_kind"] == "importance_sampled" and results["eval_samples"] == 4
    assert 0.0 < results["test_nll"] < 784 * 2   # untrained: about 784 log 2
  else:
    assert "test_nll" not in results
  assert os.listdir(tmp_path / "samples") == ["step_0000004.png"]
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert np.isfinite(records[0]["loss"])


def test_codes_are_rescaled_to_mean_squared_norm_d():
  z = jax.random.normal(jax.random.key(0), (50, 4)) * 3.0 + 1.0
  z = latent_main.normalize_codes(z)
  np.testing.assert_allclose(jnp.mean(jnp.sum(z * z, -1)), 4.0, rtol=1e-5)


@pytest.mark.parametrize("key, value, message", [
    ("model", "rbm", "one of"),
    ("sbn_hidden", "200,x", "comma-separated integers"),
    ("bandwidths", "2,-1", "> 0"),
    ("vimco_samples", 1, ">= 2"),
])
def test_bad_config_names_the_key(key, value, message):
  config = latent_config.get_config()
  config[key] = value
  with pytest.raises(validation.ArgumentError, match=message) as info:
    latent_main.validate(config)
  assert info.value.argument == f"--config.{key}"
