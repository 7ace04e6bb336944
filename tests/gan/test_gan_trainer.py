"""Tests for gen_jax/gan/_trainer.py and _mixture.py: the GAN step against hand-written
references, its switches (d_steps, unrolling, BEGAN's k, WGAN clipping, conditioning),
recompilation, and 4-device vs 1-device sharding."""

import functools

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from jax.sharding import Mesh

from gen_jax import gan
from gen_jax import losses
from gen_jax import training
from gen_jax.nets.dcgan import DCGANDiscriminator
from gen_jax.nets.dcgan import DCGANGenerator
from gen_jax.nets.gan_mlp import MLPAutoencoder
from gen_jax.nets.gan_mlp import MLPDiscriminator
from gen_jax.nets.gan_mlp import MLPGenerator

B, LATENT, DIM = 8, 3, 2


def _game(loss="non_saturating", *, d_steps=1, unroll_steps=0, num_classes=0, lr=1e-2,
          d_optimizer=None, **kw):
  g_opt, d_opt = gan.gan_optimizers(loss, learning_rate=lr)
  disc = (MLPAutoencoder(hidden=(8,), code_dim=2, num_classes=num_classes)
          if loss == "began" else MLPDiscriminator(hidden=(8,), num_classes=num_classes))
  return gan.GANGame(MLPGenerator((DIM,), hidden=(8,), num_classes=num_classes), disc,
                     g_opt, d_optimizer or d_opt, loss=loss, latent_dim=LATENT,
                     data_shape=(DIM,), num_classes=num_classes, d_steps=d_steps,
                     unroll_steps=unroll_steps, **kw)


def _batch(seed, n=B, lead=None):
  rng = np.random.default_rng(seed)
  shape = (n, DIM) if lead is None else (lead, n, DIM)
  return {"image": jnp.asarray(rng.normal(size=shape) + 2.0, jnp.float32),
          "label": jnp.asarray(rng.integers(0, 3, size=shape[:-1]), jnp.int32)}


def _leaves_close(a, b, **kw):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kw)


