"""End-to-end smoke tests of the GAN experiments: a few steps each, tiny models, on the
embedded MNIST digits (and the generated ring); one run through the real CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments.bigan_mnist import config as bigan_config
from experiments.bigan_mnist import main as bigan_main
from experiments.cyclegan_mnist import config as cyclegan_config
from experiments.cyclegan_mnist import main as cyclegan_main
from experiments.gan_mixture import config as mixture_config
from experiments.gan_mnist import config as gan_mnist_config
from experiments.gan_mnist import main as gan_mnist_main
from experiments.gan_mixture import main as mixture_main
from experiments.gan_study import config as study_config
from experiments.gan_study import main as study_main
from experiments.vaegan_mnist import config as vaegan_config
from experiments.vaegan_mnist import main as vaegan_main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _short(c, steps=3):
  c.num_steps, c.log_every, c.eval_every, c.checkpoint_every = steps, 1, 2, steps
  return c


def _read(workdir, name="results.json"):
  with open(os.path.join(workdir, name)) as f:
    return json.load(f)


def test_gan_mixture_end_to_end_and_resume(tmp_path):
  c = _short(mixture_config.get_config())
  c.batch_size, c.num_data, c.eval_samples = 16, 256, 200
  c.latent_dim, c.g_width, c.d_width, c.unroll_steps = 4, 8, 8, 2
  results = mixture_main.train_and_evaluate(c, str(tmp_path))
  assert 0 <= results["modes_covered"] <= 8
  assert 0.0 <= results["high_quality_fraction"] <= 1.0
  assert len(results["mode_fractions"]) == 8
  assert sorted(os.listdir(tmp_path / "samples")) == ["scatter_step_0000002.png",
                                                       "scatter_step_0000003.png"]
  assert np.load(tmp_path / "samples_final.npy").shape == (200, 2)
  c.num_steps = 4  # resume: one more step from the step-3 checkpoint
  assert mixture_main.train_and_evaluate(c, str(tmp_path))["step"] == 4
  fig = mixture_main.plot_comparison([str(tmp_path)] * 2, ["a", "b"],
                                     str(tmp_path / "cmp.png"))
  assert os.path.getsize(fig) > 0
  c.loss, c.minibatch = "wgan_gp", "stddev"
  with pytest.raises(ValueError, match="--config.minibatch"):
    mixture_main.validate(c)


def test_gan_mnist_cli(tmp_path):
  workdir = tmp_path / "run"
  cmd = [sys.executable, "-m", "experiments.gan_mnist", f"--workdir={workdir}",
         "--config.num_steps=2", "--config.log_every=1", "--config.eval_every=100",
         "--config.batch_size=8", "--config.base_features=4", "--config.latent_dim=4",
         "--config.eval_samples=50", "--config.num_sample_images=4",
         "--config.loss=least_squares", "--config.d_steps=2"]
  env = {**os.environ, "XLA_FLAGS": "", "PYTHONPATH": REPO}
  out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  results = _read(workdir)
  assert results["step"] == 2 and {"fid", "precision", "recall"} <= set(results)
  assert os.path.exists(workdir / "samples" / "step_0000002.png")
  bad = subprocess.run(cmd[:4] + ["--config.loss=hinged"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
  assert bad.returncode == 2 and "--config.loss must be one of" in bad.stderr
  assert "got 'hinged'" in bad.stderr


def test_began_end_to_end_reports_k_and_convergence(tmp_path):
  c = _short(gan_mnist_config.get_config(), steps=2)
  c.loss, c.batch_size, c.base_features, c.latent_dim, c.began_code_dim = "began", 8, 4, 4, 4
  c.eval_samples, c.num_sample_images, c.g_batch_norm = 50, 4, False
  c.began_lambda_k, c.learning_rate, c.d_learning_rate = 0.01, 4e-4, 1e-4
  r = gan_mnist_main.train_and_evaluate(c, str(tmp_path))
  # k₀ = 0; at init the samples reconstruct far better than digits (L(G(z)) < γ·L(x)),
  # so after two updates k_t has risen by λ_k·(γ·L(x) − L(G(z))) twice: 0 < k ≤ 2·λ_k.
  assert 0.0 < r["k"] <= 2 * c.began_lambda_k, r
  assert r["convergence"] == pytest.approx(
      r["real_recon"] + abs(c.began_gamma * r["real_recon"] - r["fake_recon"]), rel=1e-5)
  with open(tmp_path / "config.json") as f:
    assert json.load(f)["g_batch_norm"] is False


def test_cyclegan_end_to_end(tmp_path):
  c = _short(cyclegan_config.get_config(), steps=2)
  c.batch_size, c.features, c.blocks, c.d_features = 4, 4, 1, 4
  results = cyclegan_main.train_and_evaluate(c, str(tmp_path))
  for key in ("cycle_error_x", "cycle_error_y", "translation_error_xy",
              "translation_error_yx", "identity_baseline"):
    assert 0.0 <= results[key] <= 1.0
  # The do-nothing baseline is the mean |x − T(x)| of the test digits, computed here.
  from gen_jax import data  # pylint: disable=g-import-not-at-top
  x = data.load_dataset("mnist", "test").images
  y = np.asarray(cyclegan_main.to_domain_y(x, "thicken"))
  np.testing.assert_allclose(results["identity_baseline"], np.abs(x - y).mean(), rtol=1e-5)
  assert os.path.exists(tmp_path / "samples" / "step_0000002.png")


def test_bigan_end_to_end(tmp_path):
  c = _short(bigan_config.get_config(), steps=2)
  c.batch_size, c.base_features, c.encoder_features, c.hidden = 8, 4, 4, 16
  c.latent_dim, c.probe_steps, c.eval_samples = 4, 20, 50
  results = bigan_main.train_and_evaluate(c, str(tmp_path))
  assert 0.0 <= results["recon_mse"] <= 1.0
  assert 0.05 < results["recon_mse_unrelated_digit"] < 0.3  # MNIST digits differ
  for key in ("probe_accuracy", "probe_accuracy_random_encoder", "probe_accuracy_pixels"):
    assert 0.0 <= results[key] <= 1.0
  assert results["probe_accuracy_pixels"] > 0.5  # a linear probe on pixels works on MNIST
  # E(x) starts at the prior's scale (lecun-normal output layer), not collapsed near 0.
  assert 0.1 < results["code_std"] < 10.0, results["code_std"]
  assert np.isfinite(results["d_pairing_gap"])
  c.d_init = "orthogonal"
  with pytest.raises(ValueError, match="--config.d_init"):
    bigan_main.validate(c)


def test_linear_probe_separates_separable_classes():
  rng = np.random.default_rng(0)
  centres = rng.normal(size=(3, 5)) * 5
  labels = rng.integers(0, 3, 300)
  x = centres[labels] + rng.normal(size=(300, 5))
  acc = bigan_main.linear_probe(x[:200], labels[:200], x[200:], labels[200:],
                                num_classes=3, steps=200, l2=0.0)
  assert acc > 0.95
  shuffled = bigan_main.linear_probe(x[:200], rng.permutation(labels[:200]), x[200:],
                                     labels[200:], num_classes=3, steps=200, l2=0.0)
  assert shuffled < 0.7


def test_vaegan_end_to_end(tmp_path):
  c = _short(vaegan_config.get_config(), steps=2)
  c.batch_size, c.base_features, c.encoder_features, c.latent_dim = 8, 4, 4, 4
  c.eval_samples = 50
  results = vaegan_main.train_and_evaluate(c, str(tmp_path))
  assert 0.0 <= results["recon_mse"] <= 1.0
  assert results["feature_recon"] >= 0.0 and np.isfinite(results["fid"])


def test_gan_study_writes_table_and_plot(tmp_path):
  c = study_config.get_config()
  c.losses, c.seeds, c.num_steps = "non_saturating,vae", "0,1", 2
  c.eval_samples, c.compilation_cache = 50, False
  out = study_main.train_and_evaluate(c, str(tmp_path))
  assert set(out) == {"fid_mean_non_saturating", "fid_mean_vae", "train_seconds"}
  assert _read(tmp_path, "results.json") == out  # what experiments.reproduce reads
  study = _read(tmp_path, "study.json")
  ns = study["models"]["non_saturating"]
  assert len(ns["fids"]) == 2 and ns["paper_fid"] == 6.8
  np.testing.assert_allclose(ns["fid_mean"], np.mean(ns["fids"]))
  np.testing.assert_allclose(ns["fid_best"], np.min(ns["fids"]))
  table = (tmp_path / "study.md").read_text()
  assert "| NS GAN |" in table and "| VAE |" in table and "23.8" in table
  assert "Caveats" in table
  assert os.path.getsize(tmp_path / "study_boxplot.png") > 0
  assert os.path.exists(tmp_path / "vae" / "seed_1" / "results.json")
  # A rerun reads the finished runs back instead of training them again.
  assert study_main.train_and_evaluate(c, str(tmp_path)) == out
