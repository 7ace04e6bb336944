"""The data contract: a source of examples, each a dict of arrays, read by index.

Every dataset the training loop consumes implements `DataSource`: its examples are dicts of
arrays with one leading example axis ('image', 'label', 'x', whatever the source provides),
read in batches by index with `gather`. `ArrayDataset` holds the arrays in host memory (the
fast default); `TFDSSource` (see `_streaming`) reads records from disk on demand.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Protocol, runtime_checkable

import jax
import numpy as np

# The train/test split of the embedded datasets is a property of the data, not of a run:
# it uses its own fixed key so that every seed evaluates on the same test digits.
SPLIT_KEY = 20240321


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """What a source holds, without reading it.

  Attributes:
    name: where the data came from, e.g. 'mnist:train', 'ring:test', 'tfds:mnist:train'.
    num_examples: N.
    element_spec: {key: jax.ShapeDtypeStruct of one example}, e.g.
      {'image': (28, 28, 1) float32, 'label': () int32}.
    value_range: {key: (low, high)} for the keys whose values are known to be bounded
      (images in [0, 1]: (0.0, 1.0)); keys absent here are unbounded or unknown.
    num_classes: number of 'label' values (labels are 0..num_classes-1), None without labels.
  """
  name: str
  num_examples: int
  element_spec: Mapping[str, jax.ShapeDtypeStruct]
  value_range: Mapping[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
  num_classes: int | None = None


@runtime_checkable
class DataSource(Protocol):
  """What the training loop and the evaluation helpers read.

  Required:
    len(source): number of examples N.
    source.element_spec: {key: jax.ShapeDtypeStruct} of one example.
    source.info: a `DatasetInfo`.
    source.gather(indices, key=None): {key: np.ndarray [len(indices), ...]}, the examples at
      `indices` (int [b], any order, each in [0, N)), with the dtypes of `element_spec`.
      `key` is the data key of the batch being built (a pure function of the run's seed and
      the data step). Sources that draw fresh randomness per step (dynamic binarization)
      derive each example's draw from `jax.random.fold_in(key, index)`, so it depends on
      neither the batch composition nor the number of devices or processes; others ignore it.

  Optional attributes (read with getattr; absent means the default):
    stochastic: True when `gather` uses `key` (default False: the loop passes no key).
    read_threads: background threads the loop may use to prefetch the next batches (default
      0: batches are read in the loop's thread; worth it for sources that read files).
  """

  def __len__(self) -> int:
    ...

  @property
  def element_spec(self) -> Mapping[str, jax.ShapeDtypeStruct]:
    ...

  @property
  def info(self) -> DatasetInfo:
    ...

  def gather(self, indices: np.ndarray, key: jax.Array | None = None) -> dict[str, np.ndarray]:
    ...


def check_indices(indices: Any, num_examples: int) -> np.ndarray:
  """indices as an int64 [b] array, each in [0, num_examples); ValueError otherwise."""
  indices = np.asarray(indices)
  if indices.ndim != 1 or not (np.issubdtype(indices.dtype, np.integer) or indices.size == 0):
    raise ValueError(f"indices must be an integer array [b], got shape {indices.shape} and "
                     f"dtype {indices.dtype}")
  indices = indices.astype(np.int64)
  if indices.size and (indices.min() < 0 or indices.max() >= num_examples):
    raise ValueError(f"indices must lie in [0, {num_examples}) (the dataset size), got "
                     f"values in [{indices.min()}, {indices.max()}]")
  return indices


class SourceBase:
  """The accessors every source derives from its `DatasetInfo` (`self._info`)."""

  _info: DatasetInfo

  def __len__(self) -> int:
    return self._info.num_examples

  @property
  def info(self) -> DatasetInfo:
    return self._info

  @property
  def element_spec(self) -> Mapping[str, jax.ShapeDtypeStruct]:
    return self._info.element_spec

  @property
  def name(self) -> str:
    return self._info.name

  @property
  def num_classes(self) -> int | None:
    return self._info.num_classes


class ArrayDataset(SourceBase):
  """Examples held in host memory as a dict of arrays with one leading example axis.

  Two ways to build one:
    ArrayDataset(images, labels, name, num_classes)   # the image datasets: 'image', 'label'
    ArrayDataset(arrays={'x': points, 'label': modes}, name='ring:train', ...)

  `images`, `labels`, `image_shape` and `num_classes` read the 'image' and 'label' arrays
  (the accessors image experiments use); `arrays`, `element_spec`, `info` and `gather` are
  the general `DataSource` contract.

  Args:
    images: [N, ...] array stored under 'image' (float32 in [0, 1] for image data).
    labels: [N, ...] array stored under 'label' (int32 [N] class indices); optional.
    name: where the data came from.
    num_classes: number of label values; None: max(label) + 1 when integer labels exist.
    arrays: {key: [N, ...] array}, instead of (or in addition to) images and labels.
    value_range: {key: (low, high)} of the keys whose range is known.
  Raises:
    ValueError: naming the key, the expected and the actual shape, when the leading sizes
      disagree or an array has no example axis.
  """

  stochastic = False
  read_threads = 0

  def __init__(self, images: Any = None, labels: Any = None, name: str = "arrays",
               num_classes: int | None = None, *, arrays: Mapping[str, Any] | None = None,
               value_range: Mapping[str, tuple[float, float]] | None = None):
    merged = dict(arrays or {})
    for key, value in (("image", images), ("label", labels)):
      if value is not None:
        if key in merged:
          raise ValueError(f"ArrayDataset got {key!r} both as an argument and in arrays")
        merged[key] = value
    if not merged:
      raise ValueError("ArrayDataset needs at least one array (images= or arrays=)")
    merged = {k: np.asarray(v) for k, v in merged.items()}
    first = next(iter(merged))
    n = merged[first].shape[0] if merged[first].ndim else None
    for key, value in merged.items():
      if value.ndim == 0 or value.shape[0] != n:
        raise ValueError(
            f"ArrayDataset array {key!r} must have the leading example axis of {first!r}: "
            f"expected shape [{n}, ...], got {value.shape}")
    if num_classes is None and "label" in merged and merged["label"].size and np.issubdtype(
        merged["label"].dtype, np.integer):
      num_classes = int(merged["label"].max()) + 1
    self._arrays = merged
    self._info = DatasetInfo(
        name=name, num_examples=int(n),
        element_spec={k: jax.ShapeDtypeStruct(v.shape[1:], v.dtype) for k, v in merged.items()},
        value_range=dict(value_range or {}), num_classes=num_classes)

  def __repr__(self) -> str:
    spec = ", ".join(f"{k}: {v.dtype}{list(v.shape)}" for k, v in self.element_spec.items())
    return f"ArrayDataset({self.name!r}, N={len(self)}, {{{spec}}})"

  @property
  def arrays(self) -> dict[str, np.ndarray]:
    """{key: [N, ...]} (the stored arrays; do not modify)."""
    return dict(self._arrays)

  def __getitem__(self, key: str) -> np.ndarray:
    if key not in self._arrays:
      raise KeyError(f"dataset {self.name!r} has no array {key!r}; it has "
                     f"{sorted(self._arrays)}")
    return self._arrays[key]

  def __contains__(self, key: str) -> bool:
    return key in self._arrays

  def gather(self, indices: Any, key: jax.Array | None = None) -> dict[str, np.ndarray]:
    del key  # deterministic
    indices = check_indices(indices, len(self))
    return {k: v[indices] for k, v in self._arrays.items()}

  # Accessors of the image datasets.
  @property
  def images(self) -> np.ndarray:
    return self._named("image")

  @property
  def labels(self) -> np.ndarray:
    return self._named("label")

  @property
  def image_shape(self) -> tuple[int, ...]:
    return tuple(self._named("image").shape[1:])

  def _named(self, key: str) -> np.ndarray:
    if key not in self._arrays:
      raise AttributeError(f"dataset {self.name!r} has no {key!r} array (it has "
                           f"{sorted(self._arrays)}); read those with dataset[key]")
    return self._arrays[key]


def stratified_split(labels: np.ndarray, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
  """Deterministic stratified split: per class, a fixed-key permutation, the tail is test.

  Returns (train_indices, test_indices), each sorted ascending then shuffled with the
  same fixed key so that batches mix classes.
  """
  key = jax.random.key(SPLIT_KEY)
  train, test = [], []
  for c in np.unique(labels):
    idx = np.flatnonzero(labels == c)
    perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, int(c)), idx.size))
    n_test = int(round(test_fraction * idx.size))
    test.append(idx[perm[idx.size - n_test:]])
    train.append(idx[perm[:idx.size - n_test]])
  train = np.concatenate(train)
  test = np.concatenate(test)
  k_tr, k_te = jax.random.split(jax.random.fold_in(key, 1_000_000))
  train = train[np.asarray(jax.random.permutation(k_tr, train.size))]
  test = test[np.asarray(jax.random.permutation(k_te, test.size))]
  return train, test
