"""CycleGAN on MNIST <-> thickened MNIST (or colour-inverted MNIST), unpaired.

  python -m experiments.cyclegan_mnist --workdir=/tmp/cyclegan

Each step takes two fresh batches (the loop's batches_per_step = 2): the first is used as
domain X, the second, transformed, as domain Y, so no translation pair is ever seen.
Because the true map T is known, the test digits give paired ground truth: results.json
holds cycle errors ‖F(G(x)) − x‖₁, ‖G(F(y)) − y‖₁ and translation errors ‖G(x) − T(x)‖₁,
‖F(T(x)) − x‖₁ (per-pixel means in [0, 1] units), with ‖x − T(x)‖₁ (do nothing) as the
baseline. Sample grids: rows of x, G(x), T(x), F(G(x)), F(T(x)).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments.cyclegan_mnist.config import get_config
from gen_jax import data
from gen_jax import gan
from gen_jax import training
from gen_jax import validation
from gen_jax.nets.gan_conv import PatchDiscriminator
from gen_jax.nets.gan_conv import ResnetTranslator

DOMAINS = ("thicken", "invert")


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config, choices={"domain_y": DOMAINS})
  for key in ("features", "blocks", "d_features"):
    validation.check_int(f"--config.{key}", config[key], low=1)
  for key in ("cycle_weight", "identity_weight"):
    validation.check_number(f"--config.{key}", config[key], low=0.0)


def to_domain_y(images: jax.Array, domain: str) -> jax.Array:
  """T: images [B, H, W, C] in [0, 1] -> domain Y."""
  if domain == "invert":
    return 1.0 - images
  # Thickening = grey-scale dilation, a 3x3 max filter.
  return jax.lax.reduce_window(images, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 1, 1, 1),
                               "SAME")


def build_model(config: ml_collections.ConfigDict, image_shape) -> gan.CycleGAN:
  opt = lambda: optax.adam(config.learning_rate, b1=config.beta1)
  return gan.CycleGAN(
      g_xy=ResnetTranslator(config.features, config.blocks),
      g_yx=ResnetTranslator(config.features, config.blocks),
      d_x=PatchDiscriminator(config.d_features), d_y=PatchDiscriminator(config.d_features),
      g_optimizer=opt(), d_optimizer=opt(), image_shape=tuple(image_shape),
      cycle_weight=config.cycle_weight, identity_weight=config.identity_weight)


def make_task(config: ml_collections.ConfigDict, train_data: data.ArrayDataset,
              test_data: data.ArrayDataset) -> training.Task:
  model = build_model(config, train_data.image_shape)
  pre = lambda v: 2.0 * v - 1.0
  post = lambda v: jnp.clip(0.5 * (v + 1.0), 0.0, 1.0)

  def step(state, batch, key):
    images = batch["image"]
    return gan.cyclegan_step(model, state, {"x": pre(images[0]),
                                            "y": pre(to_domain_y(images[1], config.domain_y))},
                             key)

  @jax.jit
  def translations(state, x):
    y = to_domain_y(x, config.domain_y)
    g_x = gan.translate(model, state, pre(x), to="y")
    f_y = gan.translate(model, state, pre(y), to="x")
    return {"x": x, "g_x": post(g_x), "y": y, "f_y": post(f_y),
            "f_g_x": post(gan.translate(model, state, g_x, to="x")),
            "g_f_y": post(gan.translate(model, state, f_y, to="y"))}

  def evaluate(state, key, *, final=False):
    del key, final
    out = training.map_batches(lambda x: translations(state, x),
                               test_data.images, batch_size=200)
    l1 = lambda a, b: float(np.mean(np.abs(out[a] - out[b])))
    return {"cycle_error_x": l1("f_g_x", "x"), "cycle_error_y": l1("g_f_y", "y"),
            "translation_error_xy": l1("g_x", "y"), "translation_error_yx": l1("f_y", "x"),
            "identity_baseline": l1("x", "y")}

  def sample(state, key):
    del key
    out = translations(state, jnp.asarray(test_data.images[:20]))
    rows = []
    for half in (slice(0, 10), slice(10, 20)):
      rows += [out[k][half] for k in ("x", "g_x", "y", "f_g_x", "f_y")]
    return jnp.concatenate(rows)

  task = gan.make_task(model, evaluate=evaluate, sample=sample,
                       plot_keys=("g_loss", "d_loss", "cycle", "identity"))
  # Two batches a step: X from the first, Y = T(second), so the domains stay unpaired.
  return dataclasses.replace(task, step=step, batches_per_step=2, data_keys=("image",))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  train_data, test_data = training.load_train_test(config)
  task = make_task(config, train_data, test_data)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
