"""p(x) = Π_d p(x_d): one Bernoulli (binary pixels) or one 256-way categorical (8-bit
pixels) per dimension, fitted by stochastic gradient descent on the exact log-likelihood.

The maximum-likelihood solution is known in closed form (each p(x_d) is the training
frequency of x_d), which makes this family the substrate's reference model: its test NLL
checks the loop, the data pipeline and the evaluation against a NumPy computation, and the
autoregressive family reports it beside NADE, MADE and PixelCNN.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax import losses
from gen_jax import random
from gen_jax import validation
from gen_jax.training import make_train_step
from gen_jax.training import map_batches
from gen_jax.training import Task
from gen_jax.training import TrainState

LIKELIHOODS = ("bernoulli", "categorical")
LEVELS = 256


@dataclasses.dataclass(frozen=True)
class FactorizedSpec:
  """A factorized density over the dataset's 'image' key.

  Attributes:
    likelihood: 'bernoulli' (pixels in {0, 1}; [0, 1] intensities are binarized, see
      `binarize`) or 'categorical' (pixels k/255, k = 0..255).
    binarize: for 'bernoulli': 'dynamic' (fresh Bernoulli(intensity) draws per step, the
      test set once with a fixed key) or 'none' (the data are binary already).
    learning_rate: Adam's step size.
    num_sample_images: size of the sample grid.
  """
  likelihood: str = "bernoulli"
  binarize: str = "dynamic"
  learning_rate: float = 0.05
  num_sample_images: int = 64

  def __post_init__(self):
    validation.check_choice("likelihood", self.likelihood, LIKELIHOODS)
    validation.check_choice("binarize", self.binarize, ("dynamic", "none"))
    validation.check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
    validation.check_int("num_sample_images", self.num_sample_images, low=1)


def _levels(x: jax.Array) -> jax.Array:
  return jnp.round(x.reshape(x.shape[0], -1) * (LEVELS - 1)).astype(jnp.int32)


def log_prob(params: dict, x: jax.Array, *, likelihood: str) -> jax.Array:
  """Exact log p(x) in nats, [B].

  Args:
    params: {'logits': [D] (Bernoulli) or [D, 256] (categorical)}.
    x: [B, ...] with D values per example: 0/1 for 'bernoulli', k/255 for 'categorical'.
    likelihood: 'bernoulli' or 'categorical'.
  """
  logits = params["logits"]
  flat = x.reshape(x.shape[0], -1)
  validation.check_shape("x (flattened)", flat, (None, logits.shape[0]))
  if likelihood == "bernoulli":
    return losses.bernoulli_log_likelihood(flat, jnp.broadcast_to(logits, flat.shape))
  log_p = jax.nn.log_softmax(logits, axis=-1)                      # [D, 256]
  return jnp.take_along_axis(log_p[None], _levels(x)[..., None], -1).sum((1, 2))


def sample(key: jax.Array, params: dict, num: int, shape: tuple[int, ...], *,
           likelihood: str) -> jax.Array:
  """num draws from the model, float32 [num, *shape] in [0, 1]."""
  logits = params["logits"]
  if likelihood == "bernoulli":
    x = random.bernoulli(key, jnp.broadcast_to(jax.nn.sigmoid(logits), (num, logits.shape[0])))
  else:
    x = jax.random.categorical(random.as_key(key), logits, shape=(num, logits.shape[0]))
    x = x.astype(jnp.float32) / (LEVELS - 1)
  return x.reshape(num, *shape)


def make_task(spec: FactorizedSpec, *, train_data, test_data) -> Task:
  """The family's `Task`: Adam on the mean NLL of each batch; the evaluation reports the
  shared vocabulary (`test_nll` in nats per example, `test_bpd`, `nll_kind` "exact")."""
  shape = tuple(train_data.image_shape)
  dims = math.prod(shape)
  binarize = spec.likelihood == "bernoulli" and spec.binarize == "dynamic"
  test_x = np.asarray(test_data.images, np.float32)
  if binarize:  # the same bits for every run and seed
    test_x = np.asarray(random.bernoulli(jax.random.key(7), test_x))

  def init(key):
    del key  # uniform start: every logit 0
    size = (dims,) if spec.likelihood == "bernoulli" else (dims, LEVELS)
    return TrainState.create({"model": {"logits": jnp.zeros(size, jnp.float32)}},
                             {"model": optax.adam(spec.learning_rate)})

  def loss_fn(params, state, batch, key):
    x = batch["image"]
    if binarize:
      x = random.bernoulli(random.example_keys(key, x.shape[0]), x)
    nll = -log_prob(params, x, likelihood=spec.likelihood)
    return nll.mean(), ({"nll": nll.mean()}, state.extra)

  def evaluate(state, key, *, final=False):
    del key, final  # exact and deterministic
    params = state.eval_params("model")
    ll = map_batches(lambda x: log_prob(params, x, likelihood=spec.likelihood), test_x,
                     batch_size=500)
    nll = float(-ll.mean())
    return {"test_nll": nll, "test_bpd": nll / (dims * math.log(2)), "nll_kind": "exact"}

  def sample_grid(state, key):
    return sample(key, state.eval_params("model"), spec.num_sample_images, shape,
                  likelihood=spec.likelihood)

  return Task(init=init, step=make_train_step(loss_fn), evaluate=evaluate,
              sample=jax.jit(sample_grid), plot_keys=("loss",))
