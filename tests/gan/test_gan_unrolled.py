"""Tests for gen_jax/gan/_unrolled.py: closed form, Python-loop reference, K = 0."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import gan

LR = 0.3


def _scalar_problem():
  # d_loss(d, g; b) = ½(d − g·b)², SGD(η): d_{k+1} = (1−η) d_k + η g b_k.
  d_loss = lambda d, g, b, key: 0.5 * (d["v"] - g["v"] * b)**2
  # g_loss(g, d) = g·d + ½g²: dg_loss/dg through d_K(g) needs the unrolled Jacobian.
  g_loss = lambda g, d, key: g["v"] * d["v"] + 0.5 * g["v"]**2
  return d_loss, g_loss


@pytest.mark.parametrize("k", [1, 3])
def test_unrolled_gradient_matches_closed_form(k):
  d_loss, g_loss = _scalar_problem()
  opt = optax.sgd(LR)
  g0, d0 = {"v": jnp.float32(0.7)}, {"v": jnp.float32(-1.3)}
  b = jnp.asarray([1.5, -0.5, 2.0][:k], jnp.float32)

  fn = jax.jit(jax.value_and_grad(
      lambda g: gan.unrolled_generator_loss(
          jax.random.key(0), g, d0, opt.init(d0), b, d_loss_fn=d_loss, g_loss_fn=g_loss,
          d_optimizer=opt, unroll_steps=k), has_aux=True))
  (loss, aux), grad = fn(g0)

  g, d = 0.7, -1.3
  dd_dg = 0.0  # ∂d_k/∂g by forward recursion
  first = None
  for step in range(k):
    d, dd_dg = (1 - LR) * d + LR * g * float(b[step]), (1 - LR) * dd_dg + LR * float(b[step])
    first = d if first is None else first
  np.testing.assert_allclose(loss, g * d + 0.5 * g**2, rtol=1e-5)
  # total derivative: ∂g_loss/∂g + ∂g_loss/∂d · ∂d_K/∂g = d_K + g + g · ∂d_K/∂g
  np.testing.assert_allclose(grad["v"], d + g + g * dd_dg, rtol=1e-5)
  # With a stop_gradient on the unrolled params it would be d_K + g only.
  assert abs(g * dd_dg) > 1e-2
  np.testing.assert_allclose(aux["d_params"]["v"], first, rtol=1e-5)
  np.testing.assert_allclose(aux["d_loss"], 0.5 * (-1.3 - 0.7 * float(b[0]))**2, rtol=1e-5)


def test_unroll_zero_is_the_plain_generator_gradient():
  d_loss, g_loss = _scalar_problem()
  opt = optax.sgd(LR)
  g0, d0 = {"v": jnp.float32(0.7)}, {"v": jnp.float32(-1.3)}
  (loss, aux), grad = jax.jit(jax.value_and_grad(
      lambda g: gan.unrolled_generator_loss(
          jax.random.key(0), g, d0, opt.init(d0), None, d_loss_fn=d_loss,
          g_loss_fn=g_loss, d_optimizer=opt, unroll_steps=0), has_aux=True))(g0)
  np.testing.assert_allclose(grad["v"], -1.3 + 0.7, rtol=1e-6)
  np.testing.assert_allclose(loss, 0.7 * -1.3 + 0.5 * 0.49, rtol=1e-6)
  np.testing.assert_allclose(aux["d_params"]["v"], -1.3)


def _mlp(params, x):
  h = jnp.tanh(x @ params["w1"] + params["b1"])
  return h @ params["w2"] + params["b2"]


def test_unrolled_gradient_matches_python_loop_with_adam():
  # A tiny 2-D GAN: linear generator, MLP discriminator, Adam (differentiable, eps_root).
  rng = np.random.default_rng(0)
  g_params = {"w": jnp.asarray(rng.normal(size=(2, 2)), jnp.float32),
              "b": jnp.zeros(2, jnp.float32)}
  d_params = {"w1": jnp.asarray(rng.normal(size=(2, 8)), jnp.float32),
              "b1": jnp.zeros(8, jnp.float32),
              "w2": jnp.asarray(rng.normal(size=(8,)), jnp.float32),
              "b2": jnp.float32(0.0)}
  k_steps = 4
  batches = jnp.asarray(rng.normal(size=(k_steps, 16, 2)) + 3.0, jnp.float32)
  opt = optax.adam(0.05, b1=0.5, eps_root=1e-8)
  key = jax.random.key(5)

  def d_loss(d, g, x, key):
    z = jax.random.normal(key, x.shape)
    fake = z @ g["w"] + g["b"]
    return jnp.mean(jax.nn.softplus(-_mlp(d, x)) + jax.nn.softplus(_mlp(d, fake)))

  def g_loss(g, d, key):
    z = jax.random.normal(key, (32, 2))
    return jnp.mean(jax.nn.softplus(-_mlp(d, z @ g["w"] + g["b"])))

  def loss_fn(g):
    return gan.unrolled_generator_loss(key, g, d_params, opt.init(d_params), batches,
                                       d_loss_fn=d_loss, g_loss_fn=g_loss,
                                       d_optimizer=opt, unroll_steps=k_steps)

  (loss, aux), grad = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(g_params)

  # Reference: the same key schedule, written as an explicit Python loop.
  def reference(g):
    g_key, d_key = jax.random.split(key)
    step_keys = jax.random.split(d_key, k_steps)
    d, s = d_params, opt.init(d_params)
    firsts = []
    for step in range(k_steps):
      grads = jax.grad(d_loss)(d, g, batches[step], step_keys[step])
      updates, s = opt.update(grads, s, d)
      d = optax.apply_updates(d, updates)
      firsts.append(d)
    return g_loss(g, d, g_key), (firsts[0], d)

  # Same math, different op order: they differ by float32 rounding, amplified in the
  # second-order terms through Adam's 1/(√ν + ε); hence rtol 1e-3.
  (ref_loss, (ref_first, d_k)), ref_grad = jax.jit(
      jax.value_and_grad(reference, has_aux=True))(g_params)
  np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
  for name in grad:
    np.testing.assert_allclose(grad[name], ref_grad[name], rtol=1e-3, atol=1e-5)
  for name in ref_first:
    np.testing.assert_allclose(aux["d_params"][name], ref_first[name], rtol=1e-5,
                               atol=1e-7)
  # The gradient through the unroll differs from the one at the unrolled D held fixed
  # (what a stop_gradient on θ_D^K would give), so the test can tell them apart.
  g_key = jax.random.split(key)[0]
  frozen = jax.grad(lambda g: g_loss(g, d_k, g_key))(g_params)
  assert not np.allclose(grad["w"], frozen["w"], rtol=1e-2)


def test_unrolled_validates_batches():
  d_loss, g_loss = _scalar_problem()
  opt = optax.sgd(LR)
  d0 = {"v": jnp.float32(0.0)}
  with pytest.raises(ValueError, match="leading axis"):
    gan.unrolled_generator_loss(jax.random.key(0), {"v": jnp.float32(0.0)}, d0,
                                opt.init(d0), jnp.zeros(2), d_loss_fn=d_loss,
                                g_loss_fn=g_loss, d_optimizer=opt, unroll_steps=3)


@pytest.mark.parametrize("real_term", [True, False])
def test_gan_step_unrolled_matches_hand_written_adam_unroll(real_term):
  """gan_step with K = 3 against the unroll written out: D's Adam by hand (its real state
  after two steps), K updates on the last D update's real batch and samples G(z), G's
  non-saturating loss at θ_D^K (minus D's real-data loss there with unroll_real_term), jax.grad
  through all of it (Metz et al. 2017, Eq. 7–8)."""
  from gen_jax import losses  # pylint: disable=g-import-not-at-top
  from gen_jax.nets.gan_mlp import MLPDiscriminator  # pylint: disable=g-import-not-at-top
  from gen_jax.nets.gan_mlp import MLPGenerator  # pylint: disable=g-import-not-at-top
  k_steps, lr, b1, b2, eps_root, latent, n = 3, 0.05, 0.5, 0.999, 1e-8, 3, 16
  _, d_opt = gan.gan_optimizers("non_saturating", learning_rate=lr, beta1=b1, beta2=b2)
  game = gan.GANGame(MLPGenerator((2,), hidden=(8,)), MLPDiscriminator(hidden=(8,)),
                     optax.sgd(1.0), d_opt, loss="non_saturating", latent_dim=latent,
                     data_shape=(2,), data_key="x", unroll_steps=k_steps,
                     unroll_real_term=real_term)
  rng = np.random.default_rng(0)
  batch = lambda: {"x": jnp.asarray(rng.normal(size=(n, 2)) + 2.0, jnp.float32)}
  step = jax.jit(lambda s, b, k: gan.gan_step(game, s, b, k))
  state = gan.gan_init(game, jax.random.key(0))
  for i in range(2):  # D's Adam state is no longer zero
    state, _ = step(state, batch(), jax.random.key(10 + i))
  real, key = batch(), jax.random.key(7)
  new, metrics = step(state, real, key)

  g_apply = lambda p, z: game.generator.apply({"params": p}, z, None, train=True)
  d_apply = lambda p, x: game.discriminator.apply({"params": p}, x, None, train=True)
  adam_state = state.opt_state["d"][0]
  k_d = jax.random.split(key, 3)[0]
  z = jax.random.normal(jax.random.split(jax.random.split(k_d, 1)[0])[0], (n, latent))

  def reference(g_params, hold_unrolled=False):
    fake = g_apply(g_params, z)
    d, mu, nu, t = state.params["d"], adam_state.mu, adam_state.nu, adam_state.count
    first = None
    for _ in range(k_steps):
      grads = jax.grad(lambda p: losses.minimax_discriminator_loss(
          d_apply(p, real["x"]), d_apply(p, fake)).mean())(d)
      t = t + 1
      mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, mu, grads)
      nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, nu, grads)
      d = jax.tree.map(
          lambda p, m, v: p - lr * (m / (1 - b1**t)) /
          (jnp.sqrt(v / (1 - b2**t) + eps_root) + 1e-8), d, mu, nu)
      first = d if first is None else first
    if hold_unrolled:
      d = jax.lax.stop_gradient(d)
    # f_K = G's loss at θ_D^K minus D's real-data loss there, −log σ(D_K(x)).
    loss = losses.non_saturating_generator_loss(d_apply(d, fake)).mean()
    if real_term:
      loss = loss + jnp.mean(jax.nn.log_sigmoid(d_apply(d, real["x"])))
    return loss, first

  (ref_loss, first), ref_grad = jax.jit(jax.value_and_grad(reference, has_aux=True))(
      state.params["g"])
  np.testing.assert_allclose(metrics["g_loss_unrolled"], ref_loss, rtol=1e-5)
  got_grad = jax.tree.map(lambda a, b: a - b, state.params["g"], new.params["g"])
  for got, want in zip(jax.tree.leaves(got_grad), jax.tree.leaves(ref_grad)):
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-6)
  # D's real update is the first unrolled one (Adam's 1/(√ν̂ + ε) amplifies float32
  # rounding of the two op orders to ~1e-6 of the step size 0.05).
  for got, want in zip(jax.tree.leaves(new.params["d"]), jax.tree.leaves(first)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
  # The test tells the unrolled gradient from the one at θ_D^K held fixed.
  held = jax.jit(jax.grad(lambda g: reference(g, True)[0]))(state.params["g"])
  assert max(float(jnp.max(jnp.abs(a - b))) for a, b in
             zip(jax.tree.leaves(held), jax.tree.leaves(ref_grad))) > 1e-3 * max(
                 float(jnp.max(jnp.abs(a))) for a in jax.tree.leaves(ref_grad))


def test_unrolled_refuses_fresh_generator_noise():
  from gen_jax.nets.gan_mlp import MLPDiscriminator  # pylint: disable=g-import-not-at-top
  from gen_jax.nets.gan_mlp import MLPGenerator  # pylint: disable=g-import-not-at-top
  g_opt, d_opt = gan.gan_optimizers("non_saturating", learning_rate=1e-3)
  with pytest.raises(ValueError, match="fresh_generator_noise must be False"):
    gan.GANGame(MLPGenerator((2,), hidden=(8,)), MLPDiscriminator(hidden=(8,)), g_opt, d_opt,
                loss="non_saturating", latent_dim=3, data_shape=(2,), unroll_steps=2,
                fresh_generator_noise=True)
