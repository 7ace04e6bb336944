"""Updates of parameter groups, and the single-group train step built from them.

`apply_gradients` is the one place where gradients become new parameters (optional pmean
over a mapped axis, the group's optimizer, the update, the EMA, the gradient norm);
`minimize` is the loss-to-update form of it. Every family's step calls one of the two, for
each player of a game as for the single network of a VAE. Nothing here is jitted: the loop
jits the whole step once.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import optax

from gen_jax.training.state import TrainState

# loss_fn(params, state, batch, key) -> (scalar loss, (metrics: dict of scalars, new_extra));
# `state` gives the step (for schedules such as KL warm-up) and the current `extra`.
LossFn = Callable[[Any, Any, Any, jax.Array], tuple[jax.Array, tuple[dict, Any]]]


def _groups(group: str | Sequence[str]) -> tuple[str, ...]:
  return (group,) if isinstance(group, str) else tuple(group)


def _select(tree: dict[str, Any], group: str | Sequence[str]) -> Any:
  return tree[group] if isinstance(group, str) else {g: tree[g] for g in group}


def apply_gradients(state: TrainState, group: str | Sequence[str], grads: Any, *,
                    axis_name: str | None = None) -> tuple[TrainState, jax.Array]:
  """One optimizer update of a parameter group from its gradients.

  Args:
    state: the train state.
    group: a group name, or several (then `grads` is {group: gradients}; each group's own
      optimizer updates it).
    grads: gradients with the structure of the group's parameters.
    axis_name: inside pmap/shard_map, average the gradients over this axis first
      (`lax.pmean`), so every device applies the update of the global batch.
  Returns:
    (new state, global norm of the (averaged) gradients). The step counter is unchanged:
    a train step increments it once, however many groups it updates.
  """
  if axis_name is not None:
    grads = jax.lax.pmean(grads, axis_name)
  norm = optax.global_norm(grads)
  params, opt_state = dict(state.params), dict(state.opt_state)
  ema = None if state.ema is None else dict(state.ema)
  per_group = {group: grads} if isinstance(group, str) else grads
  for g in _groups(group):
    updates, opt_state[g] = state.optimizer(g).update(per_group[g], opt_state[g], params[g])
    params[g] = optax.apply_updates(params[g], updates)
    if ema is not None and g in ema:
      ema[g] = optax.incremental_update(params[g], ema[g], 1.0 - state.ema_decay)
  return state.replace(params=params, opt_state=opt_state, ema=ema), norm


def minimize(state: TrainState, group: str | Sequence[str], loss_fn: Callable[..., Any], *,
             has_aux: bool = False, axis_name: str | None = None
             ) -> tuple[TrainState, jax.Array, Any, jax.Array]:
  """One gradient step on `loss_fn(params of group)`.

  Args:
    state: the train state.
    group: a group name, or several (then loss_fn receives {group: params}).
    loss_fn: params -> scalar loss, or (loss, aux) with `has_aux`.
    has_aux: whether loss_fn returns auxiliary outputs.
    axis_name: pmean gradients and loss over this mapped axis (see `apply_gradients`).
  Returns:
    (new state, loss, aux (None without has_aux), gradient norm).
  """
  value, grads = jax.value_and_grad(loss_fn, has_aux=has_aux)(_select(state.params, group))
  loss, aux = value if has_aux else (value, None)
  if axis_name is not None:
    loss = jax.lax.pmean(loss, axis_name)
  state, norm = apply_gradients(state, group, grads, axis_name=axis_name)
  return state, loss, aux, norm


def make_train_step(loss_fn: LossFn, *, group: str = "model", axis_name: str | None = None):
  """Builds the train step of a single-group model: one `minimize` of `loss_fn`.

  With `axis_name` set the step is written for `jax.pmap`/`shard_map` over that axis:
  gradients, loss and metrics are averaged with `lax.pmean`, so every device applies the
  update of the global batch (equal shards make this the global-batch mean).

  Args:
    loss_fn: (params, state, batch, key) -> (loss, (metrics, new extra)).
    group: the parameter group it trains.
    axis_name: the mapped axis, or None under sharded jit.
  Returns:
    step(state, batch, key) -> (state, metrics) with metrics['loss'] and
    metrics['grad_norm'] included.
  """

  def step(state: TrainState, batch: Any, key: jax.Array):
    new_state, loss, (metrics, extra), norm = minimize(
        state, group, lambda p: loss_fn(p, state, batch, key), has_aux=True,
        axis_name=axis_name)
    if axis_name is not None:
      metrics = jax.lax.pmean(metrics, axis_name)
    metrics = {**metrics, "loss": loss, "grad_norm": norm}
    return new_state.replace(step=state.step + 1, extra=extra), metrics

  return step
