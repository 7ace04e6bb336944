"""Train state: a pytree the trainer checkpoints, shards and donates."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
  """Single-player state.

  Attributes:
    step: int32 scalar, number of completed optimizer steps.
    params: model parameters.
    opt_state: optax state of `params`.
    extra: non-gradient variables (batch statistics, an EMA codebook, BEGAN's k_t, ...).
  """
  step: jax.Array
  params: Any
  opt_state: Any
  extra: Any = None

  @classmethod
  def create(cls, params: Any, optimizer: optax.GradientTransformation,
             extra: Any = None) -> "TrainState":
    return cls(step=jnp.zeros((), jnp.int32), params=params, opt_state=optimizer.init(params),
               extra=extra)
