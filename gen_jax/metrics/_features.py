"""Feature extractors: jitted, batched and sharded over every device.

Each extractor maps float32 images [N, H, W, C] in [0, 1] to (features [N, d],
logits [N, K]) as host NumPy arrays. Batches of a fixed global size are split over a 1-D
`Mesh` of the devices with `NamedSharding` (params replicated); the last batch is padded, so
there is one compilation and the rows do not depend on how many devices there are.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable, Sequence

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from gen_jax import validation

MNIST_WEIGHTS = os.path.join(os.path.dirname(__file__), "mnist_classifier.msgpack")
INCEPTION_WEIGHTS_ENV = "GEN_JAX_INCEPTION_WEIGHTS"


class InceptionWeightsNotFoundError(FileNotFoundError):
  """The converted FID InceptionV3 weights are not on this machine."""


class FeatureExtractor:
  """`extractor(images) -> (features [N, d], logits [N, K])`, NumPy float32.

  Args:
    apply_fn: pure `apply_fn(variables, images) -> (features, logits)` on one batch.
    variables: its weights (replicated on every device once, here).
    image_shape: expected (H, W, C) of the inputs, None entries for any size.
    batch_size: global batch, rounded up to a multiple of the device count.
    devices: devices to shard over (default: all of `jax.devices()`).
    name: for messages.
  """

  def __init__(self, apply_fn: Callable[[Any, jax.Array], tuple[jax.Array, jax.Array]],
               variables: Any, *, image_shape: Sequence[int | None], batch_size: int = 500,
               devices: Sequence[jax.Device] | None = None, name: str = "features"):
    devices = list(jax.devices() if devices is None else devices)
    self.name = name
    self.image_shape = tuple(image_shape)
    self.batch_size = -(-batch_size // len(devices)) * len(devices)
    mesh = Mesh(np.asarray(devices), ("batch",))
    self._batch_sharding = NamedSharding(mesh, PartitionSpec("batch"))
    replicated = NamedSharding(mesh, PartitionSpec())
    self._variables = jax.device_put(variables, replicated)
    self._apply = jax.jit(apply_fn, in_shardings=(replicated, self._batch_sharding),
                          out_shardings=self._batch_sharding)

  def _check(self, images) -> np.ndarray:
    expected = "[N, " + ", ".join("?" if s is None else str(s) for s in self.image_shape) + "]"
    validation.check_rank("images", images, 1 + len(self.image_shape), expected)
    if any(s is not None and s != a for s, a in zip(self.image_shape, images.shape[1:])):
      raise validation.ArgumentError(
          "images", f"images for the {self.name} extractor must have shape {expected}, got "
          f"shape {tuple(images.shape)}")
    return np.asarray(images, np.float32)

  def __call__(self, images, *, progress: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features and logits of float images [N, H, W, C] in [0, 1].

    progress: show a tqdm bar over batches; default only when stderr is a terminal.
    """
    images = self._check(images)
    n, b = images.shape[0], self.batch_size
    starts = range(0, n, b)
    if progress is None:
      progress = sys.stderr.isatty()
    if progress:
      import tqdm  # pylint: disable=g-import-not-at-top
      starts = tqdm.tqdm(starts, desc=self.name, unit="batch", file=sys.stderr)
    features, logits, pending = [], [], None
    for start in starts:
      batch = images[start:start + b]
      rows = batch.shape[0]
      if rows < b:
        batch = np.concatenate([batch, np.zeros((b - rows,) + batch.shape[1:], batch.dtype)])
      # Dispatch the next batch before copying the previous result to host, so the device
      # works while the host waits.
      out = self._apply(self._variables, jax.device_put(batch, self._batch_sharding))
      if pending is not None:
        _collect(pending, features, logits)
      pending = (out, rows)
    if pending is not None:
      _collect(pending, features, logits)
    if not features:
      raise validation.ArgumentError(
          "images", f"images must have at least one row (shape [N, ...], N >= 1), got "
          f"shape {images.shape}")
    return np.concatenate(features), np.concatenate(logits)


def _collect(pending, features: list, logits: list) -> None:
  (f, l), rows = pending
  features.append(np.asarray(f)[:rows])
  logits.append(np.asarray(l)[:rows])


def _mnist_apply(variables, images):
  from gen_jax.nets.mnist_classifier import MNISTClassifier  # pylint: disable=g-import-not-at-top
  return MNISTClassifier().apply(variables, images)