def _differs(a, b, tol=1e-7):
  return any(float(jnp.max(jnp.abs(x - y))) > tol
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _reference_step(game, state, batches, key, d_loss=None, g_loss=None):
  """Non-saturating GAN step written out with the losses and optax, independently (or the
  game of the given per-example d_loss(real, fake) and g_loss(fake) logits functions).

  G's update differentiates the last D update's samples (z reused), or a fresh G(z) drawn
  from the step's second key with game.fresh_generator_noise.
  """
  d_loss = d_loss or losses.minimax_discriminator_loss
  g_loss = g_loss or losses.non_saturating_generator_loss
  k_d, k_g, _ = jax.random.split(key, 3)
  g_apply = lambda p, z: game.generator.apply({"params": p}, z, None, train=True)
  d_apply = lambda p, x: game.discriminator.apply({"params": p}, x, None, train=True)
  d_params, d_opt = state.params["d"], state.opt_state["d"]
  for i, k in enumerate(jax.random.split(k_d, game.d_steps)):
    real = batches["image"][i]
    z = jax.random.normal(jax.random.split(k)[0], (real.shape[0], LATENT))
    fake = g_apply(state.params["g"], z)
    grads = jax.grad(lambda p: d_loss(d_apply(p, real), d_apply(p, fake)).mean())(d_params)
    updates, d_opt = game.d_optimizer.update(grads, d_opt, d_params)
    d_params = optax.apply_updates(d_params, updates)
  if game.fresh_generator_noise:
    z = jax.random.normal(k_g, (batches["image"].shape[1], LATENT))
  g_grads = jax.grad(lambda p: g_loss(d_apply(d_params, g_apply(p, z))).mean())(
      state.params["g"])
  updates, _ = game.g_optimizer.update(g_grads, state.opt_state["g"], state.params["g"])
  return d_params, optax.apply_updates(state.params["g"], updates)


@pytest.mark.parametrize("d_steps,fresh", [(1, False), (2, False), (1, True), (2, True)])
def test_step_matches_reference_and_compiles_once(d_steps, fresh):
  chex.clear_trace_counter()
  game = _game(d_steps=d_steps, fresh_generator_noise=fresh)
  state = gan.gan_init(game, jax.random.key(0))
  reference = jax.jit(functools.partial(_reference_step, game))

  def step_fn(state, batch, key):
    return gan.gan_step(game, state, batch, key)

  step = jax.jit(chex.assert_max_traces(step_fn, n=1))
  for i in range(3):
    batches = _batch(i, lead=d_steps)
    key = jax.random.key(10 + i)
    want_d, want_g = reference(state, batches, key)
    state, metrics = step(state, batches if d_steps > 1 else
                          jax.tree.map(lambda x: x[0], batches), key)
    _leaves_close(state.params["d"], want_d, rtol=2e-5, atol=1e-6)
    _leaves_close(state.params["g"], want_g, rtol=2e-5, atol=1e-6)
    assert int(state.step) == i + 1
  assert set(metrics) >= {"loss", "d_loss", "g_loss", "d_real", "d_fake"}
  assert metrics["loss"] == metrics["d_loss"]


def test_d_steps_consume_distinct_batches():
  game = _game(d_steps=2)
  assert gan.make_task(game).batches_per_step == 2
  state = gan.gan_init(game, jax.random.key(0))
  step = jax.jit(functools.partial(gan.gan_step, game))
  a, b = _batch(1), _batch(2)
  stack = lambda *xs: jax.tree.map(lambda *v: jnp.stack(v), *xs)
  key = jax.random.key(3)
  ab = step(state, stack(a, b), key)[0].params["d"]
  aa = step(state, stack(a, a), key)[0].params["d"]
  ba = step(state, stack(b, a), key)[0].params["d"]
  assert _differs(ab, aa) and _differs(ab, ba)
  with pytest.raises(ValueError, match="leading axis d_steps=2"):
    step(state, stack(a, b, a), key)


def test_unrolled_switch_changes_generator_gradient():
  key = jax.random.key(4)
  batch = _batch(5)
  plain = _game(unroll_steps=0)
  state = gan.gan_init(plain, jax.random.key(0))
  plain_state = jax.jit(functools.partial(gan.gan_step, plain))(state, batch, key)[0]
  unrolled = _game(unroll_steps=2)
  new, metrics = jax.jit(functools.partial(gan.gan_step, unrolled))(state, batch, key)
  assert _differs(plain_state.params["g"], new.params["g"], tol=1e-6)
  # D is updated identically either way: unrolling only changes G's objective.
  _leaves_close(new.params["d"], plain_state.params["d"], rtol=1e-6)
  assert "g_loss_unrolled" in metrics
  # With a surrogate D that cannot move (SGD with rate 0), f_K = f_0: same G update
  # (the unrolled objective scores the last D update's samples, as the plain one does).
  frozen = _game(unroll_steps=2, d_optimizer=optax.sgd(0.0))
  frozen0 = _game(unroll_steps=0, d_optimizer=optax.sgd(0.0))
  frozen_state = gan.gan_init(frozen, jax.random.key(0))
  g_k = jax.jit(functools.partial(gan.gan_step, frozen))(frozen_state, batch, key)[0]
  g_0 = jax.jit(functools.partial(gan.gan_step, frozen0))(frozen_state, batch, key)[0]
  _leaves_close(g_k.params["g"], g_0.params["g"], rtol=1e-5, atol=1e-7)


def test_began_k_stays_in_unit_interval_and_follows_eq4():
  gamma, lam = 0.5, 2.0  # a huge gain pushes k against both bounds
  game = _game("began", began_gamma=gamma, began_lambda_k=lam)
  state = gan.gan_init(game, jax.random.key(0))
  assert float(state.extra["k"]) == 0.0
  step = jax.jit(functools.partial(gan.gan_step, game))
  ks = []
  for i in range(12):
    k_before = float(state.extra["k"])
    state, m = step(state, _batch(i), jax.random.key(i))
    k = float(state.extra["k"])
    want = np.clip(k_before + lam * (gamma * float(m["real_recon"]) -
                                     float(m["fake_recon"])), 0.0, 1.0)
    np.testing.assert_allclose(k, want, rtol=1e-5, atol=1e-6)
    assert 0.0 <= k <= 1.0
    ks.append(k)
  assert min(ks) == 0.0 or max(ks) == 1.0  # the clip was active
  assert np.isfinite(float(m["convergence"]))


def test_wgan_weight_clipping_keeps_critic_in_box():
  c = 0.05
  game = _game("wasserstein", lr=0.5, clip=c, d_steps=2, unroll_steps=1)
  state = gan.gan_init(game, jax.random.key(0))
  step = jax.jit(functools.partial(gan.gan_step, game))
  for i in range(3):
    state, _ = step(state, _batch(i, lead=2), jax.random.key(i))
    leaves = jax.tree.leaves(state.params["d"])
    assert all(float(jnp.max(jnp.abs(p))) <= np.float32(c) for p in leaves)
  assert any(float(jnp.max(jnp.abs(p))) == np.float32(c) for p in leaves)


def test_conditional_labels_reach_both_players():
  game = _game(num_classes=3)
  state = gan.gan_init(game, jax.random.key(0))
  step = jax.jit(functools.partial(gan.gan_step, game))
  batch = _batch(0)
  other = {**batch, "label": (batch["label"] + 1) % 3}
  s1, s2 = step(state, batch, jax.random.key(1))[0], step(state, other, jax.random.key(1))[0]
  assert _differs(s1.params["d"], s2.params["d"]) and _differs(s1.params["g"], s2.params["g"])


def test_penalized_losses_reject_batch_norm_critic():
  g_opt, d_opt = gan.gan_optimizers("wgan_gp", learning_rate=1e-3)
  game = gan.GANGame(DCGANGenerator(base_features=4), DCGANDiscriminator(base_features=4),
                     g_opt, d_opt, loss="wgan_gp", latent_dim=4, data_shape=(28, 28, 1))
  with pytest.raises(ValueError, match="batch norm"):
    gan.gan_init(game, jax.random.key(0))
  with pytest.raises(ValueError, match="loss must be one of"):
    _game("hinged")


def test_validate_gan_config_names_the_key():
  c = ml_collections.ConfigDict(dict(
      loss="wgan_gp", minibatch="stddev", d_steps=1, unroll_steps=0, latent_dim=4,
      penalty_weight=10.0, began_lambda_k=1e-3, clip=0.01, d_learning_rate=1e-4,
      began_gamma=0.5, beta1=0.5, beta2=0.999))
  with pytest.raises(ValueError, match="--config.minibatch"):
    gan.validate_gan_config(c)
  c.minibatch = "none"
  gan.validate_gan_config(c)
  c.d_steps = 0
  with pytest.raises(ValueError, match="--config.d_steps must be an integer >= 1, got 0"):
    gan.validate_gan_config(c)


def test_sharded_step_matches_one_device():
  # Batch norm in both players, d_steps = 2: statistics must be those of the global batch.
  g_opt, d_opt = gan.gan_optimizers("non_saturating", learning_rate=1e-3)
  game = gan.GANGame(DCGANGenerator(base_features=4), DCGANDiscriminator(base_features=4),
                     g_opt, d_opt, loss="non_saturating", latent_dim=4,
                     data_shape=(28, 28, 1), d_steps=2, preprocess=lambda x: 2 * x - 1)
  rng = np.random.default_rng(0)
  batches = [{"image": rng.uniform(size=(2, 8, 28, 28, 1)).astype(np.float32),
              "label": np.zeros((2, 8), np.int32)} for _ in range(2)]
  finals = []
  for devices in (jax.devices()[:1], jax.devices()[:4]):
    mesh = Mesh(np.asarray(devices), (training.sharding.DATA_AXIS,))
    rep = training.replicated(mesh)
    shard = training.batch_sharding(mesh, leading_axes=1)
    state = jax.jit(functools.partial(gan.gan_init, game), out_shardings=rep)(
        jax.random.key(0))
    step = jax.jit(functools.partial(gan.gan_step, game), in_shardings=(rep, shard, rep),
                   out_shardings=(rep, rep))
    for i, b in enumerate(batches):
      state, _ = step(state, training.put_batch(b, shard), jax.random.key(i))
    finals.append(jax.device_get(state))
  _leaves_close(finals[0], finals[1], rtol=1e-4, atol=1e-5)


def test_ring_of_gaussians_moments():
  points, modes = gan.ring_of_gaussians(jax.random.key(0), 20_000, std=0.02)
  centres = np.asarray(gan.ring_modes())
  np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0, rtol=1e-6)
  resid = np.asarray(points) - centres[np.asarray(modes)]
  # std of 40k N(0, σ²) draws: relative standard error ≈ 1/sqrt(2·40k) ≈ 0.35%.
  np.testing.assert_allclose(resid.std(), 0.02, rtol=0.02)
  np.testing.assert_allclose(np.bincount(np.asarray(modes)) / 20_000, 1 / 8, atol=0.01)


