"""Dataset sources and the stateless batch order."""

import gzip
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import data


def test_embedded_mnist_split_is_stratified_fixed_and_disjoint():
  train, test = data.load_dataset("mnist", "train"), data.load_dataset("mnist", "test")
  assert train.images.shape == (4000, 28, 28, 1) and test.images.shape == (1000, 28, 28, 1)
  assert train.images.dtype == np.float32 and 0 <= train.images.min() < train.images.max() <= 1
  np.testing.assert_array_equal(np.bincount(test.labels), [100] * 10)
  np.testing.assert_array_equal(np.bincount(train.labels), [400] * 10)
  again = data.load_dataset("mnist", "test")
  np.testing.assert_array_equal(again.images, test.images)
  flat = lambda d: {x.tobytes() for x in d.images}
  assert not flat(train) & flat(test)


def test_sklearn_digits():
  train = data.load_dataset("digits", "train")
  assert train.images.shape[1:] == (8, 8, 1) and train.images.max() == 1.0
  assert len(train) + len(data.load_dataset("digits", "test")) == 1797


def _write_idx(path, array, gz):
  header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim,
                                                                   *array.shape)
  opener = gzip.open if gz else open
  with opener(path, "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("gz", [False, True])
def test_idx_directory(tmp_path, gz):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (7, 5, 6))
  labels = rng.integers(0, 10, (7,))
  suffix = ".gz" if gz else ""
  _write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, gz)
  _write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, gz)
  ds = data.load_dataset(f"dir:{tmp_path}", "test")
  np.testing.assert_allclose(ds.images[..., 0], images / 255.0, rtol=1e-6)
  np.testing.assert_array_equal(ds.labels, labels)
  with pytest.raises(data.DatasetNotFoundError, match="train-images-idx3-ubyte"):
    data.load_dataset(f"dir:{tmp_path}", "train")


def test_npz_directory(tmp_path):
  images = np.random.default_rng(1).random((4, 3, 3, 2)).astype(np.float32)
  np.savez(tmp_path / "train.npz", image=images, label=np.arange(4))
  ds = data.load_dataset(f"dir:{tmp_path}", "train")
  np.testing.assert_array_equal(ds.images, images)


def test_tfds_data_source_with_mock_data():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
    ds = data.load_dataset("tfds:mnist", "train")
  assert ds.images.shape == (12, 28, 28, 1) and ds.labels.shape == (12,)
  assert ds.images.dtype == np.float32 and 0.0 <= ds.images.min() and ds.images.max() <= 1.0


def test_missing_dataset_says_how_to_provide_it(tmp_path):
  with pytest.raises(data.DatasetNotFoundError, match="tfds:<name>.*dir:<path>"):
    data.load_dataset("cifar10")
  with pytest.raises(data.DatasetNotFoundError, match="does not exist"):
    data.load_dataset(f"dir:{tmp_path / 'nope'}")
  with pytest.raises(ValueError, match="split"):
    data.load_dataset("mnist", "validation")


def test_batch_indices_are_a_pure_function_of_step():
  key = jax.random.key(3)
  f = lambda s: data.batch_indices(key, s, num_examples=100, batch_size=32)
  epoch0 = np.concatenate([f(s) for s in range(3)])
  assert len(set(epoch0.tolist())) == 96  # no repeats within an epoch
  np.testing.assert_array_equal(f(1), f(1))
  assert not np.array_equal(f(0), f(3))  # epoch 1 is reshuffled
  with pytest.raises(ValueError, match="batch_size"):
    data.batch_indices(key, 0, num_examples=10, batch_size=11)


def test_dynamic_binarization_is_bernoulli():
  p = np.linspace(0, 1, 11, dtype=np.float32)
  n = 20000
  draws = jax.jit(jax.vmap(data.dynamic_binarize, in_axes=(0, None)))(
      jax.random.split(jax.random.key(0), n), p)
  freq = np.asarray(draws).mean(0)
  np.testing.assert_array_less(np.abs(freq - p), 5 * np.sqrt(p * (1 - p) / n) + 1e-9)
  np.testing.assert_array_equal(data.static_binarize(p), (p > 0.5).astype(np.float32))


def test_dynamic_binarization_is_the_16_bit_threshold_rule():
  # Draw is 1 iff the top 16 bits of the pixel's threefry word are below ceil(65536 p).
  key = jax.random.key(4)
  images = np.random.default_rng(1).uniform(size=(3, 5, 5, 1)).astype(np.float32)
  images[0, 0, 0, 0], images[0, 0, 1, 0] = 0.0, 1.0
  words = np.asarray(jax.random.bits(key, (images.size,), jnp.uint32)) >> 16
  expected = (words < np.ceil(images.ravel() * 65536.0)).astype(np.float32)
  np.testing.assert_array_equal(jax.jit(data.dynamic_binarize)(key, images),
                                expected.reshape(images.shape))
