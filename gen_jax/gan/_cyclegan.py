"""CycleGAN (Zhu et al. 2017): unpaired translation X <-> Y with cycle consistency.

Two translators G: X -> Y and F: Y -> X, two critics D_X and D_Y, least-squares
adversarial losses (the paper's choice, §4), the cycle loss of Eq. 2 weighted by λ and the
identity loss ‖G(y) − y‖₁ + ‖F(x) − x‖₁ weighted by λ_id (§5.2; 0.5·λ in the code). The
paper's history buffer of 50 generated images for the critics is omitted (the critics see
the current batch's translations).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gen_jax import losses
from gen_jax import validation
from gen_jax.training import minimize
from gen_jax.training import TrainState

Array = jax.Array

TRANSLATORS, CRITICS = ("g_xy", "g_yx"), ("d_x", "d_y")


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


def cyclegan_init(model: CycleGAN, key: Array) -> TrainState:
  """State with parameter groups "g_xy", "g_yx" (translators) and "d_x", "d_y" (critics)."""
  x = jnp.zeros((2, *model.image_shape), jnp.float32)
  keys = jax.random.split(validation.check_key("key", key), 4)
  names = TRANSLATORS + CRITICS
  params = {n: getattr(model, n).init({"params": k}, x, train=False)["params"]
            for n, k in zip(names, keys)}
  optimizers = {n: model.g_optimizer if n in TRANSLATORS else model.d_optimizer
                for n in names}
  return TrainState.create(params, optimizers, extra={})


def translate(model: CycleGAN, state: TrainState, x: Array, *, to: str) -> Array:
  """G(x) for to='y', F(y) for to='x'."""
  validation.check_choice("to", to, ("x", "y"))
  name = "g_xy" if to == "y" else "g_yx"
  return getattr(model, name).apply({"params": state.eval_params(name)}, x, train=False)


def cyclegan_step(model: CycleGAN, state: TrainState, batch: dict[str, Array], key: Array
                  ) -> tuple[TrainState, dict[str, Array]]:
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
  critics = {n: state.params[n] for n in CRITICS}

  def g_objective(g_params):
    fake_y = model.g_xy.apply({"params": g_params["g_xy"]}, x, train=True)
    fake_x = model.g_yx.apply({"params": g_params["g_yx"]}, y, train=True)
    cycle_x = model.g_yx.apply({"params": g_params["g_yx"]}, fake_y, train=True)
    cycle_y = model.g_xy.apply({"params": g_params["g_xy"]}, fake_x, train=True)
    same_y = model.g_xy.apply({"params": g_params["g_xy"]}, y, train=True)
    same_x = model.g_yx.apply({"params": g_params["g_yx"]}, x, train=True)
    adv = (_per_example(losses.least_squares_generator_loss,
                        d_apply(critics, "d_y", fake_y)) +
           _per_example(losses.least_squares_generator_loss,
                        d_apply(critics, "d_x", fake_x)))
    cycle = _l1(cycle_x, x) + _l1(cycle_y, y)
    identity = _l1(same_y, y) + _l1(same_x, x)
    total = adv + model.cycle_weight * cycle + model.identity_weight * identity
    metrics = {"adversarial": adv.mean(), "cycle": cycle.mean(), "identity": identity.mean()}
    return total.mean(), (metrics, fake_x, fake_y)

  state, g_loss, (metrics, fake_x, fake_y), g_norm = minimize(state, TRANSLATORS, g_objective,
                                                              has_aux=True)
  fake_x, fake_y = jax.lax.stop_gradient((fake_x, fake_y))

  def d_objective(d_params):
    # ½ of each critic's loss as in the paper's code ("slows down the rate at which D
    # learns relative to G").
    loss_y = _per_example(losses.least_squares_discriminator_loss,
                          d_apply(d_params, "d_y", y), d_apply(d_params, "d_y", fake_y))
    loss_x = _per_example(losses.least_squares_discriminator_loss,
                          d_apply(d_params, "d_x", x), d_apply(d_params, "d_x", fake_x))
    return 0.5 * (loss_x + loss_y).mean()

  state, d_loss, _, d_norm = minimize(state, CRITICS, d_objective)
  return state.replace(step=state.step + 1), {
      **metrics, "g_loss": g_loss, "d_loss": d_loss, "g_grad_norm": g_norm,
      "d_grad_norm": d_norm, "loss": g_loss}
