"""Feature extractors, evaluate_samples, the CLI and the shipped MNIST classifier."""

import hashlib
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
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


# Float32 summation tolerance for the MNIST classifier's outputs computed with different
# batch shapes. XLA:CPU picks conv/matmul kernels by shape (a 16-image shard on each of 4
# devices vs a 64-image batch on one), and they add the same products in different
# orders; measured on a 2-core AMD EPYC: 42% of feature elements differ, by up to 1.7e-5
# (max|features| ~19). A reordered sum of K float32 terms differs from another order by
# rounding errors of size u = 2^-24 relative to the partial sums, which accumulate like a
# random walk: ~ sqrt(K) * u * |sum|. Each layer adds such an error relative to its
# output, and ReLU / max-pool / the following layers pass relative errors on without
# amplifying them much (no normalization, weights of moderate norm), so the total is
# ~ u * max|y| * sum over layers of sqrt(K_layer), with the reductions
#   conv1 3*3*1 = 9, conv2 3*3*32 = 288, conv3 3*3*64 = 576, penultimate 4*4*64 = 1024
#   (features), and the logits layer's 128:
# sum sqrt(K) = 3 + 17 + 24 + 32 = 76 for the features and 76 + 11.3 = 87 for the logits;
# atol = 76 * 2^-24 * 19.4 = 8.8e-5 for the features, about 5x the largest difference
# measured. A real bug (a padded row leaking in, rows shifted or from another batch)
# changes outputs by O(1).
def _summation_atol(reference, sum_sqrt_k):
  return sum_sqrt_k * np.finfo(np.float32).eps / 2 * np.abs(reference).max()


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
  assert f4.shape == (203, 128) and l4.shape == (203, 10)
  # Bitwise only where the computation is the same: the 1-device extractor runs the
  # 64-row program that jit(apply) runs on the same zero-padded 64-row batches, and a
  # second call of an extractor repeats its own computation.
  padded = np.concatenate([images, np.zeros((256 - 203,) + images.shape[1:], np.float32)])
  same_f, same_l = zip(*(jax.jit(apply)(variables, padded[i:i + 64]) for i in range(0, 256, 64)))
  np.testing.assert_array_equal(f1, np.concatenate(same_f)[:203])
  np.testing.assert_array_equal(l1, np.concatenate(same_l)[:203])
  np.testing.assert_array_equal(four(images)[0], f4)
  # Across device counts (16-row shards vs 64-row batches) and against one 203-row batch,
  # the sums run in other orders: float32 summation tolerance (see above).
  ref_f, ref_l = map(np.asarray, jax.jit(apply)(variables, images))
  for f, l in ((f4, l4), (f1, l1)):
    np.testing.assert_allclose(f, ref_f, rtol=0, atol=_summation_atol(ref_f, 76))
    np.testing.assert_allclose(l, ref_l, rtol=0, atol=_summation_atol(ref_l, 87))
  np.testing.assert_allclose(f4, f1, rtol=0, atol=_summation_atol(f1, 76))
  np.testing.assert_allclose(l4, l1, rtol=0, atol=_summation_atol(l1, 87))


def test_bad_image_shapes():
  with pytest.raises(ValueError, match=r"images .*\[N, 28, 28, 1\], got shape \(2, 32, 32, 1\)"):
    mnist_features(np.zeros((2, 32, 32, 1), np.float32))
  with pytest.raises(ValueError, match=r"images must have shape \[N, 28, 28, 1\], got shape \(2, 28, 28\)"):
    mnist_features(np.zeros((2, 28, 28), np.float32))
  with pytest.raises(ValueError, match="metrics must be a subset"):
    evaluate_samples(jax.random.key(0), np.zeros((4, 28, 28, 1)), np.zeros((4, 28, 28, 1)),
                     metrics=("fld",))
  with pytest.raises(ValueError, match="key must be a PRNG key"):
    evaluate_samples(np.zeros((4, 28, 28, 1)), np.zeros((4, 28, 28, 1)),
                     np.zeros((4, 28, 28, 1)))


def test_evaluate_samples_real_vs_real_and_noise(mnist_test):
  real = mnist_test.images[:500]
  other = mnist_test.images[500:]
  noise = np.random.default_rng(0).uniform(size=(500, 28, 28, 1)).astype(np.float32)
  key = jax.random.key(0)
  good = evaluate_samples(key, real, other, kid_subset_size=200, kid_subsets=10)
  bad = evaluate_samples(key, real, noise, kid_subset_size=200, kid_subsets=10)
  assert set(good) == {"fid", "kid", "kid_std", "kid_subset_size", "is", "is_std",
                       "precision", "recall"}
  assert good["kid_subset_size"] == 200
  assert good["fid"] < 0.1 * bad["fid"]
  assert good["kid"] < 0.01 * bad["kid"]
  assert good["is"] > 8 > 2 > bad["is"]
  assert good["precision"] > 0.7 and bad["recall"] < 0.05
  # FID through evaluate_samples is FID of the extracted features.
  np.testing.assert_allclose(
      good["fid"], frechet_inception_distance(mnist_features(real)[0], mnist_features(other)[0]),
      rtol=1e-10)