def load_mnist_classifier_params(path: str = MNIST_WEIGHTS) -> Any:
  """Parameters of `gen_jax.nets.mnist_classifier.MNISTClassifier` from a msgpack file."""
  from gen_jax.nets.mnist_classifier import MNISTClassifier  # pylint: disable=g-import-not-at-top
  template = jax.eval_shape(MNISTClassifier().init, jax.random.key(0),
                            jnp.zeros((1, 28, 28, 1)))["params"]
  with open(path, "rb") as f:
    return flax.serialization.from_bytes(template, f.read())


@functools.lru_cache(maxsize=None)
def mnist_feature_extractor(*, batch_size: int = 500) -> FeatureExtractor:
  """The shipped MNIST classifier as a FeatureExtractor (weights loaded once, cached).

  Features: the 128-d penultimate layer; logits: 10 digit classes. Test accuracy of the
  shipped weights on the 1,000 embedded MNIST test digits: 97.5%.
  """
  params = load_mnist_classifier_params()
  return FeatureExtractor(_mnist_apply, {"params": params}, image_shape=(28, 28, 1),
                          batch_size=batch_size, name="mnist")


def mnist_features(images) -> tuple[np.ndarray, np.ndarray]:
  """(features [N, 128], logits [N, 10]) of images float32 [N, 28, 28, 1] in [0, 1]."""
  return mnist_feature_extractor()(images)


def _missing_weights_message(path: str | None) -> str:
  from gen_jax.metrics.convert_inception_weights import PYTORCH_FID_WEIGHTS_URL  # pylint: disable=g-import-not-at-top
  where = f"{path!r} does not exist" if path else (
      f"no weights path was given and ${INCEPTION_WEIGHTS_ENV} is not set")
  return (f"FID InceptionV3 weights not found: {where}. Download the pt_inception-2015-12-05 "
          f"weights used by pytorch-fid / torch-fidelity from {PYTORCH_FID_WEIGHTS_URL}, "
          "convert them once with `python -m gen_jax.metrics.convert_inception_weights "
          "--torch pt_inception-2015-12-05-6726825d.pth --out inception_fid.npz` (needs torch), "
          "then pass the .npz as `inception_feature_extractor(weights_path=...)`, "
          f"`--inception-weights PATH` on the CLI, or set ${INCEPTION_WEIGHTS_ENV}. A .pth is "
          "also accepted directly when torch is installed.")


def load_inception_variables(path: str | None = None) -> dict:
  """Flax variables {'params', 'batch_stats'} of the FID InceptionV3 from .npz (or .pth)."""
  path = path or os.environ.get(INCEPTION_WEIGHTS_ENV)
  if not path or not os.path.exists(path):
    raise InceptionWeightsNotFoundError(_missing_weights_message(path))
  from gen_jax.metrics import convert_inception_weights as convert  # pylint: disable=g-import-not-at-top
  if path.endswith((".pth", ".pt")):
    flat = convert.torch_to_flax(convert.load_torch_state_dict(path))
  else:
    with np.load(path) as f:
      flat = {k: f[k] for k in f.files}
  variables: dict = {}
  for key, value in flat.items():
    node = variables
    *parents, leaf = key.split("/")
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = jnp.asarray(value)
  return variables


def _inception_apply(variables, images):
  from gen_jax.nets.inception import InceptionV3  # pylint: disable=g-import-not-at-top
  # [0, 1] floats -> the uint8 pixel values the reference sees when images are saved as PNG.
  pixels = jnp.round(jnp.clip(images, 0.0, 1.0) * 255.0)
  if pixels.shape[-1] == 1:
    pixels = jnp.repeat(pixels, 3, axis=-1)
  out = InceptionV3().apply(variables, pixels)
  return out["pool3"], out["logits_unbiased"]


@functools.lru_cache(maxsize=4)
def inception_feature_extractor(weights_path: str | None = None, *,
                                batch_size: int = 100) -> FeatureExtractor:
  """FID InceptionV3 as a FeatureExtractor: images [N, H, W, 1 or 3] in [0, 1] (any size).

  Features: pool3 [N, 2048]; logits: the 1008 `logits_unbiased` (fc without bias, as the
  original Inception Score code). Images are quantized to 8 bits, gray is tiled to RGB,
  and the network resizes to 299x299 itself.

  Args:
    weights_path: converted .npz (or .pth with torch); default ${GEN_JAX_INCEPTION_WEIGHTS}.
    batch_size: global batch size.
  Raises:
    InceptionWeightsNotFoundError: with download and conversion instructions.
  """
  variables = load_inception_variables(weights_path)
  return FeatureExtractor(_inception_apply, variables, image_shape=(None, None, None),
                          batch_size=batch_size, name="inception")
