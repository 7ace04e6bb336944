"""Feature extractors, evaluate_samples, the CLI and the shipped MNIST classifier."""

import hashlib
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from gen_jax.data import load_dataset
from gen_jax.metrics import FeatureExtractor
from gen_jax.metrics import evaluate_samples
from gen_jax.metrics import frechet_inception_distance
from gen_jax.metrics import load_mnist_classifier_params
from gen_jax.metrics import mnist_features
from gen_jax.metrics._features import MNIST_WEIGHTS
from gen_jax.nets.mnist_classifier import MNISTClassifier

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def mnist_test():
  return load_dataset("mnist", "test")


def test_shipped_classifier_accuracy(mnist_test):
  features, logits = mnist_features(mnist_test.images)
  assert features.shape == (1000, 128) and logits.shape == (1000, 10)
  accuracy = np.mean(logits.argmax(-1) == mnist_test.labels)
  assert accuracy >= 0.97, accuracy  # measured 0.975 when the weights were trained
  assert os.path.getsize(MNIST_WEIGHTS) < 1_000_000


def test_features_match_unsharded_apply_and_do_not_depend_on_device_count(mnist_test):
  images = mnist_test.images[:203]  # not a multiple of the batch: the last batch is padded
  variables = {"params": load_mnist_classifier_params()}
  apply = lambda v, x: MNISTClassifier().apply(v, x)
  four = FeatureExtractor(apply, variables, image_shape=(28, 28, 1), batch_size=64)
  one = FeatureExtractor(apply, variables, image_shape=(28, 28, 1), batch_size=64,
                         devices=jax.devices()[:1])
  assert jax.device_count() == 4
  f4, l4 = four(images)
  f1, l1 = one(images)
  ref_f, ref_l = jax.jit(apply)(variables, images)
  assert f4.shape == (203, 128) and l4.shape == (203, 10)
  np.testing.assert_array_equal(f4, f1)
  np.testing.assert_array_equal(l4, l1)
  np.testing.assert_allclose(f4, ref_f, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(l4, ref_l, rtol=1e-5, atol=1e-5)


def test_bad_image_shapes():
  with pytest.raises(ValueError, match=r"images .*\[N, 28, 28, 1\], got \(2, 32, 32, 1\)"):
    mnist_features(np.zeros((2, 32, 32, 1), np.float32))
  with pytest.raises(ValueError, match=r"images must have shape \[N, 28, 28, 1\], got \(2, 28, 28\)"):
    mnist_features(np.zeros((2, 28, 28), np.float32))
  with pytest.raises(ValueError, match="metrics must be a subset"):
    evaluate_samples(np.zeros((4, 28, 28, 1)), np.zeros((4, 28, 28, 1)), metrics=("fld",))


def test_evaluate_samples_real_vs_real_and_noise(mnist_test):
  real = mnist_test.images[:500]
  other = mnist_test.images[500:]
  noise = np.random.default_rng(0).uniform(size=(500, 28, 28, 1)).astype(np.float32)
  good = evaluate_samples(real, other, kid_subset_size=200, kid_subsets=10)
  bad = evaluate_samples(real, noise, kid_subset_size=200, kid_subsets=10)
  assert set(good) == {"fid", "kid", "kid_std", "is", "is_std", "precision", "recall"}
  assert good["fid"] < 0.1 * bad["fid"]
  assert good["kid"] < 0.01 * bad["kid"]
  assert good["is"] > 8 > 2 > bad["is"]
  assert good["precision"] > 0.7 and bad["recall"] < 0.05
  # FID through evaluate_samples is FID of the extracted features.
  np.testing.assert_allclose(
      good["fid"], frechet_inception_distance(mnist_features(real)[0], mnist_features(other)[0]),
      rtol=1e-10)


def test_cli_on_npz_files(tmp_path, mnist_test):
  real, fake, out = tmp_path / "real.npz", tmp_path / "fake.npz", tmp_path / "results.json"
  np.savez(real, image=np.round(mnist_test.images[:100, ..., 0] * 255).astype(np.uint8))
  np.savez(fake, mnist_test.images[100:200])  # single unnamed float array
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  result = subprocess.run(
      [sys.executable, "-m", "gen_jax.metrics", "--real", str(real), "--fake", str(fake),
       "--features", "mnist", "--metrics", "fid,kid,is,pr", "--out", str(out)],
      capture_output=True, text=True, cwd=REPO, env=env, timeout=300, check=False)
  assert result.returncode == 0, result.stderr
  assert "fid" in result.stdout and "precision" in result.stdout
  results = json.loads(out.read_text())
  assert set(results) == {"fid", "kid", "kid_std", "is", "is_std", "precision", "recall"}
  assert all(np.isfinite(v) for v in results.values())
  # stderr is not a terminal here: no progress bar.
  assert "batch" not in result.stderr


def test_cli_reports_missing_inception_weights(tmp_path):
  real = tmp_path / "real.npz"
  np.savez(real, image=np.zeros((4, 28, 28), np.uint8))
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  env.pop("GEN_JAX_INCEPTION_WEIGHTS", None)
  result = subprocess.run(
      [sys.executable, "-m", "gen_jax.metrics", "--real", str(real), "--fake", str(real),
       "--features", "inception", "--inception-weights", str(tmp_path / "none.npz")],
      capture_output=True, text=True, cwd=REPO, env=env, timeout=300, check=False)
  assert result.returncode == 2
  assert "pt_inception-2015-12-05" in result.stderr and "convert_inception_weights" in result.stderr


@pytest.mark.slow
def test_retraining_reproduces_the_shipped_weights_byte_for_byte(tmp_path):
  # Bit-for-bit only on the machine (CPU model, XLA build) that produced the shipped file.
  out = tmp_path / "mnist_classifier.msgpack"
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  subprocess.run([sys.executable, "-m", "gen_jax.metrics.train_mnist_classifier",
                  "--out", str(out)], check=True, cwd=REPO, env=env, timeout=1200)
  digest = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
  assert digest(out) == digest(MNIST_WEIGHTS)


def test_cli_loads_png_directory(tmp_path, mnist_test):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from gen_jax.metrics.__main__ import load_images  # pylint: disable=g-import-not-at-top
  pixels = np.round(mnist_test.images[:5, ..., 0] * 255).astype(np.uint8)
  for i, p in enumerate(pixels):
    Image.fromarray(p).save(tmp_path / f"{i:03d}.png")
  images = load_images(str(tmp_path))
  assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
  np.testing.assert_array_equal(images[..., 0], pixels / np.float32(255))
  with pytest.raises(ValueError, match="neither a directory of PNGs nor an existing .npz"):
    load_images(str(tmp_path / "missing.npz"))