def _pixel_extractor(side=6):
  """A cheap FeatureExtractor: the pixels as features, two pixel sums as logits."""
  apply = lambda v, x: (x.reshape(x.shape[0], -1) * v["scale"],
                        jnp.stack([x[:, :3].sum((1, 2, 3)), x[:, 3:].sum((1, 2, 3))], -1))
  return FeatureExtractor(apply, {"scale": jnp.float32(1.0)}, image_shape=(side, side, 1),
                          batch_size=64, name="pixels")


def _random_images(seed, n, side=6, shift=0.0):
  rng = np.random.default_rng(seed)
  return np.clip(rng.uniform(size=(n, side, side, 1)) + shift, 0, 1).astype(np.float32)


@pytest.mark.parametrize("n_real, n_fake, expected", [
    (1000, 1000, 500),   # the experiments' 1,000-vs-1,000 evaluation: half of each set
    (3000, 2500, 1000),  # Binkowski et al.'s 1000 once both sets have >= 2000 rows
    (40, 25, 12),        # tiny evaluations, as in the experiments' smoke tests
    (4, 4, 2),
])
def test_evaluate_samples_chooses_a_kid_subset_size_and_reports_it(n_real, n_fake, expected):
  real = _random_images(0, n_real)
  fake = _random_images(1, n_fake, shift=0.1)
  out = evaluate_samples(jax.random.key(0), real, fake, metrics=("kid",),
                         features=_pixel_extractor(), kid_subsets=5)
  assert set(out) == {"kid", "kid_std", "kid_subset_size"}
  assert out["kid_subset_size"] == expected
  # The subsets differ, so the spread is a real one, not rounding noise.
  assert out["kid_std"] > 1e-4 * abs(out["kid"]), out


def test_evaluate_samples_kid_subset_size_errors():
  real, fake = _random_images(0, 100), _random_images(1, 100)
  extractor = _pixel_extractor()
  with pytest.raises(ValueError, match=r"kid_subset_size=1000 is larger than the smaller "
                                       r"feature set \(real_features has 100 rows, "
                                       r"fake_features 100\)"):
    evaluate_samples(jax.random.key(0), real, fake, metrics=("kid",), features=extractor,
                     kid_subset_size=1000)
  with pytest.raises(ValueError, match=r"kid_subset_size=100 equals both set sizes"):
    evaluate_samples(jax.random.key(0), real, fake, metrics=("kid",), features=extractor,
                     kid_subset_size=100)
  with pytest.raises(ValueError, match=r"KID subsets need at least 4 real and 4 fake "
                                       r"images, got 100 real and 3 fake"):
    evaluate_samples(jax.random.key(0), real, fake[:3], metrics=("kid",),
                     features=extractor)
  # Without KID, small sets need no subset size.
  out = evaluate_samples(jax.random.key(0), real[:5], fake[:5], metrics=("fid",),
                         features=extractor)
  assert set(out) == {"fid"}


@pytest.mark.parametrize("kind", ["typed", "legacy_uint32"])
def test_evaluate_samples_accepts_typed_and_legacy_keys(kind):
  # Same seed, same numbers: the two key kinds hold the same threefry bits. The KID and IS
  # programs compile once per key kind, so values agree to float32 rounding. (PRD with
  # both kinds: tests/metrics/test_metrics_precision_recall.py.)
  make = {"typed": jax.random.key, "legacy_uint32": jax.random.PRNGKey}[kind]
  real, fake = _random_images(0, 60), _random_images(1, 60, shift=0.2)
  run = lambda key: evaluate_samples(key, real, fake, metrics=("kid", "is"),
                                     features=_pixel_extractor(), kid_subsets=5, is_splits=3)
  got, want = run(make(3)), run(jax.random.key(3))
  assert set(got) == {"kid", "kid_std", "kid_subset_size", "is", "is_std"}
  for name in got:
    np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-9, err_msg=name)


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
  assert set(results) == {"fid", "kid", "kid_std", "kid_subset_size", "is", "is_std",
                          "precision", "recall"}
  assert all(np.isfinite(v) for v in results.values())
  # 100 vs 100 images: the default KID subsets are half the smaller set, reported.
  assert results["kid_subset_size"] == 50 and results["kid_std"] > 0
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
