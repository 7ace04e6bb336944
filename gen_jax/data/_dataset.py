"""In-memory image datasets and the split rule shared by every source."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

# The train/test split of the embedded datasets is a property of the data, not of a run:
# it uses its own fixed key so that every seed evaluates on the same test digits.
SPLIT_KEY = 20240321


@dataclasses.dataclass(frozen=True)
class ArrayDataset:
  """Images in [0, 1] and integer labels, held in host memory.

  Attributes:
    images: float32 [N, H, W, C] in [0, 1].
    labels: int32 [N].
    name: where the data came from.
    num_classes: number of label values.
  """
  images: np.ndarray
  labels: np.ndarray
  name: str
  num_classes: int = 10

  def __post_init__(self):
    if self.images.ndim != 4:
      raise ValueError(
          f"ArrayDataset.images must be [N, H, W, C], got shape {self.images.shape}")
    if self.labels.shape != (self.images.shape[0],):
      raise ValueError(
          f"ArrayDataset.labels must be [{self.images.shape[0]}], got {self.labels.shape}")

  def __len__(self) -> int:
    return self.images.shape[0]

  @property
  def image_shape(self) -> tuple[int, int, int]:
    return tuple(self.images.shape[1:])


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
