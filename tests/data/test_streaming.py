"""Streaming TFDS source (tfds.data_source, mock data): equal to the in-memory dataset."""

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from gen_jax import data


@pytest.fixture
def mock_mnist():
  with tfds.testing.mock_data(num_examples=40, policy=tfds.testing.MockPolicy.USE_CODE):
    yield


def test_streaming_batches_equal_in_memory(mock_mnist):
  stream = data.load_dataset("tfds:mnist", "train", streaming=True)
  memory = data.load_dataset("tfds:mnist", "train")
  assert isinstance(stream, data.TFDSSource) and isinstance(stream, data.DataSource)
  assert len(stream) == len(memory) == 40
  assert stream.element_spec == memory.element_spec == {
      "image": jax.ShapeDtypeStruct((28, 28, 1), np.float32),
      "label": jax.ShapeDtypeStruct((), np.int32)}
  assert stream.num_classes == memory.num_classes == 10
  assert stream.info.value_range == {"image": (0.0, 1.0)}
  key = jax.random.key(0)
  for step in (0, 1, 5, 12):
    a = data.step_batch(stream, key, step, batch_size=8, batches_per_step=2)
    b = data.step_batch(memory, key, step, batch_size=8, batches_per_step=2)
    for k in b:
      np.testing.assert_array_equal(a[k], b[k])


def test_missing_streaming_files_raise_one_clear_error(tmp_path):
  with pytest.raises(data.DatasetNotFoundError,
                     match=rf"'tfds:mnist' split 'test'.*data_dir='{tmp_path}'"):
    data.load_dataset("tfds:mnist", "test", data_dir=str(tmp_path), streaming=True)
  with pytest.raises(data.DatasetNotFoundError, match=r"'tfds:mnist' split 'train'"):
    data.load_dataset("tfds:mnist", "train", data_dir=str(tmp_path))
