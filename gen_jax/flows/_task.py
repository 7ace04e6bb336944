"""The flows family's entry point: typed specs and `make_task` (maximum likelihood by Adam on
the exact log-density).

- `Flow2DSpec`: RealNVP, spline coupling, MAF or IAF on 2-D data (the batch key 'x');
  `test_nll` is exact (nats per point). With `conditional`, the flow models p(x | label)
  (the data's 'label', one-hot as the context) and the results add the implied marginal
  log Σ_y π_y p(x | y) (π the training label frequencies), comparable with an
  unconditional flow's test NLL.
- `ImageFlowSpec`: RealNVP or Glow multi-scale flows on 8-bit images (the batch key
  'image', values k/255) with uniform or variational dequantization; `test_bpd` is the
  dequantization bound -E_q[log p(u) - log q(u | x)] / (D log 2) + 8 (nll_kind 'bound').
  With `conditional`, class-conditional (the one-hot 'label' as the flow's context): the
  bound of log p(x | y), and `test_bpd_marginal`, the bound of log Σ_y π_y p(x | y).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax import random
from gen_jax import validation
from gen_jax.flows._models import maf_flow
from gen_jax.flows._models import MultiScaleFlow
from gen_jax.flows._models import realnvp_flow
from gen_jax.flows._models import spline_flow
from gen_jax.flows._models import uniform_dequantize
from gen_jax.flows._models import VariationalDequantizer
from gen_jax.training import make_train_step
from gen_jax.training import Task
from gen_jax.training import TrainState

MODELS_2D = ("realnvp", "spline", "maf", "iaf")
IMAGE_MODELS = ("realnvp", "glow")
DEQUANTIZATIONS = ("uniform", "variational")
LEVELS = 256


@dataclasses.dataclass(frozen=True)
class Flow2DSpec:
  """A flow on [N, 2] points.

  Attributes:
    model: 'realnvp' (affine couplings + ActNorm), 'spline' (RQ spline couplings + LU
      affine), 'maf' or 'iaf' (masked autoregressive layers + ActNorm).
    num_layers: coupling / autoregressive layers.
    hidden: the conditioners' hidden widths.
    num_bins, bound: the splines' bins and half-width ('spline').
    learning_rate: Adam's step size.
    grad_clip: global gradient-norm clip (0: none).
    conditional: model p(x | label) with the one-hot label as the flow's context.
  """
  model: str = "realnvp"
  num_layers: int = 8
  hidden: tuple[int, ...] = (64, 64)
  num_bins: int = 8
  bound: float = 4.0
  learning_rate: float = 1e-3
  grad_clip: float = 10.0
  conditional: bool = False

  def __post_init__(self):
    validation.check_choice("model", self.model, MODELS_2D)
    validation.check_int("num_layers", self.num_layers, low=1)
    for h in self.hidden:
      validation.check_int("hidden", h, low=1)
    validation.check_int("num_bins", self.num_bins, low=1)
    validation.check_number("bound", self.bound, low=0.0, low_inclusive=False)
    validation.check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
    validation.check_number("grad_clip", self.grad_clip, low=0.0)

  def build(self, num_classes: int = 0):
    """The linen `Flow` module (conditioned on a one-hot [B, num_classes] context when
    `conditional`)."""
    if self.conditional:
      validation.check_int("num_classes", num_classes, low=2)
    kw = dict(num_layers=self.num_layers, hidden=tuple(self.hidden),
              context_features=num_classes if self.conditional else 0)
    if self.model == "realnvp":
      return realnvp_flow(2, **kw)
    if self.model == "spline":
      return spline_flow(2, num_bins=self.num_bins, bound=self.bound, **kw)
    return maf_flow(2, inverse_autoregressive=self.model == "iaf", **kw)


@dataclasses.dataclass(frozen=True)
class ImageFlowSpec:
  """A multi-scale flow on 8-bit images.

  Attributes:
    model: 'glow' or 'realnvp' (`MultiScaleFlow.kind`).
    num_levels, steps_per_level, channels, num_blocks: `MultiScaleFlow`'s size.
    dequantization: 'uniform' or 'variational' (`VariationalDequantizer`).
    alpha: the logit pre-processing's margin (> 0).
    learning_rate: Adam's step size.
    grad_clip: global gradient-norm clip (0: none).
    num_sample_images: size of the sample grid (class-conditional: row r of class r).
    conditional: model p(x | label) with the one-hot label as the flow's context.
  """
  model: str = "glow"
  num_levels: int = 2
  steps_per_level: int = 4
  channels: int = 64
  num_blocks: int = 1
  dequantization: str = "uniform"
  alpha: float = 1e-5
  learning_rate: float = 1e-3
  grad_clip: float = 50.0
  num_sample_images: int = 64
  conditional: bool = False

  def __post_init__(self):
    validation.check_choice("model", self.model, IMAGE_MODELS)
    validation.check_int("num_levels", self.num_levels, low=1)
    validation.check_int("steps_per_level", self.steps_per_level, low=1)
    validation.check_int("channels", self.channels, low=1)
    validation.check_int("num_blocks", self.num_blocks, low=0)
    validation.check_choice("dequantization", self.dequantization, DEQUANTIZATIONS)
    validation.check_number("alpha", self.alpha, low=0.0, high=0.5, low_inclusive=False,
                            high_inclusive=False)
    validation.check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
    validation.check_number("grad_clip", self.grad_clip, low=0.0)
    validation.check_int("num_sample_images", self.num_sample_images, low=1)

  def build(self, image_shape, num_classes: int = 0) -> MultiScaleFlow:
    if self.conditional:
      validation.check_int("num_classes", num_classes, low=2)
    return MultiScaleFlow(image_shape=tuple(image_shape), kind=self.model,
                          num_levels=self.num_levels, steps_per_level=self.steps_per_level,
                          channels=self.channels, num_blocks=self.num_blocks, alpha=self.alpha,
                          context_features=num_classes if self.conditional else 0)


def grid_labels(n: int, num_classes: int) -> np.ndarray:
  """Labels of an n-image sample grid laid out as `training.outputs.image_grid` does
  (ceil(sqrt(n)) columns): row r shows class r mod num_classes."""
  columns = int(math.ceil(math.sqrt(n)))
  return ((np.arange(n) // columns) % num_classes).astype(np.int32)


def _optimizer(learning_rate, grad_clip):
  adam = optax.adam(learning_rate)
  return optax.chain(optax.clip_by_global_norm(grad_clip), adam) if grad_clip else adam


def make_task(spec: Flow2DSpec | ImageFlowSpec, *, train_data, test_data,
              init_examples: int = 512) -> Task:
  """The family's `Task`. ActNorm layers are initialized from the first `init_examples`
  training examples (data-dependent init, Kingma & Dhariwal 2018)."""
  validation.check_int("init_examples", init_examples, low=1)
  if isinstance(spec, Flow2DSpec):
    return _task_2d(spec, train_data, test_data, init_examples)
  if isinstance(spec, ImageFlowSpec):
    return _task_images(spec, train_data, test_data, init_examples)
  raise validation.ArgumentError("spec", f"spec must be a Flow2DSpec or ImageFlowSpec, got "
                                 f"{type(spec).__name__}")


def _class_setup(spec, train_data, test_data):
  """(num_classes, train labels, test labels, training label frequencies) of a conditional
  spec; (0, None, None, None) otherwise."""
  if not spec.conditional:
    return 0, None, None, None
  train_labels = _labels_of(train_data, "train", train_data.num_classes)
  num_classes = validation.check_int("num_classes", train_data.num_classes, low=2)
  test_labels = _labels_of(test_data, "test", num_classes)
  return (num_classes, train_labels, test_labels,
          np.bincount(train_labels, minlength=num_classes) / len(train_labels))


def _labels_of(dataset, split: str, num_classes: int | None) -> np.ndarray:
  """The dataset's labels, present and in [0, num_classes) (range unchecked without a
  count: `_class_setup` then refuses the missing count)."""
  if "label" not in dataset:
    raise validation.ArgumentError(
        f"{split}_data", f"conditional=True needs labels: {split}_data has no 'label'")
  labels = np.asarray(dataset["label"])
  if num_classes is not None and (labels.min() < 0 or labels.max() >= num_classes):
    raise validation.ArgumentError(
        f"{split}_data", f"labels must be in [0, {num_classes}), got [{labels.min()}, "
        f"{labels.max()}]")
  return labels


def conditional_2d_functions(flow, num_classes: int, label_frequencies):
  """(log_prob(params, x, labels), marginal_log_prob(params, x), sample(params, key,
  labels)) of a conditional 2-D flow with one-hot label contexts; the marginal is
  log Σ_y π_y p(x | y) over all `num_classes` labels."""
  log_pi = jnp.log(jnp.asarray(label_frequencies, jnp.float32))
  onehot = lambda y: jax.nn.one_hot(y, num_classes, dtype=jnp.float32)

  def log_prob(params, x, labels):
    return flow.apply(params, x, onehot(labels), method="log_prob")

  def marginal_log_prob(params, x):
    per_class = jax.vmap(lambda y: log_prob(params, x, jnp.full(x.shape[:1], y)))(
        jnp.arange(num_classes))                                      # [K, N]
    return jax.nn.logsumexp(per_class + log_pi[:, None], axis=0)

  def sample(params, key, labels):
    return flow.apply(params, key, labels.shape[0], context=onehot(labels), method="sample")

  return log_prob, marginal_log_prob, sample


def _task_2d(spec, train_data, test_data, init_examples):
  num_classes, train_labels, test_labels, frequencies = _class_setup(spec, train_data,
                                                                     test_data)
  flow = spec.build(num_classes)
  context = lambda labels: jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  init_x = jnp.asarray(train_data["x"][:init_examples], jnp.float32)
  init_c = context(train_labels[:init_examples]) if spec.conditional else None
  test_x = np.asarray(test_data["x"], np.float32)

  def init(key):
    params = flow.init(key, init_x, init_c, method="log_prob")
    return TrainState.create({"model": params},
                             {"model": _optimizer(spec.learning_rate, spec.grad_clip)})

  def loss_fn(params, state, batch, key):
    del key
    c = context(batch["label"]) if spec.conditional else None
    nll = -flow.apply(params, batch["x"], c, method="log_prob")
    return nll.mean(), ({"nll": nll.mean()}, state.extra)

  def batched(fn, *arrays):
    return np.concatenate([np.asarray(fn(*(a[i:i + 5000] for a in arrays)))
                           for i in range(0, len(arrays[0]), 5000)])

  if not spec.conditional:
    log_prob = jax.jit(lambda p, x: flow.apply(p, x, method="log_prob"))  # compiled once

    def evaluate(state, key, *, final=False):
      del key, final
      params = state.eval_params("model")
      ll = batched(lambda x: log_prob(params, x), test_x)
      return {"test_nll": float(-ll.mean()), "nll_kind": "exact"}
  else:
    cond_log_prob, marginal_log_prob, _ = conditional_2d_functions(flow, num_classes,
                                                                   frequencies)
    cond_log_prob, marginal_log_prob = jax.jit(cond_log_prob), jax.jit(marginal_log_prob)

    def evaluate(state, key, *, final=False):
      del key, final
      params = state.eval_params("model")
      ll = batched(lambda x, y: cond_log_prob(params, x, y), test_x, test_labels)
      marginal = batched(lambda x: marginal_log_prob(params, x), test_x)
      return {"test_nll": float(-ll.mean()), "nll_kind": "exact", "conditional": True,
              "test_nll_marginal": float(-marginal.mean())}

  return Task(init=init, step=make_train_step(loss_fn), evaluate=evaluate,
              plot_keys=("loss",),
              data_keys=("x", "label") if spec.conditional else ("x",))


def _task_images(spec, train_data, test_data, init_examples):
  shape = tuple(train_data.image_shape)
  dims = math.prod(shape)
  num_classes, train_labels, test_labels, frequencies = _class_setup(spec, train_data,
                                                                     test_data)
  log_pi = jnp.log(jnp.asarray(frequencies, jnp.float32)) if spec.conditional else None
  flow = spec.build(shape, num_classes)
  context = lambda y: None if y is None else jax.nn.one_hot(y, num_classes, dtype=jnp.float32)
  deq = VariationalDequantizer(channels=min(spec.channels, 32), num_levels=LEVELS)
  variational = spec.dequantization == "variational"
  init_x = jnp.asarray(train_data.images[:init_examples], jnp.float32)
  init_y = train_labels[:init_examples] if spec.conditional else None
  test_x = np.asarray(test_data.images, np.float32)
  const = dims * math.log(LEVELS)

  def dequantize(params, x, key):
    if variational:
      return deq.apply(params["deq"], key, x)
    return uniform_dequantize(key, x, num_levels=LEVELS), 0.0

  def bound_nll(params, x, key, labels=None):
    """-(log p(u [| y]) - log q(u | x)) + D log 256 per example: nats of the 8-bit x, [B]."""
    u, log_q = dequantize(params, x, key)
    return -(flow.apply(params["flow"], u, context(labels), method="log_prob") - log_q) + const

  def marginal_bound_nll(params, x, key):
    """The same bound for the marginal log Σ_y π_y p(u | y) (one u for every class)."""
    u, log_q = dequantize(params, x, key)
    per_class = jax.vmap(lambda y: flow.apply(params["flow"], u, context(
        jnp.full(x.shape[:1], y)), method="log_prob"))(jnp.arange(num_classes))
    return -(jax.nn.logsumexp(per_class + log_pi[:, None], axis=0) - log_q) + const

  def init(key):
    k_flow, k_deq, k_u = jax.random.split(random.as_key(key), 3)
    params = {"flow": flow.init(k_flow, uniform_dequantize(k_u, init_x), context(init_y),
                                method="log_prob")}
    if variational:
      params["deq"] = deq.init(k_deq, k_u, init_x)
    return TrainState.create({"model": params},
                             {"model": _optimizer(spec.learning_rate, spec.grad_clip)})

  def loss_fn(params, state, batch, key):
    nll = bound_nll(params, batch["image"], key, batch.get("label"))
    bpd = nll.mean() / (dims * math.log(2))
    return bpd, ({"bpd": bpd}, state.extra)

  batch_nll = jax.jit(lambda p, x, k, y: bound_nll(p, x, k, y).sum())    # compiled once
  batch_marginal = jax.jit(lambda p, x, k, y: marginal_bound_nll(p, x, k).sum())

  def evaluate(state, key, *, final=False):
    del final
    params = state.eval_params("model")
    nll = _test_nll(batch_nll, params, test_x, test_labels, random.as_key(key))
    out = {"test_nll": nll, "test_bpd": nll / (dims * math.log(2)), "nll_kind": "bound"}
    if spec.conditional:
      marginal = _test_nll(batch_marginal, params, test_x, test_labels, random.as_key(key))
      out.update(conditional=True, test_nll_marginal=marginal,
                 test_bpd_marginal=marginal / (dims * math.log(2)))
    return out

  grid_y = grid_labels(spec.num_sample_images, num_classes) if spec.conditional else None

  def sample_grid(state, key):
    return flow.apply(state.eval_params("model")["flow"], key, spec.num_sample_images,
                      context=context(grid_y), method="sample")

  return Task(init=init, step=make_train_step(loss_fn), evaluate=evaluate,
              sample=jax.jit(sample_grid), plot_keys=("loss",),
              data_keys=("image", "label") if spec.conditional else ("image",))


def _test_nll(batch_nll, params, test_x, test_labels, key, batch_size=500):
  """Mean bound over the test set, one dequantization draw per example (the evaluation
  key folded with the batch index)."""
  total = 0.0
  for i, start in enumerate(range(0, len(test_x), batch_size)):
    y = None if test_labels is None else test_labels[start:start + batch_size]
    total += float(batch_nll(params, test_x[start:start + batch_size],
                             jax.random.fold_in(key, i), y))
  return total / len(test_x)