def test_mode_coverage_counts_by_hand():
  modes = np.asarray(gan.ring_modes())
  std = 0.02
  samples = np.concatenate([
      np.repeat(modes[:1], 50, 0) + 0.05,    # within 3σ·√2? |0.05·(1,1)| = 0.071 > 0.06: out
      np.repeat(modes[1:2], 30, 0) + 0.04,   # |0.04·(1,1)| = 0.057 <= 0.06: in
      np.repeat(modes[2:3], 1, 0),           # 1 of 200 = 0.5% < 1%: in, mode not covered
      np.repeat(modes[3:4], 2, 0),           # 1%: covered
      np.zeros((117, 2)),                    # the centre: far from all modes
  ])
  out = gan.mode_coverage(samples, modes, std=std)
  assert out["modes_covered"] == 2
  np.testing.assert_allclose(out["high_quality_fraction"], 33 / 200)
  np.testing.assert_allclose(out["mode_fractions"][1], 30 / 200)


@pytest.mark.parametrize("loss,d_loss,g_loss", [
    ("hinge", losses.hinge_discriminator_loss, losses.hinge_generator_loss),
    ("non_saturating",
     lambda r, f: losses.minimax_discriminator_loss(r, f, label_smoothing=0.2),
     losses.non_saturating_generator_loss)])
