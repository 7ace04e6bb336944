"""gen_jax.flows.histogram_fit / histogram_log_prob against NumPy counting."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import data
from gen_jax import flows
from gen_jax import validation


def _random_levels(seed, shape, high=256):
  return np.random.default_rng(seed).integers(0, high, size=shape, dtype=np.uint8)


def _fit(images, **kwargs):
  return jax.jit(lambda x: flows.histogram_fit(x, **kwargs))(images)


def test_per_pixel_matches_numpy_bincount():
  images = _random_levels(0, (50, 4, 3, 1), high=20)
  alpha = 0.5
  model = _fit(images, smoothing=alpha)
  assert model.log_probs.shape == (12, 256)
  flat = images.reshape(50, -1)
  expected = np.stack([np.bincount(flat[:, d], minlength=256) for d in range(12)])
  expected = np.log((expected + alpha) / (50 + 256 * alpha))
  np.testing.assert_allclose(model.log_probs, expected, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(np.exp(model.log_probs).sum(-1), 1.0, rtol=1e-5)
  # A value never seen at a pixel gets exactly alpha / (N + K alpha).
  unseen = np.exp(np.asarray(model.log_probs)[:, 255])
  np.testing.assert_allclose(unseen, alpha / (50 + 256 * alpha), rtol=1e-6)
  # log p(x) of new images: the sum of the table's entries.
  test = _random_levels(1, (7, 4, 3, 1))
  ll = jax.jit(flows.histogram_log_prob)(model, test)
  expected_ll = expected[np.arange(12)[None], test.reshape(7, -1)].sum(-1)
  np.testing.assert_allclose(ll, expected_ll, rtol=1e-5)


def test_counts_of_batches_add_up_to_the_fit():
  images = _random_levels(5, (30, 4, 4, 1))
  counts = sum(jax.jit(lambda x: flows.histogram_counts(x, num_bins=4, patch=(2, 1)))(part)
               for part in np.split(images, 3))
  assert counts.dtype == jnp.int32 and np.all(np.asarray(counts).sum(-1) == 30)
  streamed = flows.histogram_from_counts(counts, image_shape=(4, 4, 1), num_bins=4,
                                         patch=(2, 1), smoothing=0.5)
  np.testing.assert_array_equal(
      streamed.log_probs,
      flows.histogram_fit(images, num_bins=4, patch=(2, 1), smoothing=0.5).log_probs)
  with pytest.raises(validation.ArgumentError, match=r"counts must have shape \[8, 16\]"):
    flows.histogram_from_counts(counts[:4], image_shape=(4, 4, 1), num_bins=4, patch=(2, 1))


@pytest.mark.parametrize("num_bins,patch", [(256, None), (2, (2, 2)), (4, (1, 2))])
def test_samples_decode_to_the_fitted_images(num_bins, patch):
  # A model fitted on one image (tiny smoothing) puts ~all its mass on it: every draw must
  # decode, patch by patch, to that image's quantized levels.
  image = _random_levels(6, (1, 4, 6, 1))
  model = flows.histogram_fit(image, num_bins=num_bins, patch=patch, smoothing=1e-12)
  draws = jax.jit(flows.histogram_sample, static_argnums=2)(jax.random.key(0), model, 5)
  assert draws.shape == (5, 4, 6, 1) and draws.dtype == jnp.float32
  expected = (image.astype(np.int64) * num_bins // 256) / (num_bins - 1)
  np.testing.assert_allclose(draws, np.broadcast_to(expected, draws.shape), rtol=1e-6)


def test_sample_frequencies_match_the_model():
  images = _random_levels(7, (20, 1, 2, 1), high=3)
  model = flows.histogram_fit(images, num_bins=256, smoothing=1.0)
  n = 20000
  draws = flows.histogram_sample(jax.random.PRNGKey(1), model, n)   # a legacy key
  levels = np.round(np.asarray(draws) * 255).astype(np.int64).reshape(n, 2)
  p = np.exp(np.asarray(model.log_probs))                          # [2, 256]
  for d in range(2):
    freq = np.bincount(levels[:, d], minlength=256) / n
    # 5 standard errors of a binomial proportion, per value.
    np.testing.assert_array_less(np.abs(freq - p[d]), 5 * np.sqrt(p[d] * (1 - p[d]) / n)
                                 + 1e-9)


def test_floats_in_unit_interval_equal_their_levels():
  levels = _random_levels(2, (30, 2, 2, 1))
  as_float = levels.astype(np.float32) / 255.0
  np.testing.assert_array_equal(_fit(levels).log_probs, _fit(as_float).log_probs)
  model = _fit(levels)
  np.testing.assert_array_equal(flows.histogram_log_prob(model, levels),
                                flows.histogram_log_prob(model, as_float))


@pytest.mark.parametrize("num_bins,patch", [(2, (2, 2)), (4, (2, 1)), (16, (1, 2))])
def test_patches_match_numpy_joint_counts(num_bins, patch):
  n, h, w = 40, 4, 4
  images = _random_levels(3, (n, h, w, 1))
  alpha = 1.0
  model = _fit(images, num_bins=num_bins, patch=patch, smoothing=alpha)
  ph, pw = patch
  k = num_bins ** (ph * pw)
  q = images[..., 0].astype(np.int64) * num_bins // 256
  cells = []
  for i in range(0, h, ph):
    for j in range(0, w, pw):
      block = q[:, i:i + ph, j:j + pw].reshape(n, -1)               # row-major in the patch
      cells.append((block * num_bins ** np.arange(ph * pw)).sum(-1))
  cells = np.stack(cells, 1)                                         # [N, P]
  counts = np.stack([np.bincount(cells[:, p], minlength=k) for p in range(cells.shape[1])])
  expected = np.log((counts + alpha) / (n + k * alpha))
  assert model.log_probs.shape == expected.shape
  np.testing.assert_allclose(model.log_probs, expected, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(np.exp(model.log_probs).sum(-1), 1.0, rtol=1e-5)
  ll = jax.jit(flows.histogram_log_prob)(model, images[:5])
  np.testing.assert_allclose(ll, expected[np.arange(cells.shape[1]), cells[:5]].sum(-1),
                             rtol=1e-5)


def test_binarized_2x2_patches_beat_independent_pixels_on_mnist():
  train = data.load_dataset("mnist", "train").images
  test = data.load_dataset("mnist", "test").images
  pixel = flows.histogram_fit(train, num_bins=2)
  joint = flows.histogram_fit(train, num_bins=2, patch=(2, 2))
  nll_pixel = -flows.histogram_log_prob(pixel, test).mean()
  nll_joint = -flows.histogram_log_prob(joint, test).mean()
  assert nll_joint < nll_pixel


def test_mnist_per_pixel_bits_per_dim_equals_numpy():
  train = np.asarray(data.load_dataset("mnist", "train").images)
  test = np.asarray(data.load_dataset("mnist", "test").images)
  model = _fit(train)
  bpd = jax.jit(lambda m, x: flows.bits_per_dim(flows.histogram_log_prob(m, x), 784))(
      model, test)
  # Pure NumPy, float64: 8-bit levels, per-pixel add-one counts.
  tr = np.round(train.reshape(len(train), -1) * 255).astype(np.int64)
  te = np.round(test.reshape(len(test), -1) * 255).astype(np.int64)
  counts = np.stack([np.bincount(tr[:, d], minlength=256) for d in range(784)])
  log_p = np.log((counts + 1.0) / (len(tr) + 256.0))
  expected = -log_p[np.arange(784)[None], te].sum(-1) / (784 * math.log(2))
  np.testing.assert_allclose(bpd, expected, rtol=1e-5)
  np.testing.assert_allclose(bpd.mean(), expected.mean(), rtol=1e-6)


def test_bits_per_dim():
  log_prob = jnp.array([-784 * math.log(2), 0.0])
  np.testing.assert_allclose(flows.bits_per_dim(log_prob, 784), [1.0, 0.0])
  # A density on [0, 1]-scaled 8-bit data: the uniform density 1 is 8 bits per dimension.
  np.testing.assert_allclose(flows.bits_per_dim(jnp.zeros(2), 784, bin_width=1 / 256), 8.0,
                             rtol=1e-6)


def test_bad_arguments():
  images = _random_levels(4, (10, 4, 4, 1))
  with pytest.raises(validation.ArgumentError, match="patch"):
    flows.histogram_fit(images, patch=(3, 2))
  with pytest.raises(validation.ArgumentError, match="configurations"):
    flows.histogram_fit(images, patch=(2, 2))      # 256 ** 4 joint values
  with pytest.raises(validation.ArgumentError, match="smoothing"):
    flows.histogram_fit(images, smoothing=0.0)
  with pytest.raises(validation.ArgumentError, match="num_bins"):
    flows.histogram_fit(images, num_bins=300)
  model = flows.histogram_fit(images)
  with pytest.raises(validation.ArgumentError, match=r"x must have shape \[\*, 4, 4, 1\]"):
    flows.histogram_log_prob(model, images[:, :2])
