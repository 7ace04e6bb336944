"""Every game of the family as a `gen_jax.training.Task`: one entry point, `make_task`."""

from __future__ import annotations

import functools
from typing import Callable, Mapping

import jax

from gen_jax.gan._bigan import BiGAN, bigan_init, bigan_step
from gen_jax.gan._cyclegan import CycleGAN, cyclegan_init, cyclegan_step
from gen_jax.gan._trainer import GANGame, gan_init, gan_step
from gen_jax.gan._vaegan import VAEGAN, vaegan_init, vaegan_step
from gen_jax.training import Task
from gen_jax.training import TrainState

Spec = GANGame | BiGAN | CycleGAN | VAEGAN
_FUNCTIONS = {GANGame: (gan_init, gan_step), BiGAN: (bigan_init, bigan_step),
              CycleGAN: (cyclegan_init, cyclegan_step), VAEGAN: (vaegan_init, vaegan_step)}


def make_task(spec: Spec, *, evaluate: Callable[..., Mapping[str, float]] | None = None,
              sample: Callable[[TrainState, jax.Array], jax.Array] | None = None,
              plot_keys: tuple[str, ...] | None = None) -> Task:
  """A game as a `Task` for `gen_jax.training.train` (the loop every family uses).

  Args:
    spec: the game: a `GANGame` (any of the losses, d_steps, unrolling), `BiGAN`,
      `CycleGAN` or `VAEGAN`.
    evaluate: (state, key, *, final) -> dict of floats (e.g. FID), or None.
    sample: (state, key) -> [N, H, W, C] images in [0, 1] for the loop's grids, or None.
    plot_keys: metrics for loss_curve.png (default: d_loss, g_loss and the loss's own).
  Raises:
    TypeError: for a spec of another type.
  """
  if type(spec) not in _FUNCTIONS:
    raise TypeError(f"spec must be one of {[t.__name__ for t in _FUNCTIONS]}, got "
                    f"{type(spec).__name__}")
  init, step = _FUNCTIONS[type(spec)]
  batches_per_step = spec.d_steps if isinstance(spec, GANGame) else 1
  if plot_keys is None:
    plot_keys = ("d_loss", "g_loss")
    if isinstance(spec, GANGame) and spec.loss == "began":
      plot_keys += ("convergence", "k")
    elif isinstance(spec, GANGame) and spec.loss in ("wasserstein", "wgan_gp"):
      plot_keys += ("critic_gap",)
  if isinstance(spec, GANGame):
    data_keys = (spec.data_key,) + (("label",) if spec.conditional else ())
  else:
    data_keys = ("x", "y") if isinstance(spec, CycleGAN) else ("image",)
  return Task(init=functools.partial(init, spec), step=functools.partial(step, spec),
              evaluate=evaluate, sample=sample, batches_per_step=batches_per_step,
              plot_keys=plot_keys, data_keys=data_keys)