def test_hinge_and_label_smoothing_steps_match_reference(loss, d_loss, g_loss):
  game = _game(loss, label_smoothing=0.2 if loss == "non_saturating" else 0.0)
  state = gan.gan_init(game, jax.random.key(0))
  batch, key = _batch(3), jax.random.key(8)
  want_d, want_g = jax.jit(lambda s, b, k: _reference_step(game, s, b, k, d_loss, g_loss))(
      state, jax.tree.map(lambda x: x[None], batch), key)
  new, _ = jax.jit(functools.partial(gan.gan_step, game))(state, batch, key)
  _leaves_close(new.params["d"], want_d, rtol=2e-5, atol=1e-6)
  _leaves_close(new.params["g"], want_g, rtol=2e-5, atol=1e-6)


def test_generator_ema_follows_its_recursion_and_is_what_eval_params_returns():
  decay = 0.9
  game = _game(ema_decay=decay)
  state = gan.gan_init(game, jax.random.key(0))
  assert set(state.ema) == {"g"}
  step = jax.jit(functools.partial(gan.gan_step, game))
  want = jax.tree.map(np.asarray, state.params["g"])
  for i in range(3):
    state, _ = step(state, _batch(i), jax.random.key(i))
    want = jax.tree.map(lambda e, p: decay * e + (1 - decay) * np.asarray(p), want,
                        state.params["g"])
  _leaves_close(state.ema["g"], want, rtol=1e-5, atol=1e-7)
  assert state.eval_params("g") is state.ema["g"]
  assert state.eval_params("g", use_ema=False) is state.params["g"]
  assert state.eval_params("d") is state.params["d"]
