"""The one train state of every family: named parameter groups, their optimizers, extras, EMA.

A model with one network has one group (by convention "model"); a game has several, each
with its own optimizer: a GAN's "g" and "d", a BiGAN's "g", "e" and "d", a CycleGAN's two
translators and two critics. `extra` holds what is not trained by gradients (batch
statistics, BEGAN's k_t, an EMA codebook, persistent Gibbs chains); `ema` holds exponential
moving averages of the parameters of the groups that keep one (diffusion and GANs sample from
them). The optimizers and the EMA decay are static fields: part of the tree's structure, not
leaves, so a state is checkpointed, sharded and donated as a pytree of arrays only.
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
  """State of one training run.

  Attributes:
    step: int32 scalar, completed steps of the run (the loop's counter).
    params: {group: parameters}.
    opt_state: {group: optax state of that group's parameters}.
    extra: non-gradient variables (any pytree, or None).
    ema: {group: exponential moving average of its parameters} for the groups in
      `ema_groups`, else None.
    optimizers: ((group, optax transformation), ...), static.
    ema_decay: decay of the parameter EMA (static); None when no group keeps one.
  """
  step: jax.Array
  params: dict[str, Any]
  opt_state: dict[str, Any]
  extra: Any = None
  ema: dict[str, Any] | None = None
  optimizers: tuple[tuple[str, optax.GradientTransformation], ...] = flax.struct.field(
      pytree_node=False, default=())
  ema_decay: float | None = flax.struct.field(pytree_node=False, default=None)

  @classmethod
  def create(cls, params: Mapping[str, Any],
             optimizers: Mapping[str, optax.GradientTransformation], *, extra: Any = None,
             ema_decay: float | None = None,
             ema_groups: tuple[str, ...] | None = None) -> "TrainState":
    """A step-0 state.

    Args:
      params: {group: parameters}; every group needs an optimizer.
      optimizers: {group: optax transformation}.
      extra: non-gradient variables.
      ema_decay: d in (0, 1) to keep EMA parameters, ema ← d·ema + (1 − d)·params after
        every update of the group (Polyak averaging; 0.9999 in DDPM); None for none.
      ema_groups: groups that keep an EMA (default: all, when ema_decay is set).
    Raises:
      ValueError: naming the groups without an optimizer (or vice versa), or a decay
        outside (0, 1).
    """
    params, optimizers = dict(params), dict(optimizers)
    if set(params) != set(optimizers):
      raise ValueError(f"params and optimizers must name the same groups, got params "
                       f"{sorted(params)} and optimizers {sorted(optimizers)}")
    ema = None
    if ema_decay is not None:
      if not 0.0 < ema_decay < 1.0:
        raise ValueError(f"ema_decay must be in (0, 1), got {ema_decay}")
      groups = tuple(params) if ema_groups is None else tuple(ema_groups)
      unknown = sorted(set(groups) - set(params))
      if unknown:
        raise ValueError(f"ema_groups {unknown} are not parameter groups {sorted(params)}")
      ema = {g: jax.tree.map(jnp.copy, params[g]) for g in groups}
    elif ema_groups:
      raise ValueError("ema_groups needs ema_decay")
    return cls(step=jnp.zeros((), jnp.int32), params=params,
               opt_state={g: optimizers[g].init(p) for g, p in params.items()},
               extra=extra, ema=ema, optimizers=tuple(sorted(optimizers.items())),
               ema_decay=None if ema_decay is None else float(ema_decay))

  def optimizer(self, group: str) -> optax.GradientTransformation:
    """The optax transformation of `group`."""
    for name, tx in self.optimizers:
      if name == group:
        return tx
    raise KeyError(f"no parameter group {group!r}; groups: {[n for n, _ in self.optimizers]}")

  def eval_params(self, group: str, *, use_ema: bool = True) -> Any:
    """The parameters to evaluate and sample with: the group's EMA when it keeps one and
    `use_ema`, else the trained parameters."""
    if use_ema and self.ema is not None and group in self.ema:
      return self.ema[group]
    return self.params[group]
