"""Binarized MNIST: the fixed bits against the fixed key's uniforms, dynamic draws against p."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import data


def test_fixed_binarization_is_the_fixed_keys_uniforms_thresholded():
  mnist, bits = data.load_dataset("mnist", "test"), data.load_dataset("binarized_mnist", "test")
  u = np.asarray(jax.random.uniform(data.fixed_binarization_key("test"), mnist.images.shape))
  np.testing.assert_array_equal(bits.images, (u < mnist.images).astype(np.float32))
  np.testing.assert_array_equal(bits.labels, mnist.labels)
  assert bits.images.dtype == np.float32 and bits.image_shape == (28, 28, 1)
  train = data.load_dataset("binarized_mnist", "train")
  assert len(train) == 4000 and set(np.unique(train.images)) == {0.0, 1.0}
  np.testing.assert_array_equal(train.images, data.load_dataset("binarized_mnist", "train").images)
  test = data.load_dataset("dynamic_binarized_mnist", "test")
  np.testing.assert_array_equal(test.images, data.load_dataset("binarized_mnist", "test").images)


def test_dynamic_binarization_is_per_example_and_step():
  ds = data.load_dataset("dynamic_binarized_mnist", "train")
  key = jax.random.key(7)
  a = ds.gather(np.array([3, 11, 40]), key)
  b = ds.gather(np.array([40, 9, 3]), key)
  # Example 3's bits depend on (key, 3) only: not on its batch or position.
  np.testing.assert_array_equal(a["image"][0], b["image"][2])
  np.testing.assert_array_equal(a["image"][2], b["image"][0])
  probs = ds.intensities.images
  expected = data.dynamic_binarize(jax.random.fold_in(key, 11), jnp.asarray(probs[11]))
  np.testing.assert_array_equal(a["image"][1], expected)
  np.testing.assert_array_equal(a["label"], ds.intensities.labels[[3, 11, 40]])
  other = ds.gather(np.array([3]), jax.random.fold_in(key, 1))
  assert not np.array_equal(other["image"][0], a["image"][0])
  assert set(np.unique(a["image"])) <= {0.0, 1.0}


def test_dynamic_binarization_mean_is_the_intensity():
  ds = data.load_dataset("dynamic_binarized_mnist", "train")
  idx = np.arange(4)
  steps = 400
  base = jax.random.key(8)
  freq = sum(ds.gather(idx, jax.random.fold_in(base, s))["image"] for s in range(steps)) / steps
  p = ds.intensities.images[idx]
  # Binomial(steps, p') / steps with p' = ceil(65536 p) / 65536: 5 standard errors.
  tol = 5 * np.sqrt(p * (1 - p) / steps) + 2.0**-16
  np.testing.assert_array_less(np.abs(freq - p), tol + 1e-9)
  assert abs(freq.mean() - p.mean()) < 5 * math.sqrt(0.25 / (steps * p.size))


def test_dynamic_rows_equal_the_full_batch_rows():
  # What each process of a multi-host run reads equals its rows of the one-process batch.
  ds = data.load_dataset("dynamic_binarized_mnist", "train")
  order, draw = jax.random.key(1), jax.random.key(2)
  full = data.step_batch(ds, order, 5, batch_size=16, draw_key=draw)
  for rows in (np.arange(8), np.arange(8, 16)):
    part = data.step_batch(ds, order, 5, batch_size=16, rows=rows, draw_key=draw)
    np.testing.assert_array_equal(part["image"], full["image"][rows])
