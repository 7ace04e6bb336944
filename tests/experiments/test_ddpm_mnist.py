"""Smoke test of experiments.ddpm_mnist: a few steps of a tiny UNet with T = 8, every
output written, the results vocabulary present and sane."""

import json
import math
import os

import pytest

from experiments.ddpm_mnist import config as config_lib
from experiments.ddpm_mnist import main as ddpm_main
from gen_jax import validation


def _tiny(**overrides):
  c = config_lib.get_config()
  c.num_steps, c.batch_size, c.num_timesteps = 2, 8, 8
  c.base_channels, c.num_groups, c.num_res_blocks = 8, 4, 1
  c.log_every, c.eval_every, c.checkpoint_every = 1, 100, 100
  c.ddim_steps, c.num_sample_images, c.num_fid_samples = 4, 8, 8
  c.bound_examples, c.eval_batch_size, c.trajectory_steps = 4, 4, 4
  for k, v in overrides.items():
    c[k] = v
  return c


def test_smoke_class_conditional_with_guidance(tmp_path):
  config = _tiny(class_conditional=True, guidance_scale=2.0)
  results = ddpm_main.train_and_evaluate(config, str(tmp_path))
  assert results["nll_kind"] == "bound"
  # An untrained model: the bound is finite and positive, above the 8-bit ceiling's
  # neighbourhood but not absurd; nats and bits/dim agree.
  assert 0.0 < results["test_bpd"] < 100.0
  assert math.isclose(results["test_nll"], results["test_bpd"] * 784 * math.log(2),
                      rel_tol=1e-4)
  for key in ("fid", "precision", "recall", "ancestral_images_per_second",
              "ddim_images_per_second", "ancestral_compile_seconds", "bound_compile_seconds",
              "train_seconds", "num_params"):
    assert key in results, key
  assert results["ancestral_images_per_second"] > 0
  for name in ("trajectory.png", "samples/ancestral_final.png", "samples/ddim_final.png",
               "results.json"):
    assert os.path.exists(tmp_path / name), name
  with open(tmp_path / "results.json") as f:
    assert json.load(f)["test_bpd"] == pytest.approx(results["test_bpd"])


def test_presets_and_bad_configs():
  c = config_lib.get_config()
  c.preset = "cifar10_ddpm"
  c.num_steps = 7  # set by the user: kept
  p = config_lib.apply_preset(c)
  assert p.dataset == "tfds:cifar10" and p.base_channels == 128 and p.num_steps == 7
  assert tuple(p.channel_mults) == (1, 2, 2, 2)
  ddpm_main.validate(c)
  bad = config_lib.get_config()
  bad.learned_variance, bad.prediction = True, "v"
  with pytest.raises(validation.ArgumentError, match="--config.learned_variance"):
    ddpm_main.validate(bad)
  bad = config_lib.get_config()
  bad.schedule = "quadratic"
  with pytest.raises(validation.ArgumentError, match="--config.schedule"):
    ddpm_main.validate(bad)
