"""Tests for gen_jax/gan/_cyclegan.py, _bigan.py, _vaegan.py and gen_jax/nets/gan_conv.py:
each step's update against gradients of the paper's objective written out by hand (SGD
with rate 1, so that an update is minus the gradient)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax import gan
from gen_jax.nets.gan_conv import ConvAutoencoder
from gen_jax.nets.gan_conv import FeatureDiscriminator
from gen_jax.nets.gan_conv import ImageEncoder
from gen_jax.nets.gan_conv import JointDiscriminator
from gen_jax.nets.gan_conv import PatchDiscriminator
from gen_jax.nets.gan_conv import ResnetTranslator
from gen_jax.nets.gan_mlp import MLPGenerator

SGD = optax.sgd(1.0)


def _images(seed, shape):
  return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, size=shape), jnp.float32)


def _assert_update_is_minus_grad(old, new, grad, rtol=1e-3, atol=1e-5):
  # Float32 gradients through instance norm over tiny maps differ between the fused step
  # and the reference by ~1e-5 absolute: the tolerance scales with each leaf's gradient
  # (biases right before instance norm have true gradient 0 and get float noise ~1e-6).
  for o, n, g in zip(jax.tree.leaves(old), jax.tree.leaves(new), jax.tree.leaves(grad)):
    g = np.asarray(g)
    np.testing.assert_allclose(np.asarray(n - o), -g, rtol=rtol,
                               atol=max(atol, 5e-3 * float(np.abs(g).max())))


def test_cyclegan_step_matches_eq3_with_identity_and_lsgan():
  shape = (4, 8, 8, 1)
  model = gan.CycleGAN(g_xy=ResnetTranslator(4, 1), g_yx=ResnetTranslator(4, 1),
                       d_x=PatchDiscriminator(4), d_y=PatchDiscriminator(4),
                       g_optimizer=SGD, d_optimizer=SGD, image_shape=shape[1:],
                       cycle_weight=10.0, identity_weight=5.0)
  state = gan.cyclegan_init(model, jax.random.key(0))
  x, y = _images(1, shape), _images(2, shape)
  new, metrics = jax.jit(functools.partial(gan.cyclegan_step, model))(
      state, {"x": x, "y": y}, jax.random.key(3))

  translators = lambda s: {n: s.params[n] for n in gan.TRANSLATORS}
  critics = lambda s: {n: s.params[n] for n in gan.CRITICS}
  g = lambda p, v: model.g_xy.apply({"params": p["g_xy"]}, v)
  f = lambda p, v: model.g_yx.apply({"params": p["g_yx"]}, v)
  d = lambda p, name, v: getattr(model, name).apply({"params": p[name]}, v)
  l1 = lambda a, b: jnp.mean(jnp.abs(a - b))

  def g_loss(p):
    adv = (jnp.mean(0.5 * (d(critics(state), "d_y", g(p, x)) - 1)**2) +
           jnp.mean(0.5 * (d(critics(state), "d_x", f(p, y)) - 1)**2))
    cycle = l1(f(p, g(p, x)), x) + l1(g(p, f(p, y)), y)
    identity = l1(g(p, y), y) + l1(f(p, x), x)
    return adv + 10.0 * cycle + 5.0 * identity

  def d_loss(p):
    fy, fx = g(translators(state), x), f(translators(state), y)
    ls = lambda r, fk: jnp.mean(0.5 * (r - 1)**2 + 0.5 * fk**2)
    return 0.5 * (ls(d(p, "d_y", y), d(p, "d_y", fy)) + ls(d(p, "d_x", x), d(p, "d_x", fx)))

  np.testing.assert_allclose(metrics["g_loss"], g_loss(translators(state)), rtol=1e-5)
  np.testing.assert_allclose(metrics["d_loss"], d_loss(critics(state)), rtol=1e-5)
  _assert_update_is_minus_grad(translators(state), translators(new),
                               jax.grad(g_loss)(translators(state)))
  _assert_update_is_minus_grad(critics(state), critics(new),
                               jax.grad(d_loss)(critics(state)))


def test_bigan_step_matches_joint_objective():
  shape, latent = (6, 8, 8, 1), 3
  model = gan.BiGAN(generator=MLPGenerator(shape[1:], hidden=(16,)),
                    encoder=ImageEncoder(latent, features=(4,), hidden=8),
                    discriminator=JointDiscriminator(features=(4,), hidden=8),
                    g_optimizer=SGD, d_optimizer=SGD, latent_dim=latent,
                    image_shape=shape[1:])
  state = gan.bigan_init(model, jax.random.key(0))
  x, key = _images(1, shape), jax.random.key(5)
  new, metrics = jax.jit(functools.partial(gan.bigan_step, model))(
      state, {"image": x, "label": jnp.zeros(6, jnp.int32)}, key)

  k_d, k_g = jax.random.split(key)
  ge = lambda s: {"generator": s.params["g"], "encoder": s.params["e"]}
  gen = lambda p, z: model.generator.apply({"params": p["generator"]}, z)
  enc = lambda p, v: model.encoder.apply({"params": p["encoder"]}, v)
  dis = lambda p, v, z: model.discriminator.apply({"params": p}, v, z)
  log_d = jax.nn.log_sigmoid

  def d_loss(dp):  # −log D(x, E(x)) − log(1 − D(G(z), z))
    z = jax.random.normal(k_d, (6, latent))
    return jnp.mean(-log_d(dis(dp, x, enc(ge(state), x))) -
                    log_d(-dis(dp, gen(ge(state), z), z)))

  def ge_loss(gp):  # −log D(G(z), z) − log(1 − D(x, E(x))) at the updated D
    z = jax.random.normal(k_g, (6, latent))
    return jnp.mean(-log_d(dis(new.params["d"], gen(gp, z), z)) -
                    log_d(-dis(new.params["d"], x, enc(gp, x))))

  np.testing.assert_allclose(metrics["d_loss"], d_loss(state.params["d"]), rtol=1e-5)
  np.testing.assert_allclose(metrics["g_loss"], ge_loss(ge(state)), rtol=1e-5)
  _assert_update_is_minus_grad(state.params["d"], new.params["d"],
                               jax.grad(d_loss)(state.params["d"]))
  _assert_update_is_minus_grad(ge(state), ge(new),
                               jax.grad(ge_loss)(ge(state)))
  code = gan.bigan_encode(model, new, x)
  assert code.shape == (6, latent)
  assert gan.bigan_decode(model, new, code).shape == shape


def test_vaegan_step_gives_each_network_its_own_loss():
  shape, latent, gamma = (4, 8, 8, 1), 3, 0.1
  model = gan.VAEGAN(encoder=ImageEncoder(2 * latent, features=(4,), hidden=8),
                     decoder=MLPGenerator(shape[1:], hidden=(16,)),
                     discriminator=FeatureDiscriminator(features=(4, 8), feature_layer=0,
                                                        batch_norm=False),
                     g_optimizer=SGD, d_optimizer=SGD, latent_dim=latent,
                     image_shape=shape[1:], gamma=gamma)
  state = gan.vaegan_init(model, jax.random.key(0))
  x, key = _images(1, shape), jax.random.key(7)
  new, metrics = jax.jit(functools.partial(gan.vaegan_step, model))(
      state, {"image": x, "label": jnp.zeros(4, jnp.int32)}, key)

  k_eps, k_p = jax.random.split(key)
  eps = jax.random.normal(k_eps, (4, latent))
  z_p = jax.random.normal(k_p, (4, latent))
  ed = lambda s: {"encoder": s.params["e"], "decoder": s.params["g"]}
  dis = lambda dp, v: model.discriminator.apply({"params": dp}, v)

  def terms(gp, dp):
    mean, log_var = jnp.split(model.encoder.apply({"params": gp["encoder"]}, x), 2, -1)
    dec = lambda z: model.decoder.apply({"params": gp["decoder"]}, z)
    x_tilde, x_p = dec(mean + jnp.exp(0.5 * log_var) * eps), dec(z_p)
    (l_x, f_x), (l_t, f_t), (l_p, _) = dis(dp, x), dis(dp, x_tilde), dis(dp, x_p)
    kl = 0.5 * jnp.sum(jnp.exp(log_var) + mean**2 - 1 - log_var, -1)
    llike = 0.5 * jnp.sum((f_x - f_t)**2, -1)  # Larsen et al. Eq. 9, unit variance
    return kl, llike, l_x, l_t, l_p

  def enc_loss(gp):
    kl, llike, *_ = terms(gp, state.params["d"])
    return jnp.mean(kl + llike)

  def dec_loss(gp):
    _, llike, _, l_t, l_p = terms(gp, state.params["d"])
    return gamma * jnp.mean(llike) + jnp.mean(-jax.nn.log_sigmoid(l_t) -
                                              jax.nn.log_sigmoid(l_p))

  def dis_loss(dp):  # −L_GAN
    _, _, l_x, l_t, l_p = terms(ed(state), dp)
    sp = jax.nn.softplus
    return jnp.mean(sp(-l_x) + sp(l_t) + sp(l_p))

  np.testing.assert_allclose(metrics["loss"], enc_loss(ed(state)), rtol=1e-5)
  np.testing.assert_allclose(metrics["decoder_loss"], dec_loss(ed(state)), rtol=1e-5)
  want = {"encoder": jax.grad(enc_loss)(ed(state))["encoder"],
          "decoder": jax.grad(dec_loss)(ed(state))["decoder"]}
  _assert_update_is_minus_grad(ed(state), ed(new), want)
  _assert_update_is_minus_grad(state.params["d"], new.params["d"],
                               jax.grad(dis_loss)(state.params["d"]))


def test_conv_players_shapes():
  x = jnp.zeros((2, 28, 28, 1))
  for module, args, want in [
      (ConvAutoencoder((4, 8), code_dim=5), (x,), (2, 28, 28, 1)),
      (ConvAutoencoder((4, 8), code_dim=5, num_classes=10), (x, jnp.arange(2)),
       (2, 28, 28, 1)),
      (ResnetTranslator(4, 1), (x,), (2, 28, 28, 1)),
      (PatchDiscriminator(4), (x,), (2, 7, 7)),
      (ImageEncoder(6, features=(4, 8), batch_norm=True), (x,), (2, 6)),
      (JointDiscriminator((4,), 8), (x, jnp.zeros((2, 3))), (2,)),
  ]:
    variables = module.init(jax.random.key(0), *args)
    assert module.apply(variables, *args).shape == want
  fd = FeatureDiscriminator((4, 8), feature_layer=1)
  logits, feats = fd.apply(fd.init(jax.random.key(0), x), x)
  assert logits.shape == (2,) and feats.shape == (2, 7 * 7 * 8)


def test_began_autoencoder_passes_signal_and_gradient_at_init():
  # The default init keeps the 8-layer autoencoder's output and its first layer's gradient
  # at the data's scale; DCGAN's N(0, 0.02) makes them ~6,000× / ~700× smaller (BEGAN
  # then stalls).
  x = _images(0, (16, 28, 28, 1))
  fit = lambda module, v: jnp.mean(jnp.abs(module.apply(v, x) - x))
  dcgan_init = jax.nn.initializers.normal(0.02)
  for module, want_large in [(ConvAutoencoder((32, 64), code_dim=64), True),
                             (ConvAutoencoder((32, 64), code_dim=64, kernel_init=dcgan_init),
                              False)]:
    v = module.init(jax.random.key(1), x)
    out_std = float(jax.jit(module.apply)(v, x).std())
    grad = jax.jit(jax.grad(functools.partial(fit, module)))(v)
    grad_norm = float(jnp.linalg.norm(grad["params"]["enc_in"]["kernel"]))
    assert (out_std > 0.05 * float(x.std()) and grad_norm > 1e-3) == want_large, (
        module.kernel_init, out_std, grad_norm)



def _logit_spread(init):
  """Std of D(x, z)'s logit over z (x fixed) and over x (z fixed), at init."""
  d = JointDiscriminator(features=(32, 64), hidden=256, kernel_init=init)
  rng = np.random.default_rng(0)
  x = jnp.asarray(np.where(rng.uniform(size=(64, 28, 28, 1)) < 0.2, 1.0, -1.0), jnp.float32)
  z = jnp.asarray(rng.normal(size=(64, 32)), jnp.float32)
  params = d.init(jax.random.key(0), x[:2], z[:2])
  over_z = d.apply(params, jnp.broadcast_to(x[:1], x.shape), z)
  over_x = d.apply(params, x, jnp.broadcast_to(z[:1], z.shape))
  return float(jnp.std(over_z)), float(jnp.std(over_x))


def test_joint_discriminator_kernel_init_reaches_every_layer():
  # DCGAN's N(0, 0.02) through five layers leaves D's logit ~10⁻³ at init on both paths
  # (BiGAN's D then never came to use z, README); a variance-preserving init gives a logit
  # that moves ~0.1–0.2 with z and with x (measured: 0.23 over z, 0.098 over x).
  z_dcgan, x_dcgan = _logit_spread(jax.nn.initializers.normal(0.02))
  z_lecun, x_lecun = _logit_spread(jax.nn.initializers.lecun_normal())
  assert max(z_dcgan, x_dcgan) < 0.01, (z_dcgan, x_dcgan)
  assert min(z_lecun, x_lecun) > max(0.05, 30 * max(z_dcgan, x_dcgan)), (z_lecun, x_lecun)
