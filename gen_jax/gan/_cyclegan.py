"""CycleGAN (Zhu et al. 2017): unpaired translation X <-> Y with cycle consistency.

Two translators G: X -> Y and F: Y -> X, two critics D_X and D_Y, least-squares
adversarial losses (the paper's choice, §4), the cycle loss of Eq. 2 weighted by λ and the
identity loss ‖G(y) − y‖₁ + ‖F(x) − x‖₁ weighted by λ_id (§5.2; 0.5·λ in the code). The
paper's history buffer of 50 generated images for the critics is omitted (the critics see
the current batch's translations).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gen_jax import losses
from gen_jax.gan._trainer import GANState

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class CycleGAN:
  """Players and weights of a CycleGAN.

  Attributes:
    g_xy, g_yx: translators x [B, H, W, C] -> y and back (called with `train=`).
    d_x, d_y: critics [B, H, W, C] -> patch scores [B, ...] (or [B]).
    g_optimizer, d_optimizer: optax transformations (Adam(2e-4, β₁ = 0.5) in the paper).
    cycle_weight: λ of Eq. 3 (10).
    identity_weight: λ_id (0.5·λ = 5).
  """
  g_xy: nn.Module
  g_yx: nn.Module
  d_x: nn.Module
  d_y: nn.Module
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  image_shape: tuple[int, ...] = (28, 28, 1)
  cycle_weight: float = 10.0
  identity_weight: float = 5.0


def _l1(a: Array, b: Array) -> Array:
  """Per-example mean absolute error [B]."""
  return jnp.abs(a - b).reshape(a.shape[0], -1).mean(-1)


def _per_example(loss_fn, *scores: Array, **kw) -> Array:
  """Applies a [B]-loss to patch scores [B, ...] and averages each example's patches."""
  b = scores[0].shape[0]
  return loss_fn(*(s.reshape(-1) for s in scores), **kw).reshape(b, -1).mean(-1)


def cyclegan_init(model: CycleGAN, key: Array) -> GANState:
  x = jnp.zeros((2, *model.image_shape), jnp.float32)
  keys = jax.random.split(key, 4)
  init = lambda m, k: m.init({"params": k}, x, train=False)["params"]
  g_params = {"g_xy": init(model.g_xy, keys[0]), "g_yx": init(model.g_yx, keys[1])}
  d_params = {"d_x": init(model.d_x, keys[2]), "d_y": init(model.d_y, keys[3])}
  return GANState(step=jnp.zeros((), jnp.int32), g_params=g_params, d_params=d_params,
                  g_opt_state=model.g_optimizer.init(g_params),
                  d_opt_state=model.d_optimizer.init(d_params), extra={})


def translate(model: CycleGAN, g_params: Any, x: Array, *, to: str) -> Array:
  """G(x) for to='y', F(y) for to='x'."""
  if to == "y":
    return model.g_xy.apply({"params": g_params["g_xy"]}, x, train=False)
  if to == "x":
    return model.g_yx.apply({"params": g_params["g_yx"]}, x, train=False)
  raise ValueError(f"to must be 'x' or 'y', got {to!r}")


def cyclegan_step(model: CycleGAN, state: GANState, batch: dict[str, Array], key: Array
                  ) -> tuple[GANState, dict[str, Array]]:
  """One translator update, then one critic update on the same translations.

  Args:
    batch: {'x': [B, H, W, C] from domain X, 'y': [B, H, W, C] from domain Y}
      (unpaired: different images).
    key: unused (the step is deterministic given the batch); kept for the Task signature.
  Returns:
    (state, metrics) with 'loss' = the translators' total objective.
  """
  del key
  x, y = batch["x"], batch["y"]
  d_apply = lambda p, name, v: getattr(model, name).apply({"params": p[name]}, v, train=False)

  def g_objective(g_params):
    fake_y = model.g_xy.apply({"params": g_params["g_xy"]}, x, train=True)
    fake_x = model.g_yx.apply({"params": g_params["g_yx"]}, y, train=True)
    cycle_x = model.g_yx.apply({"params": g_params["g_yx"]}, fake_y, train=True)
    cycle_y = model.g_xy.apply({"params": g_params["g_xy"]}, fake_x, train=True)
    same_y = model.g_xy.apply({"params": g_params["g_xy"]}, y, train=True)
    same_x = model.g_yx.apply({"params": g_params["g_yx"]}, x, train=True)
    adv = (_per_example(losses.least_squares_generator_loss,
                        d_apply(state.d_params, "d_y", fake_y)) +
           _per_example(losses.least_squares_generator_loss,
                        d_apply(state.d_params, "d_x", fake_x)))
    cycle = _l1(cycle_x, x) + _l1(cycle_y, y)
    identity = _l1(same_y, y) + _l1(same_x, x)
    total = adv + model.cycle_weight * cycle + model.identity_weight * identity
    metrics = {"adversarial": adv.mean(), "cycle": cycle.mean(), "identity": identity.mean()}
    return total.mean(), (metrics, fake_x, fake_y)

  (g_loss, (metrics, fake_x, fake_y)), g_grads = jax.value_and_grad(
      g_objective, has_aux=True)(state.g_params)
  updates, g_opt_state = model.g_optimizer.update(g_grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, updates)
  fake_x, fake_y = jax.lax.stop_gradient((fake_x, fake_y))

  def d_objective(d_params):
    # ½ of each critic's loss as in the paper's code ("slows down the rate at which D
    # learns relative to G").
    loss_y = _per_example(losses.least_squares_discriminator_loss,
                          d_apply(d_params, "d_y", y), d_apply(d_params, "d_y", fake_y))
    loss_x = _per_example(losses.least_squares_discriminator_loss,
                          d_apply(d_params, "d_x", x), d_apply(d_params, "d_x", fake_x))
    return 0.5 * (loss_x + loss_y).mean()

  d_loss, d_grads = jax.value_and_grad(d_objective)(state.d_params)
  updates, d_opt_state = model.d_optimizer.update(d_grads, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, updates)
  new_state = GANState(step=state.step + 1, g_params=g_params, d_params=d_params,
                       g_opt_state=g_opt_state, d_opt_state=d_opt_state, extra=state.extra)
  return new_state, {**metrics, "g_loss": g_loss, "d_loss": d_loss, "loss": g_loss}
