"""Every public function of gen_jax.gan that takes a PRNG key accepts both kinds: a typed key
(`jax.random.key(seed)`) and a legacy uint32 key (`jax.random.PRNGKey(seed)`) of one seed hold
the same threefry bits, so one jitted function must give bitwise-equal outputs for both.
Tiny players keep every case to a compile or two."""


import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import gan
from gen_jax import validation
from gen_jax.nets.gan_conv import FeatureDiscriminator
from gen_jax.nets.gan_conv import ImageEncoder
from gen_jax.nets.gan_conv import JointDiscriminator
from gen_jax.nets.gan_conv import PatchDiscriminator
from gen_jax.nets.gan_conv import ResnetTranslator
from gen_jax.nets.gan_mlp import MLPAutoencoder
from gen_jax.nets.gan_mlp import MLPDiscriminator
from gen_jax.nets.gan_mlp import MLPGenerator

B, LATENT, DIM = 4, 3, 2
IMAGE = (8, 8, 1)
SEED = 11


def _assert_bitwise_equal(a, b):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _differs(a, b):
  return any(not np.array_equal(np.asarray(x), np.asarray(y))
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _check_both_kinds(fn):
  """fn(key) -> pytree of arrays, jitted once and called with a typed and a legacy key of one
  seed: the outputs must be bitwise equal (and differ for another seed, so the equality is
  not that of a function that ignores its key)."""
  jitted = jax.jit(fn)
  typed = jitted(jax.random.key(SEED))
  legacy = jitted(jax.random.PRNGKey(SEED))
  _assert_bitwise_equal(typed, legacy)
  assert _differs(typed, jitted(jax.random.key(SEED + 1)))
  return typed


def _game(loss="non_saturating", *, num_classes=0, **kw):
  g_opt, d_opt = gan.gan_optimizers(loss, learning_rate=1e-2)
  disc = (MLPAutoencoder(hidden=(8,), code_dim=2, num_classes=num_classes)
          if loss == "began" else MLPDiscriminator(hidden=(8,), num_classes=num_classes))
  return gan.GANGame(MLPGenerator((DIM,), hidden=(8,), num_classes=num_classes), disc,
                     g_opt, d_opt, loss=loss, latent_dim=LATENT, data_shape=(DIM,),
                     num_classes=num_classes, **kw)


def _batch(lead=None):
  rng = np.random.default_rng(0)
  shape = (B, DIM) if lead is None else (lead, B, DIM)
  return {"image": jnp.asarray(rng.normal(size=shape) + 2.0, jnp.float32),
          "label": jnp.asarray(rng.integers(0, 3, size=shape[:-1]), jnp.int32)}


def _images(seed, shape=(B, *IMAGE)):
  return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, size=shape), jnp.float32)


def test_sample_latent():
  z = _check_both_kinds(lambda k: gan.sample_latent(k, 5, LATENT))
  assert z.shape == (5, LATENT) and z.dtype == jnp.float32


def test_generate():
  game = _game(num_classes=3)
  state = gan.gan_init(game, jax.random.key(0))
  x = _check_both_kinds(lambda k: gan.generate(k, game, state.params["g"], state.extra["g"],
                                               5))
  assert x.shape == (5, DIM)


def test_ring_of_gaussians():
  points, mode = _check_both_kinds(lambda k: gan.ring_of_gaussians(k, 16))
  assert points.shape == (16, 2) and mode.shape == (16,)


# Each game's Task (what `gen_jax.training.train` calls): init, then one step. The cases
# reach every key use of the step: z draws per D update, the WGAN-GP and DRAGAN penalties'
# noise, the unrolled objective's keys, fresh generator noise, conditioning.
GAMES = {
    "non_saturating_conditional_fresh_noise": dict(loss="non_saturating", num_classes=3,
                                                   fresh_generator_noise=True),
    "wgan_gp_two_d_steps_unrolled": dict(loss="wgan_gp", d_steps=2, unroll_steps=1),
    "dragan": dict(loss="dragan"),
}


