"""Convolutional autoregressive image models: PixelCNN, gated PixelCNN, PixelRNN (Row LSTM).

p(x) = Π_{r, c, k} p(x_{r,c,k} | pixels before (r, c) in raster order, channels < k), each
factor a Bernoulli (binary images), a 256-way categorical or a discretized logistic mixture
(PixelCNN++) over 8-bit levels. The networks live in `gen_jax.nets.pixelcnn` /
`gen_jax.nets.pixelrnn`; the modules here add the data convention of the family
(docs: /work/wt/reports/ar_interface.md): x [B, H, W, C] holds {0, 1} ('bernoulli') or
integer levels 0..L-1 ('categorical', 'logistic_mixture'), and the output is the
per-dimension parameters: logits [B, H, W, C] ('bernoulli'), [B, H, W, C, L]
('categorical') or [B, H, W, C, 3K] ('logistic_mixture').
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax import losses
from gen_jax import random
from gen_jax import validation
from gen_jax.autoregressive._likelihood import check_data
from gen_jax.autoregressive._likelihood import log_prob
from gen_jax.nets import pixelcnn as pixelcnn_nets
from gen_jax.nets import pixelrnn as pixelrnn_nets
from gen_jax.training import make_train_step
from gen_jax.training import map_batches
from gen_jax.training import Task
from gen_jax.training import TrainState

DISTRIBUTIONS = ("bernoulli", "categorical", "logistic_mixture")
ARCHITECTURES = ("pixelcnn", "gated_pixelcnn", "pixelrnn")
LEVELS = 256


def num_outputs(distribution: str, *, num_levels: int = LEVELS, num_mixtures: int = 5) -> int:
  """Numbers per dimension the network emits for `distribution`."""
  return {"bernoulli": 1, "categorical": num_levels,
          "logistic_mixture": 3 * num_mixtures}[distribution]


def check_pixels(x, *, distribution: str, num_levels: int = LEVELS, name: str = "x") -> None:
  """Concrete `x` holds {0, 1} ('bernoulli') or integer levels in [0, L-1] (otherwise);
  an `ArgumentError` naming `name` if not (the family's `check_data`). Traced values are
  not checked (unknown)."""
  validation.check_choice("distribution", distribution, DISTRIBUTIONS)
  check_data(x, distribution="bernoulli" if distribution == "bernoulli" else "categorical",
             num_levels=num_levels, name=name)


def pixel_log_prob(out: jax.Array, x: jax.Array, *, distribution: str,
                   num_levels: int = LEVELS) -> jax.Array:
  """Exact log p(x) in nats, [B], from the network's per-dimension parameters.

  Bernoulli: Σ_d x_d l_d − softplus(l_d); categorical: Σ_d log softmax(l_d)[x_d] (both
  the family's `log_prob`); logistic mixture: `losses.discretized_logistic_mixture_log_likelihood` of x / (L − 1).

  Args:
    out: [B, H, W, C] ('bernoulli'), [B, H, W, C, L] ('categorical'), [B, H, W, C, 3K].
    x: [B, H, W, C]: {0, 1} or integer levels (values checked when concrete).
    distribution: one of DISTRIBUTIONS.
    num_levels: L.
  """
  validation.check_choice("distribution", distribution, DISTRIBUTIONS)
  validation.check_rank("x", x, 4, "[B, H, W, C]")
  if distribution != "logistic_mixture":
    return log_prob(out, x, distribution=distribution)
  check_pixels(x, distribution=distribution, num_levels=num_levels)
  x = jnp.asarray(x, jnp.float32)
  validation.check_shape("out", out, tuple(x.shape) + (None,))
  return losses.discretized_logistic_mixture_log_likelihood(
      x / (num_levels - 1), out, num_levels=num_levels)


class _ImageAR(nn.Module):
  """Shared fields; subclasses name the network. Input rescaled to [0, 1]."""
  distribution: str = "bernoulli"
  features: int = 64
  num_layers: int = 6
  first_kernel: int = 7
  kernel: int = 3
  num_levels: int = LEVELS
  num_mixtures: int = 5
  num_classes: int = 0

  def network(self, outputs: int) -> nn.Module:
    raise NotImplementedError

  def preprocess(self, x: jax.Array) -> jax.Array:
    x = jnp.asarray(x, jnp.float32)
    return x if self.distribution == "bernoulli" else x / (self.num_levels - 1)

  def postprocess(self, out: jax.Array) -> jax.Array:
    return out[..., 0] if self.distribution == "bernoulli" else out

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, key=None,
               train: bool = False) -> jax.Array:
    del key, train
    validation.check_choice("distribution", self.distribution, DISTRIBUTIONS)
    validation.check_rank("x", x, 4, "[B, H, W, C]")
    outputs = num_outputs(self.distribution, num_levels=self.num_levels,
                          num_mixtures=self.num_mixtures)
    out = self.network(outputs)(self.preprocess(x), labels)
    return self.postprocess(out)


class PixelCNN(_ImageAR):
  """`nets.pixelcnn.PixelCNN` (7x7 type A, residual 3x3 type B layers; has a blind spot)
  under the family's data convention. x [B, H, W, C] -> per-dimension parameters."""

  def network(self, outputs):
    return pixelcnn_nets.PixelCNN(features=self.features, num_layers=self.num_layers,
                                  outputs=outputs, first_kernel=self.first_kernel,
                                  kernel=self.kernel, num_classes=self.num_classes, name="net")


class GatedPixelCNN(_ImageAR):
  """`nets.pixelcnn.GatedPixelCNN` (vertical + horizontal stacks, no blind spot, class
  conditioning with num_classes > 0) under the family's data convention."""

  def network(self, outputs):
    return pixelcnn_nets.GatedPixelCNN(features=self.features, num_layers=self.num_layers,
                                       outputs=outputs, first_kernel=self.first_kernel,
                                       kernel=self.kernel, num_classes=self.num_classes,
                                       name="net")


class PixelRNN(_ImageAR):
  """`nets.pixelrnn.PixelRNN` under the family's data convention: Row LSTM layers
  (`layer='row'`) or Diagonal BiLSTM layers (`layer='diagonal'`)."""
  features: int = 32
  num_layers: int = 2
  layer: str = "row"

  def network(self, outputs):
    if self.num_classes:
      raise validation.ArgumentError("num_classes", "PixelRNN is unconditional: "
                                     f"num_classes must be 0, got {self.num_classes}")
    validation.check_choice("layer", self.layer, pixelrnn_nets.LAYERS)
    return pixelrnn_nets.PixelRNN(features=self.features, num_layers=self.num_layers,
                                  outputs=outputs, first_kernel=self.first_kernel,
                                  kernel=self.kernel, layer=self.layer, name="net")


MODULES = {"pixelcnn": PixelCNN, "gated_pixelcnn": GatedPixelCNN, "pixelrnn": PixelRNN}


@dataclasses.dataclass(frozen=True)
class ConvARSpec:
  """A convolutional autoregressive model of the dataset's 'image' key.

  Attributes:
    model: 'pixelcnn', 'gated_pixelcnn' or 'pixelrnn'.
    distribution: 'bernoulli' (binarized images), 'categorical' (256 levels) or
      'logistic_mixture' (256 levels, PixelCNN++ output).
    binarize: for 'bernoulli': 'dynamic' (fresh Bernoulli(intensity) draws per step; the
      test set binarized once with a fixed key) or 'none' (the data are binary already).
    features, num_layers, first_kernel, kernel: the network (see gen_jax.nets.pixelcnn).
    num_mixtures: K of the logistic mixture.
    rnn_layer: 'row' (Row LSTM) or 'diagonal' (Diagonal BiLSTM) layers for 'pixelrnn'.
    conditional: condition on the 'label' key (gated_pixelcnn and pixelcnn).
    num_classes: classes of the labels when conditional.
    learning_rate: Adam's step size.
    num_sample_images: size of the sample grid.
  """
  model: str = "pixelcnn"
  distribution: str = "bernoulli"
  binarize: str = "dynamic"
  features: int = 32
  num_layers: int = 5
  first_kernel: int = 7
  kernel: int = 3
  num_mixtures: int = 5
  rnn_layer: str = "row"
  conditional: bool = False
  num_classes: int = 10
  learning_rate: float = 1e-3
  num_sample_images: int = 64

  def __post_init__(self):
    validation.check_choice("model", self.model, ARCHITECTURES)
    validation.check_choice("distribution", self.distribution, DISTRIBUTIONS)
    validation.check_choice("binarize", self.binarize, ("dynamic", "none"))
    validation.check_choice("rnn_layer", self.rnn_layer, pixelrnn_nets.LAYERS)
    for name in ("features", "num_layers", "num_mixtures", "num_classes",
                 "num_sample_images"):
      validation.check_int(name, getattr(self, name), low=1)
    for name in ("first_kernel", "kernel"):
      k = validation.check_int(name, getattr(self, name), low=1)
      if k % 2 == 0:
        raise validation.ArgumentError(name, f"{name} must be odd, got {k}")
    validation.check_number("learning_rate", self.learning_rate, low=0.0,
                            low_inclusive=False)
    if self.conditional and self.model == "pixelrnn":
      raise validation.ArgumentError("conditional", "conditional must be False for "
                                     "model='pixelrnn' (unconditional)")

  def module(self) -> _ImageAR:
    extra = {"layer": self.rnn_layer} if self.model == "pixelrnn" else {}
    return MODULES[self.model](
        distribution=self.distribution, features=self.features, num_layers=self.num_layers,
        first_kernel=self.first_kernel, kernel=self.kernel, num_mixtures=self.num_mixtures,
        num_classes=self.num_classes if self.conditional else 0, **extra)


def to_model_data(images: jax.Array, key: jax.Array | None, *, distribution: str,
                  binarize: str) -> jax.Array:
  """Pipeline images [B, ...] in [0, 1] -> the model's x: Bernoulli bits (per-example keys)
  for 'bernoulli' + 'dynamic', the images themselves for 'none', levels round(255 x)
  otherwise."""
  if distribution != "bernoulli":
    return jnp.round(images * (LEVELS - 1))
  if binarize == "dynamic":
    return random.bernoulli(random.example_keys(key, images.shape[0]), images)
  return images


def make_conv_task(spec: ConvARSpec, *, train_data, test_data) -> Task:
  """The family's `Task` for PixelCNN / gated PixelCNN / PixelRNN: Adam on the mean exact
  NLL; `evaluate` reports `test_nll` (nats per image), `test_bpd`, `nll_kind` 'exact';
  `sample` draws the grid with the fast sampler (`conv_sample`)."""
  from gen_jax.autoregressive import _fast_sampling  # pylint: disable=g-import-not-at-top
  shape = tuple(train_data.image_shape)
  dims = math.prod(shape)
  model = spec.module()
  test_x = np.asarray(test_data.images, np.float32)
  if spec.distribution == "bernoulli" and spec.binarize == "dynamic":
    test_x = np.asarray(random.bernoulli(jax.random.key(7), test_x))
  elif spec.distribution != "bernoulli":
    test_x = np.round(test_x * (LEVELS - 1))
  check_pixels(test_x, distribution=spec.distribution, name="test images")
  test_labels = (np.asarray(test_data.labels, np.int32) if spec.conditional
                 else np.zeros(len(test_x), np.int32))

  def apply(params, x, labels):
    return model.apply(params, x, labels if spec.conditional else None)

  def init(key):
    x = jnp.zeros((1, *shape), jnp.float32)
    params = model.init(key, x, jnp.zeros((1,), jnp.int32) if spec.conditional else None)
    return TrainState.create({"model": params}, {"model": optax.adam(spec.learning_rate)})

  def loss_fn(params, state, batch, key):
    x = to_model_data(batch["image"], key, distribution=spec.distribution,
                      binarize=spec.binarize)
    out = apply(params, x, batch.get("label"))
    nll = -pixel_log_prob(out, x, distribution=spec.distribution)
    return nll.mean(), ({"nll": nll.mean(), "bpd": nll.mean() / (dims * math.log(2))},
                        state.extra)

  def evaluate(state, key, *, final=False):
    del key, final  # exact and deterministic
    params = state.eval_params("model")
    ll = map_batches(lambda xy: pixel_log_prob(apply(params, xy[0], xy[1]), xy[0],
                                               distribution=spec.distribution),
                     (test_x, test_labels), batch_size=250)
    nll = float(-np.mean(ll))
    return {"test_nll": nll, "test_bpd": nll / (dims * math.log(2)), "nll_kind": "exact"}

  def sample_grid(state, key):
    labels = (jnp.arange(spec.num_sample_images) % spec.num_classes if spec.conditional
              else None)
    x = _fast_sampling.conv_sample(key, model, state.eval_params("model"),
                                   (spec.num_sample_images, *shape), labels=labels)
    return x if spec.distribution == "bernoulli" else x / (LEVELS - 1)

  data_keys = ("image", "label") if spec.conditional else ("image",)
  return Task(init=init, step=make_train_step(loss_fn), evaluate=evaluate,
              sample=jax.jit(sample_grid), plot_keys=("loss",), data_keys=data_keys)

