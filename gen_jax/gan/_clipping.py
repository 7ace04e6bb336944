"""WGAN weight clipping (Arjovsky et al. 2017, Alg. 1) as a params map and an optax transform."""

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from gen_jax import validation


def clip_params(params: chex.ArrayTree, clip: float) -> chex.ArrayTree:
  """Clamps every leaf of `params` to [−clip, clip] (the WGAN critic's compact set W).

  Apply to the critic's params only (e.g. `variables["params"]`; batch statistics are
  not weights). Use `optax.masked` / a sub-tree to exclude leaves.
  """
  validation.check_number("clip", clip, low=0.0, low_inclusive=False)
  return jax.tree.map(lambda p: jnp.clip(p, -clip, clip), params)


class WeightClippingState(NamedTuple):
  """Stateless."""


def weight_clipping(clip: float) -> optax.GradientTransformation:
  """An optax transform whose updates land the params in [−clip, clip].

  Clipping acts on the *parameters*, not on the updates, so `update` needs `params`:
  it returns u' = clip(p + u) − p, so that `optax.apply_updates(p, u')` equals
  clip(p + u, −c, c) up to the rounding of an addition (exact when |p| ≲ c, which is
  the steady state once the params have been clipped). Put it last in a chain:
  `optax.chain(optax.rmsprop(5e-5), weight_clipping(0.01))` (the paper's RMSProp,
  c = 0.01). Because p + (t − p) can round past t by an ulp in floating point, the
  update is nudged by one ulp where needed so that the applied params are guaranteed to
  lie in [−c, c] (not merely up to rounding).

  Args:
    clip: c > 0.
  Returns:
    an `optax.GradientTransformation`; `update(updates, state, params)` requires params.
  """
  validation.check_number("clip", clip, low=0.0, low_inclusive=False)

  def init_fn(params):
    del params
    return WeightClippingState()

  def leaf_update(u, p):
    upper = jnp.asarray(clip, p.dtype)
    target = jnp.clip(p + u.astype(p.dtype), -upper, upper)
    delta = target - p
    applied = p + delta
    delta = jnp.where(applied > upper, jnp.nextafter(delta, jnp.asarray(-jnp.inf, p.dtype)),
                      delta)
    delta = jnp.where(applied < -upper, jnp.nextafter(delta, jnp.asarray(jnp.inf, p.dtype)),
                      delta)
    return delta.astype(u.dtype)

  def update_fn(updates, state, params=None):
    if params is None:
      raise validation.ArgumentError(
          "params", "weight_clipping needs params: call `update(updates, state, params)`, "
          "got params=None")
    return jax.tree.map(leaf_update, updates, params), state

  return optax.GradientTransformation(init_fn, update_fn)
