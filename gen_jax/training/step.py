"""Pure train steps: `step(state, batch, key) -> (state, metrics)`, not jitted here."""

from __future__ import annotations

from typing import Any, Callable

import jax
import optax

from gen_jax.training.state import TrainState

# loss_fn(params, state, batch, key) -> (scalar loss, (metrics: dict of scalars, new_extra));
# `state` gives the step (for schedules such as KL warm-up) and the current `extra`.
LossFn = Callable[[Any, Any, Any, jax.Array], tuple[jax.Array, tuple[dict, Any]]]


def make_train_step(loss_fn: LossFn, optimizer: optax.GradientTransformation, *,
                    axis_name: str | None = None):
  """Builds one gradient step of `loss_fn` with `optimizer`.

  With `axis_name` set the step is written for `jax.pmap`/`shard_map` over that axis:
  gradients, loss and metrics are averaged with `lax.pmean`, so every device applies the
  update of the global batch (equal shards make this the global-batch mean).

  Returns:
    step(state, batch, key) -> (state, metrics) with metrics['loss'] and
    metrics['grad_norm'] included.
  """

  def step(state: TrainState, batch: Any, key: jax.Array):
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, (metrics, extra)), grads = grad_fn(state.params, state, batch, key)
    if axis_name is not None:
      grads, loss, metrics = jax.lax.pmean((grads, loss, metrics), axis_name)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {**metrics, "loss": loss, "grad_norm": optax.global_norm(grads)}
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                              extra=extra)
    return new_state, metrics

  return step