@pytest.mark.parametrize("name", sorted(GAMES))
def test_gan_task_init_and_step(name):
  game = _game(**GAMES[name])
  task = gan.make_task(game)
  state = _check_both_kinds(task.init)
  batch = _batch(lead=game.d_steps if game.d_steps > 1 else None)
  new_state, metrics = _check_both_kinds(lambda k: task.step(state, batch, k))
  assert int(new_state.step) == int(state.step) + 1 and np.isfinite(metrics["loss"])
  # The plain functions behind the Task, too.
  _assert_bitwise_equal(gan.gan_init(game, jax.random.PRNGKey(SEED)), state)


def test_unrolled_generator_loss():
  d_optimizer = optax.sgd(0.1)

  def d_loss_fn(d, g, batch, key):
    noise = jax.random.normal(key, batch.shape)
    return jnp.mean((d * batch - g * noise)**2)

  def g_loss_fn(g, d, key):
    return jnp.sum(d * g) + jnp.sum(jax.random.normal(key, g.shape) * g)

  g, d = jnp.array([0.5, -1.0]), jnp.array([1.5, 0.3])
  d_batches = jnp.asarray(np.random.default_rng(1).normal(size=(3, 2)), jnp.float32)

  def loss_and_grad(key):
    return jax.value_and_grad(gan.unrolled_generator_loss, argnums=1, has_aux=True)(
        key, g, d, d_optimizer.init(d), d_batches, d_loss_fn=d_loss_fn, g_loss_fn=g_loss_fn,
        d_optimizer=d_optimizer, unroll_steps=3)

  (loss, aux), grad = _check_both_kinds(loss_and_grad)
  assert loss.shape == () and grad.shape == g.shape and aux["d_params"].shape == d.shape


def test_bigan_task_init_and_step():
  model = gan.BiGAN(generator=MLPGenerator(IMAGE, hidden=(8,)),
                    encoder=ImageEncoder(LATENT, features=(4,), hidden=8),
                    discriminator=JointDiscriminator(features=(4,), hidden=8),
                    g_optimizer=optax.adam(1e-3), d_optimizer=optax.adam(1e-3),
                    latent_dim=LATENT, image_shape=IMAGE)
  task = gan.make_task(model)
  state = _check_both_kinds(task.init)
  batch = {"image": _images(1), "label": jnp.zeros(B, jnp.int32)}
  _check_both_kinds(lambda k: task.step(state, batch, k))


def test_vaegan_task_init_and_step():
  model = gan.VAEGAN(encoder=ImageEncoder(2 * LATENT, features=(4,), hidden=8),
                     decoder=MLPGenerator(IMAGE, hidden=(8,)),
                     discriminator=FeatureDiscriminator(features=(4, 8), feature_layer=0,
                                                        batch_norm=False),
                     g_optimizer=optax.adam(1e-3), d_optimizer=optax.adam(1e-3),
                     latent_dim=LATENT, image_shape=IMAGE)
  task = gan.make_task(model)
  state = _check_both_kinds(task.init)
  batch = {"image": _images(2), "label": jnp.zeros(B, jnp.int32)}
  _check_both_kinds(lambda k: task.step(state, batch, k))


def test_cyclegan_task_init():
  model = gan.CycleGAN(g_xy=ResnetTranslator(4, 1), g_yx=ResnetTranslator(4, 1),
                       d_x=PatchDiscriminator(4), d_y=PatchDiscriminator(4),
                       g_optimizer=optax.adam(1e-3), d_optimizer=optax.adam(1e-3),
                       image_shape=IMAGE)
  # (cyclegan_step is deterministic given the batch: it never reads its key.)
  _check_both_kinds(gan.make_task(model).init)


@pytest.mark.parametrize("call", [
    lambda key: gan.gan_init(_game(), key),
    lambda key: gan.ring_of_gaussians(key, 4),
    lambda key: gan.unrolled_generator_loss(
        key, 0.0, 0.0, (), None, d_loss_fn=None, g_loss_fn=lambda g, d, k: g,
        d_optimizer=None, unroll_steps=0),
])
def test_a_non_key_is_an_argument_error_naming_key(call):
  with pytest.raises(validation.ArgumentError, match=r"key must be a PRNG key.*got dtype "
                     r"float32, shape \(2,\)") as info:
    call(jnp.zeros(2, jnp.float32))
  assert info.value.argument == "key"
