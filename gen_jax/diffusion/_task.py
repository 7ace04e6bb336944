"""The diffusion family's entry point: a typed spec and `make_task(spec, model, ...) -> Task`.

The model is a linen module called as `model(x_t, t, labels=None, *, train=False)` (a
'dropout' rng in training mode) returning eps (or x0 / v, per `prediction`), with the last
axis doubled ([eps, v]) under the hybrid loss's learned variances. Training draws one t and
eps per example (`ddpm_eps_loss` / `hybrid_loss`); evaluation and sampling use the EMA
parameters (`state.eval_params("model")`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gen_jax import nets
from gen_jax import training
from gen_jax import validation
from gen_jax.diffusion import _objectives
from gen_jax.diffusion import _samplers
from gen_jax.diffusion._schedule import Schedule
from gen_jax.diffusion._schedule import cosine_schedule
from gen_jax.diffusion._schedule import linear_schedule

SCHEDULES = ("linear", "cosine")
LOSSES = ("simple", "hybrid")
DATA_TRANSFORMS = ("identity", "image")


@dataclasses.dataclass(frozen=True)
class DiffusionSpec:
  """A diffusion model's training and sampling choices (field names are config keys).

  Attributes:
    num_timesteps: T.
    schedule: "linear" (beta_start..beta_end) or "cosine".
    beta_start, beta_end: the linear schedule's ends.
    loss: "simple" (L_simple with `prediction`) or "hybrid" (L_simple + vlb_weight L_vlb,
      learned variances; eps-prediction).
    prediction: "eps", "x0" or "v" (simple loss).
    vlb_weight: lambda of the hybrid loss.
    sample_variance: reverse variance with fixed variances, "beta" or "posterior" (the
      hybrid loss samples with its learned ones).
    decoder: L_0 of the bound, "discretized" (256-level images) or "gaussian" (continuous).
    clip_denoised: clip the predicted x0 to [-1, 1] when sampling and in the bound.
    learning_rate, grad_clip: Adam with global-norm clipping (0: none).
    ema_decay: decay of the parameter EMA used for evaluation and sampling.
    data_key: the batch key holding the data.
    data_transform: "identity", or "image" (x in [0, 1] -> 2x - 1 in [-1, 1]).
    num_classes: > 0 for class-conditional training on batch['label'].
    label_dropout: probability of replacing a label by the null label num_classes
      (classifier-free guidance training, Ho & Salimans 2022).
  """
  num_timesteps: int = 1000
  schedule: str = "linear"
  beta_start: float = 1e-4
  beta_end: float = 0.02
  loss: str = "simple"
  prediction: str = "eps"
  vlb_weight: float = 0.001
  sample_variance: str = "beta"
  decoder: str = "discretized"
  clip_denoised: bool = False
  learning_rate: float = 2e-4
  grad_clip: float = 1.0
  ema_decay: float = 0.9999
  data_key: str = "image"
  data_transform: str = "image"
  num_classes: int = 0
  label_dropout: float = 0.1

  def __post_init__(self):
    validation.check_int("num_timesteps", self.num_timesteps, low=1)
    validation.check_choice("schedule", self.schedule, SCHEDULES)
    validation.check_number("beta_start", self.beta_start, low=0, high=1,
                            low_inclusive=False, high_inclusive=False)
    validation.check_number("beta_end", self.beta_end, low=self.beta_start, high=1,
                            high_inclusive=False)
    validation.check_choice("loss", self.loss, LOSSES)
    validation.check_choice("prediction", self.prediction, _objectives.PREDICTIONS)
    if self.loss == "hybrid" and self.prediction != "eps":
      raise validation.ArgumentError("prediction", "prediction must be 'eps' with "
                                     f"loss='hybrid', got {self.prediction!r}")
    validation.check_number("vlb_weight", self.vlb_weight, low=0)
    validation.check_choice("sample_variance", self.sample_variance, ("beta", "posterior"))
    validation.check_choice("decoder", self.decoder, _objectives.DECODERS)
    validation.check_number("learning_rate", self.learning_rate, low=0, low_inclusive=False)
    validation.check_number("grad_clip", self.grad_clip, low=0)
    validation.check_number("ema_decay", self.ema_decay, low=0, high=1, low_inclusive=False,
                            high_inclusive=False)
    validation.check_choice("data_transform", self.data_transform, DATA_TRANSFORMS)
    validation.check_int("num_classes", self.num_classes, low=0)
    validation.check_number("label_dropout", self.label_dropout, low=0, high=1)

  @property
  def variance(self) -> str:
    """The reverse variance the samplers and the bound use."""
    return "learned" if self.loss == "hybrid" else self.sample_variance

  def make_schedule(self) -> Schedule:
    if self.schedule == "cosine":
      return cosine_schedule(self.num_timesteps)
    return linear_schedule(self.num_timesteps, beta_start=self.beta_start,
                           beta_end=self.beta_end)

  def check_schedule(self, schedule: Schedule) -> Schedule:
    """`schedule` has the T this model is trained with (a model's timestep embedding only
    knows t < num_timesteps); raises ArgumentError naming 'schedule' otherwise."""
    if not isinstance(schedule, Schedule):
      raise validation.ArgumentError("schedule", f"schedule must be a Schedule, got "
                                     f"{type(schedule).__name__}")
    if schedule.num_timesteps != self.num_timesteps:
      raise validation.ArgumentError(
          "schedule", f"schedule must have the model's num_timesteps = {self.num_timesteps} "
          f"steps, got a schedule of T = {schedule.num_timesteps}")
    return schedule

  def to_model_space(self, x: jax.Array) -> jax.Array:
    """Data as the batch holds it -> the space the diffusion runs in."""
    return 2.0 * x - 1.0 if self.data_transform == "image" else x

  def to_data_space(self, x: jax.Array) -> jax.Array:
    return (x + 1.0) / 2.0 if self.data_transform == "image" else x


def model_eps_fn(spec: DiffusionSpec, model: nn.Module, params: Any,
                 collections: Any = None, labels: jax.Array | None = None, *,
                 guidance_scale: float = 1.0) -> Callable:
  """eps_fn(x_t, t) of a trained model in evaluation mode, for the samplers and the bound:
  x0/v predictions converted to eps; with labels and guidance_scale != 1, classifier-free
  guidance against the null label (`guided_eps_fn`)."""
  collections = collections or {}
  schedule = spec.make_schedule()

  def raw(lab):
    return lambda x, t: nets.apply(model, params, collections, x, t, lab, train=False)[0]

  if labels is None or guidance_scale == 1.0:
    fn = raw(labels)
  else:
    null = jnp.full_like(labels, spec.num_classes)
    fn = _samplers.guided_eps_fn(raw(labels), raw(null), guidance_scale)
  return _objectives.eps_from_prediction(fn, schedule, prediction=spec.prediction)


def make_task(spec: DiffusionSpec, model: nn.Module, *, data_shape: tuple[int, ...],
              evaluate: Callable | None = None, sample: Callable | None = None,
              plot_keys: tuple[str, ...] = ("loss",)) -> training.Task:
  """The Task of a diffusion model: init (Adam, EMA), the step (`ddpm_eps_loss` or
  `hybrid_loss`, batch mean) and the experiment's evaluate / sample.

  Args:
    spec: the `DiffusionSpec`.
    model: the linen noise model (module docstring for its call signature).
    data_shape: one example's shape (without the batch axis).
    evaluate, sample: the Task's (state, key, ...) functions, from the experiment.
    plot_keys: metrics drawn in the loss curve.
  """
  if not isinstance(spec, DiffusionSpec):
    raise validation.ArgumentError("spec", f"spec must be a DiffusionSpec, got "
                                   f"{type(spec).__name__}")
  schedule = spec.make_schedule()
  data_shape = tuple(int(d) for d in data_shape)
  conditional = spec.num_classes > 0

  def init(key):
    k_params, k_dropout = jax.random.split(key)
    x = jnp.zeros((1,) + data_shape, jnp.float32)
    t = jnp.zeros((1,), jnp.int32)
    labels = jnp.zeros((1,), jnp.int32) if conditional else None
    variables = model.init({"params": k_params, "dropout": k_dropout}, x, t, labels,
                           train=False)
    params, collections = nets.split_variables(variables)
    tx = optax.adam(spec.learning_rate)
    if spec.grad_clip:
      tx = optax.chain(optax.clip_by_global_norm(spec.grad_clip), tx)
    return training.TrainState.create(params={"model": params}, optimizers={"model": tx},
                                      extra=collections, ema_decay=spec.ema_decay)

  def loss_fn(params, state, batch, key):
    x0 = spec.to_model_space(batch[spec.data_key].astype(jnp.float32))
    k_loss, k_dropout, k_label = jax.random.split(key, 3)
    labels = None
    if conditional:
      labels = batch["label"].astype(jnp.int32)
      drop = jax.random.bernoulli(k_label, spec.label_dropout, labels.shape)
      labels = jnp.where(drop, spec.num_classes, labels)

    def model_fn(x, t):
      return nets.apply(model, params, state.extra, x, t, labels, train=True,
                        rngs={"dropout": k_dropout})[0]

    if spec.loss == "hybrid":
      loss, terms = _objectives.hybrid_loss(k_loss, model_fn, x0, schedule,
                                            vlb_weight=spec.vlb_weight, decoder=spec.decoder)
      metrics = {"mse": terms["mse"].mean(), "vlb": terms["vlb"].mean()}
    else:
      loss = _objectives.ddpm_eps_loss(k_loss, model_fn, x0, schedule,
                                       prediction=spec.prediction)
      metrics = {"mse": loss.mean()}
    return loss.mean(), (metrics, state.extra)

  data_keys = (spec.data_key, "label") if conditional else (spec.data_key,)
  return training.Task(init=init, step=training.make_train_step(loss_fn),
                       evaluate=evaluate, sample=sample, plot_keys=plot_keys,
                       data_keys=data_keys)
