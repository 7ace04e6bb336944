"""Data bigger than memory: records read on demand through `tfds.data_source`.

`tfds.data_source` opens a prepared TFDS dataset (ArrayRecord files) for random access with
no TensorFlow at run time. `TFDSSource` reads only the records of each batch, so the data
may be any size; its batches equal those of the in-memory dataset of the same split (the
in-memory TFDS loader is `TFDSSource(...).gather(all indices)`), and the loop's per-step
index rule (`batch_indices`) keeps resume exact with no iterator state.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from gen_jax.data._dataset import DatasetInfo, SourceBase, check_indices


class DatasetNotFoundError(FileNotFoundError):
  """The requested dataset is not available on this machine."""


def _convert(key: str, values: list[Any]) -> np.ndarray | None:
  """Stacks one feature of a batch of records into the contract's dtypes.

  uint8 (images) -> float32 in [0, 1]; other integers -> int32; floats -> float32; bools ->
  float32 0/1; anything else (strings, ids) -> None (dropped).
  """
  array = np.stack([np.asarray(v) for v in values])
  if array.dtype == np.uint8:
    return array.astype(np.float32) / np.float32(255.0)
  if array.dtype == np.bool_:
    return array.astype(np.float32)
  if np.issubdtype(array.dtype, np.integer):
    return array.astype(np.int32)
  if np.issubdtype(array.dtype, np.floating):
    return array.astype(np.float32)
  del key
  return None


class TFDSSource(SourceBase):
  """A TFDS split read record by record: a `DataSource` that never holds the whole split.

  Features are converted as the in-memory loader converts them: uint8 (images) to float32
  in [0, 1], other integers to int32, floats to float32; string features are dropped.

  Args:
    name: TFDS name, e.g. 'mnist' or 'cifar10:3.0.2'.
    split: TFDS split, e.g. 'train', 'test', 'train[:90%]'.
    data_dir: TFDS data directory (None: TFDS's default).
    read_threads: background threads the loop uses to prefetch batches (see `DataSource`).
  Raises:
    DatasetNotFoundError: naming the dataset, split and data_dir, when the prepared files
      are missing (nothing is downloaded).
  """

  stochastic = False

  def __init__(self, name: str, split: str, *, data_dir: str | None = None,
               read_threads: int = 4):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    try:
      self._source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
      n = len(self._source)
    except Exception as e:  # tfds raises several types for "not prepared"
      raise DatasetNotFoundError(
          f"dataset 'tfds:{name}' split {split!r} could not be opened from data_dir="
          f"{data_dir!r} (prepare it with `tfds build {name} --file_format=array_record"
          f"{' --data_dir=' + data_dir if data_dir else ''}`): {type(e).__name__}: "
          f"{str(e)[:500]}") from e
    if n == 0:
      raise DatasetNotFoundError(
          f"dataset 'tfds:{name}' split {split!r} in data_dir={data_dir!r} is empty")
    self.read_threads = int(read_threads)
    raw = self._source[0]
    first = self._read(np.zeros((1,), np.int64))
    num_classes = None
    if "label" in first:
      try:
        num_classes = int(self._source.dataset_info.features["label"].num_classes)
      except (AttributeError, KeyError, TypeError):
        num_classes = None
    self._info = DatasetInfo(
        name=f"tfds:{name}:{split}", num_examples=n,
        element_spec={k: jax.ShapeDtypeStruct(v.shape[1:], v.dtype) for k, v in first.items()},
        value_range={k: (0.0, 1.0) for k in first if np.asarray(raw[k]).dtype == np.uint8},
        num_classes=num_classes)

  def _read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    records = [self._source[int(i)] for i in indices]
    out = {}
    for key in records[0]:
      array = _convert(key, [r[key] for r in records])
      if array is not None:
        out[key] = array
    return out

  def __repr__(self) -> str:
    return f"TFDSSource({self.name!r}, N={len(self)})"

  def gather(self, indices: Any, key: jax.Array | None = None) -> dict[str, np.ndarray]:
    del key  # deterministic
    indices = check_indices(indices, len(self))
    if indices.size == 0:
      return {k: np.zeros((0, *s.shape), s.dtype) for k, s in self.element_spec.items()}
    return self._read(indices)
