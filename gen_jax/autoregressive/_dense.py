"""The family's `Task` for the dense models (NADE, MADE, the SPN) on flattened images:
Adam on the mean exact NLL; `evaluate` reports the shared vocabulary."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax import random
from gen_jax import validation
from gen_jax.autoregressive._likelihood import check_data
from gen_jax.autoregressive._likelihood import LEVELS
from gen_jax.autoregressive._likelihood import log_prob
from gen_jax.autoregressive._made import MADE
from gen_jax.autoregressive._made import made_log_prob
from gen_jax.autoregressive._made import made_sample_fast
from gen_jax.autoregressive._nade import NADE
from gen_jax.autoregressive._nade import nade_sample_fast
from gen_jax.autoregressive._sampling import sample_naive
from gen_jax.autoregressive._spn import SPN
from gen_jax.autoregressive._spn import spn_sample
from gen_jax.training import make_train_step
from gen_jax.training import map_batches
from gen_jax.training import Task
from gen_jax.training import TrainState

DENSE_MODELS = ("nade", "made", "spn")


@dataclasses.dataclass(frozen=True)
class DenseARSpec:
  """NADE, MADE or a random region-graph SPN over the dataset's flattened 'image' key.

  Attributes:
    model: 'nade', 'made' or 'spn'.
    distribution: 'bernoulli' (binarized pixels; all models) or 'categorical' (256 levels;
      MADE only).
    binarize: for 'bernoulli': 'dynamic' (fresh Bernoulli(intensity) draws per step, the
      test set once with a fixed key) or 'none' (the data are binary already).
    hidden_size: NADE's H.
    hidden_sizes: MADE's hidden widths.
    num_masks: MADE's ensemble size (order/connectivity-agnostic training when > 1).
    order_agnostic, connectivity_agnostic: MADE's mask sampling (see `MADE`).
    spn_depth, spn_repetitions, spn_sums, spn_inputs: the SPN's L, R, S, I.
    learning_rate: Adam's step size.
    num_sample_images: size of the sample grid.
  """
  model: str = "nade"
  distribution: str = "bernoulli"
  binarize: str = "dynamic"
  hidden_size: int = 500
  hidden_sizes: Sequence[int] = (500,)
  num_masks: int = 1
  order_agnostic: bool = False
  connectivity_agnostic: bool = False
  spn_depth: int = 4
  spn_repetitions: int = 10
  spn_sums: int = 10
  spn_inputs: int = 10
  learning_rate: float = 1e-3
  num_sample_images: int = 64

  def __post_init__(self):
    validation.check_choice("model", self.model, DENSE_MODELS)
    validation.check_choice("distribution", self.distribution, ("bernoulli", "categorical"))
    if self.distribution == "categorical" and self.model != "made":
      raise validation.ArgumentError("distribution", f"distribution must be 'bernoulli' for "
                                     f"model={self.model!r} (categorical: made only), got "
                                     f"{self.distribution!r}")
    validation.check_choice("binarize", self.binarize, ("dynamic", "none"))
    for name in ("hidden_size", "num_masks", "spn_depth", "spn_repetitions", "spn_sums",
                 "spn_inputs", "num_sample_images"):
      validation.check_int(name, getattr(self, name), low=1)
    for i, h in enumerate(self.hidden_sizes):
      validation.check_int(f"hidden_sizes[{i}]", h, low=1)
    validation.check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)

  def module(self, num_dims: int):
    if self.model == "nade":
      return NADE(num_dims=num_dims, hidden_size=self.hidden_size)
    if self.model == "made":
      return MADE(num_dims=num_dims, hidden_sizes=tuple(self.hidden_sizes),
                  distribution=self.distribution, num_masks=self.num_masks,
                  order_agnostic=self.order_agnostic,
                  connectivity_agnostic=self.connectivity_agnostic)
    return SPN(num_dims=num_dims, depth=self.spn_depth, num_repetitions=self.spn_repetitions,
               num_sums=self.spn_sums, num_inputs=self.spn_inputs)


def dense_log_prob(model, params, x: jax.Array) -> jax.Array:
  """Exact log p(x) [B] of a NADE, MADE (its ensemble) or SPN; x [B, D]."""
  if isinstance(model, MADE):
    return made_log_prob(model, params, x)
  if isinstance(model, SPN):
    return model.apply(params, x)
  return log_prob(model.apply(params, x), x)


def dense_sample(key: jax.Array, model, params, num: int, *, fast: bool = True) -> jax.Array:
  """num samples [num, D] (0/1 or levels) with the model's fast sampler, or the naive one
  (NADE / MADE: D full passes; an SPN has only its one-pass ancestral sampler)."""
  if isinstance(model, SPN):
    return spn_sample(key, model, params, num)
  if fast:
    return (made_sample_fast(key, model, params, num) if isinstance(model, MADE)
            else nade_sample_fast(key, model, params, num))
  if isinstance(model, MADE):
    return sample_naive(key, lambda v: model.apply(params, v, mask_index=0),
                        (num, model.num_dims), distribution=model.distribution,
                        order=model.order(0), num_levels=model.num_levels)
  return sample_naive(key, lambda v: model.apply(params, v), (num, model.num_dims),
                      order=model.order())


def make_dense_task(spec: DenseARSpec, *, train_data, test_data) -> Task:
  """The family's `Task` for NADE / MADE / SPN: Adam on the mean exact NLL of each batch
  (MADE with several masks: one mask per step, drawn from the step key); `evaluate` reports
  `test_nll` (nats per image), `test_bpd`, `nll_kind` 'exact'; `sample` draws the grid
  with the fast sampler."""
  shape = tuple(train_data.image_shape)
  dims = math.prod(shape)
  model = spec.module(dims)
  bits = spec.distribution == "bernoulli"
  dynamic = bits and spec.binarize == "dynamic"
  test_x = np.asarray(test_data.images, np.float32).reshape(-1, dims)
  if dynamic:
    test_x = np.asarray(random.bernoulli(jax.random.key(7), test_x))
  elif not bits:
    test_x = np.round(test_x * (LEVELS - 1))
  check_data(test_x, distribution=spec.distribution, name="test images")

  def to_x(images, key):
    x = images.reshape(images.shape[0], dims)
    if dynamic:
      return random.bernoulli(random.example_keys(key, x.shape[0]), x)
    return x if bits else jnp.round(x * (LEVELS - 1))

  def init(key):
    params = model.init(key, jnp.zeros((1, dims), jnp.float32))
    return TrainState.create({"model": params}, {"model": optax.adam(spec.learning_rate)})

  def loss_fn(params, state, batch, key):
    k_data, k_mask = jax.random.split(random.as_key(key))
    x = to_x(batch["image"], k_data)
    if isinstance(model, MADE):
      ll = log_prob(model.apply(params, x, key=k_mask), x, distribution=spec.distribution)
    else:
      ll = dense_log_prob(model, params, x)
    nll = -ll.mean()
    return nll, ({"nll": nll, "bpd": nll / (dims * math.log(2))}, state.extra)

  def evaluate(state, key, *, final=False):
    del key, final  # exact and deterministic
    params = state.eval_params("model")
    ll = map_batches(lambda x: dense_log_prob(model, params, x), test_x, batch_size=250)
    nll = float(-np.mean(ll))
    return {"test_nll": nll, "test_bpd": nll / (dims * math.log(2)), "nll_kind": "exact"}

  def sample_grid(state, key):
    x = dense_sample(key, model, state.eval_params("model"), spec.num_sample_images)
    x = x.reshape(spec.num_sample_images, *shape)
    return x if bits else x / (LEVELS - 1)

  return Task(init=init, step=make_train_step(loss_fn), evaluate=evaluate,
              sample=jax.jit(sample_grid), plot_keys=("loss",), data_keys=("image",))
