"""Tests for gen_jax/losses/_gan.py against NumPy / closed forms, under jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from gen_jax import losses

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=16).astype(np.float32) * 3
FAKE = RNG.normal(size=16).astype(np.float32) * 3
EXTREME = np.array([-1e4, -100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0, 1e4], np.float32)


def _np_sigmoid(x):
  return scipy.special.expit(np.asarray(x, np.float64))


def test_minimax_discriminator_loss_matches_numpy():
  got = jax.jit(losses.minimax_discriminator_loss)(REAL, FAKE)
  want = -np.log(_np_sigmoid(REAL)) - np.log(1.0 - _np_sigmoid(FAKE))
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  assert got.shape == (16,)


def test_hinge_losses_match_numpy():
  got = jax.jit(losses.hinge_discriminator_loss)(REAL, FAKE)
  want = np.maximum(0.0, 1.0 - REAL.astype(np.float64)) + np.maximum(0.0, 1.0 + FAKE)
  np.testing.assert_allclose(got, want, rtol=1e-6)
  assert got.shape == (16,)
  np.testing.assert_allclose(jax.jit(losses.hinge_generator_loss)(FAKE), -FAKE)
  # Beyond the margins (D(x) ≥ 1, D(G(z)) ≤ −1) the loss and its gradient are 0.
  real, fake = jnp.asarray([1.0, 3.0, 0.5]), jnp.asarray([-1.0, -4.0, -0.5])
  value, (g_real, g_fake) = jax.jit(jax.value_and_grad(
      lambda r, f: jnp.sum(losses.hinge_discriminator_loss(r, f)), argnums=(0, 1)))(
          real, fake)
  np.testing.assert_allclose(value, 0.5 + 0.5)
  np.testing.assert_array_equal(g_real, [0.0, 0.0, -1.0])
  np.testing.assert_array_equal(g_fake, [0.0, 0.0, 1.0])


def _np_soft_target_cross_entropy(logits, target):
  """Binary cross-entropy −t log σ(l) − (1 − t) log(1 − σ(l)), float64."""
  p = _np_sigmoid(logits)
  return -target * np.log(p) - (1.0 - target) * np.log1p(-p)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.3, 0.9])
def test_minimax_discriminator_one_sided_label_smoothing_matches_numpy(alpha):
  got = jax.jit(lambda r, f: losses.minimax_discriminator_loss(
      r, f, label_smoothing=alpha))(REAL, FAKE)
  # One-sided: the real target is 1 − α, the fake target stays 0.
  want = (_np_soft_target_cross_entropy(REAL, 1.0 - alpha)
          + _np_soft_target_cross_entropy(FAKE, 0.0))
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  # The optimal real logit is σ⁻¹(1 − α): the gradient vanishes there.
  if alpha > 0:
    l_star = jnp.full(3, np.log((1 - alpha) / alpha), jnp.float32)
    g = jax.jit(jax.grad(lambda l: jnp.sum(losses.minimax_discriminator_loss(
        l, jnp.zeros(3), label_smoothing=alpha))))(l_star)
    np.testing.assert_allclose(g, 0.0, atol=1e-6)


def test_label_smoothing_default_is_the_unsmoothed_loss_and_finite_at_extremes():
  x = jnp.asarray(EXTREME)
  plain = jax.jit(losses.minimax_discriminator_loss)(x, x[::-1])
  zero = jax.jit(lambda r, f: losses.minimax_discriminator_loss(
      r, f, label_smoothing=0.0))(x, x[::-1])
  np.testing.assert_array_equal(plain, zero)
  f = lambda l: jnp.sum(losses.minimax_discriminator_loss(l, l[::-1], label_smoothing=0.2))
  value, grad = jax.jit(jax.value_and_grad(f))(x)
  assert np.isfinite(value) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("alpha", [-0.1, 1.0, 1.5])
def test_label_smoothing_outside_unit_interval_is_an_error(alpha):
  with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0.0, 1.0\), got "):
    losses.minimax_discriminator_loss(REAL, FAKE, label_smoothing=alpha)


def test_generator_losses_match_numpy():
  d = _np_sigmoid(FAKE)
  cases = [
      (losses.minimax_generator_loss, np.log(1.0 - d)),
      (losses.non_saturating_generator_loss, -np.log(d)),
      # σ⁻¹(D) recomputed from the probability: an independent route to the logit.
      (losses.maximum_likelihood_generator_loss, -0.5 * np.exp(np.log(d / (1 - d)))),
  ]
  for fn, want in cases:
    np.testing.assert_allclose(jax.jit(fn)(FAKE), want, rtol=1e-5, atol=1e-6,
                               err_msg=fn.__name__)


def test_least_squares_and_wasserstein_match_numpy():
  got = jax.jit(lambda r, f: losses.least_squares_discriminator_loss(
      r, f, real_target=0.7, fake_target=-0.3))(REAL, FAKE)
  np.testing.assert_allclose(got, 0.5 * (REAL - 0.7)**2 + 0.5 * (FAKE + 0.3)**2,
                             rtol=1e-6)
  got = jax.jit(lambda f: losses.least_squares_generator_loss(f, target=0.4))(FAKE)
  np.testing.assert_allclose(got, 0.5 * (FAKE - 0.4)**2, rtol=1e-6)
  np.testing.assert_allclose(
      jax.jit(losses.least_squares_discriminator_loss)(REAL, FAKE),
      0.5 * (REAL - 1)**2 + 0.5 * FAKE**2, rtol=1e-6)
  np.testing.assert_allclose(jax.jit(losses.wasserstein_critic_loss)(REAL, FAKE),
                             FAKE - REAL, rtol=1e-6)
  np.testing.assert_allclose(jax.jit(losses.wasserstein_generator_loss)(FAKE), -FAKE)


def _scalarize(fn, n_args):
  if n_args == 2:
    return lambda x: jnp.sum(fn(x, x[::-1]))
  return lambda x: jnp.sum(fn(x))


@pytest.mark.parametrize("fn,n_args", [
    (losses.minimax_discriminator_loss, 2),
    (losses.minimax_generator_loss, 1),
    (losses.hinge_discriminator_loss, 2),
    (losses.hinge_generator_loss, 1),
    (losses.non_saturating_generator_loss, 1),
    (losses.maximum_likelihood_generator_loss, 1),
    (losses.least_squares_discriminator_loss, 2),
    (losses.least_squares_generator_loss, 1),
    (losses.wasserstein_critic_loss, 2),
    (losses.wasserstein_generator_loss, 1),
])
def test_finite_values_and_gradients_at_extreme_logits(fn, n_args):
  f = _scalarize(fn, n_args)
  value, grad = jax.jit(jax.value_and_grad(f))(jnp.asarray(EXTREME))
  assert np.isfinite(value), fn.__name__
  assert np.all(np.isfinite(grad)), (fn.__name__, grad)


def test_logit_losses_exact_at_extremes():
  x = jnp.asarray(EXTREME)
  ns = jax.jit(losses.non_saturating_generator_loss)(x)
  # −log σ(l) = softplus(−l): ≈ −l for l ≪ 0 and ≈ e^{−l} for l ≫ 0.
  np.testing.assert_allclose(ns[0], 1e4, rtol=1e-6)
  assert ns[-1] == 0.0
  g = jax.jit(jax.grad(lambda l: jnp.sum(losses.non_saturating_generator_loss(l))))(x)
  np.testing.assert_allclose(g, -(1 - _np_sigmoid(EXTREME)), rtol=1e-5, atol=1e-30)
  mm = jax.jit(jax.grad(lambda l: jnp.sum(losses.minimax_generator_loss(l))))(x)
  np.testing.assert_allclose(mm, -_np_sigmoid(EXTREME), rtol=1e-5, atol=1e-30)


def test_maximum_likelihood_tangent_continuation():
  m = 50.0
  x = jnp.asarray([10.0, 49.0, 60.0, 1e4])
  value = jax.jit(losses.maximum_likelihood_generator_loss)(x)
  grad = jax.jit(jax.grad(
      lambda l: jnp.sum(losses.maximum_likelihood_generator_loss(l))))(x)
  want = np.where(np.asarray(x) <= m, -0.5 * np.exp(np.minimum(x, m)),
                  -0.5 * np.exp(m) * (1 + np.asarray(x, np.float64) - m))
  np.testing.assert_allclose(value, want, rtol=1e-5)
  want_grad = -0.5 * np.exp(np.minimum(np.asarray(x, np.float64), m))
  np.testing.assert_allclose(grad, want_grad, rtol=1e-5)


def test_shape_validation():
  with pytest.raises(ValueError, match=r"real_logits must have shape \[B\] .*squeeze a trailing "
                     r"\[B, 1\] axis.*, got shape \(4, 1\)"):
    losses.minimax_discriminator_loss(jnp.zeros((4, 1)), jnp.zeros((4, 1)))
  with pytest.raises(ValueError, match=r"real_scores and fake_scores must have equal shapes, "
                     r"got real_scores: \(4,\), fake_scores: \(5,\)"):
    losses.wasserstein_critic_loss(jnp.zeros(4), jnp.zeros(5))
  with pytest.raises(ValueError, match="fake_logits"):
    losses.non_saturating_generator_loss(jnp.zeros((4, 1)))
  with pytest.raises(ValueError, match="real_logits"):
    losses.hinge_discriminator_loss(jnp.zeros((4, 1)), jnp.zeros(4))
  with pytest.raises(ValueError, match="must have equal shapes"):
    losses.hinge_discriminator_loss(jnp.zeros(4), jnp.zeros(3))
  with pytest.raises(ValueError, match="fake_logits"):
    losses.hinge_generator_loss(jnp.zeros((4, 1)))
  with pytest.raises(ValueError, match=r"critic_fn must map .* shape \[B\]=\(4,\), got shape "
                     r"\(4, 1\)"):
    losses.gradient_penalty(jax.random.key(0), lambda x: x.sum((1, 2))[:, None],
                            jnp.zeros((4, 3, 2)), jnp.zeros((4, 3, 2)))
  with pytest.raises(ValueError, match=r"real and fake must have equal shapes, got real: "
                     r"\(4, 3\), fake: \(4, 2\)"):
    losses.gradient_penalty(jax.random.key(0), lambda x: x.sum(1), jnp.zeros((4, 3)),
                            jnp.zeros((4, 2)))
  with pytest.raises(ValueError, match=r"real must have shape \[B, \.\.\.\] \(at least 2 axes\), "
                     r"got shape \(4,\)"):
    losses.dragan_penalty(jax.random.key(0), lambda x: x, jnp.zeros(4))
  with pytest.raises(ValueError, match=r"key must be a PRNG key.*got dtype float32, shape \(2,\)"):
    losses.dragan_penalty(jnp.zeros(2), lambda x: x.sum(1), jnp.zeros((4, 3)))


# --- gradient penalties ------------------------------------------------------


def test_gradient_penalty_linear_critic_closed_form():
  # f(x) = <w, x>: ∇f = w everywhere, so the penalty is (‖w‖ − target)² for any ε.
  w = RNG.normal(size=(3, 4, 2)).astype(np.float32)
  real = RNG.normal(size=(5, 3, 4, 2)).astype(np.float32)
  fake = RNG.normal(size=(5, 3, 4, 2)).astype(np.float32)
  critic = lambda x: jnp.einsum("bijk,ijk->b", x, w)
  got = jax.jit(lambda k, r, f: losses.gradient_penalty(k, critic, r, f, target=2.0))(
      jax.random.key(1), real, fake)
  want = (np.linalg.norm(w) - 2.0)**2
  np.testing.assert_allclose(got, np.full(5, want), rtol=1e-5)


def test_gradient_penalty_quadratic_critic_uses_per_example_epsilon():
  # f(x) = ½‖A x‖²: ∇f(x̂) = AᵀA x̂ depends on where x̂ is, so ε's shape matters.
  batch, dim = 6, 4
  a = RNG.normal(size=(dim, dim)).astype(np.float32)
  real = RNG.normal(size=(batch, 2, dim)).astype(np.float32)
  fake = RNG.normal(size=(batch, 2, dim)).astype(np.float32)
  critic = lambda x: 0.5 * jnp.sum(jnp.einsum("ij,bkj->bki", a, x)**2, axis=(1, 2))
  key = jax.random.key(7)
  got = np.asarray(jax.jit(lambda k: losses.gradient_penalty(k, critic, real, fake))(key))

  def reference(eps):
    x_hat = eps * real + (1 - eps) * fake
    grad = np.einsum("ij,bkj->bki", a.T @ a, x_hat.astype(np.float64))
    return (np.linalg.norm(grad.reshape(batch, -1), axis=1) - 1.0)**2

  eps_right = np.asarray(jax.random.uniform(key, (batch, 1, 1)))
  np.testing.assert_allclose(got, reference(eps_right), rtol=1e-4)
  # The classic bugs give different numbers, so this test would catch them.
  eps_elementwise = np.asarray(jax.random.uniform(key, real.shape))
  eps_shared = np.full((batch, 1, 1), eps_right[0, 0, 0])
  for wrong in (eps_elementwise, eps_shared):
    assert not np.allclose(got, reference(wrong), rtol=1e-2)


def test_gradient_penalty_is_differentiable_and_finite_at_zero_gradient():
  # A critic with zero input gradient (dead ReLU) must not produce NaN gradients.
  real = jnp.ones((3, 2))
  def penalty(w):
    critic = lambda x: jax.nn.relu(x @ w - 100.0)
    return jnp.sum(losses.gradient_penalty(jax.random.key(0), critic, real, -real))
  value, grad = jax.jit(jax.value_and_grad(penalty))(jnp.ones(2))
  np.testing.assert_allclose(value, 3.0)
  assert np.all(np.isfinite(grad))
  # Gradient of the penalty w.r.t. the critic's params for the linear critic:
  # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1) w/‖w‖, per example.
  w = jnp.asarray([0.3, -2.0])
  g = jax.jit(jax.grad(lambda w: jnp.sum(losses.gradient_penalty(
      jax.random.key(0), lambda x: x @ w, real, -real))))(w)
  norm = np.linalg.norm(w)
  np.testing.assert_allclose(g, 3 * 2 * (norm - 1) * np.asarray(w) / norm, rtol=1e-5)


def _quadratic_critic_setup(batch=6, dim=4):
  rng = np.random.default_rng(123)  # local: the data must not depend on test order
  a = rng.normal(size=(dim, dim)).astype(np.float32)
  real = rng.normal(size=(batch, 2, dim)).astype(np.float32)
  fake = rng.normal(size=(batch, 2, dim)).astype(np.float32)
  critic = lambda x: 0.5 * jnp.sum(jnp.einsum("ij,bkj->bki", a, x)**2, axis=(1, 2))

  def grad_norm(x_hat):  # ∇f(x̂) = AᵀA x̂, float64
    grad = np.einsum("ij,bkj->bki", (a.T @ a).astype(np.float64), x_hat)
    return np.linalg.norm(grad.reshape(batch, -1), axis=1)

  return critic, real, fake, grad_norm


@pytest.mark.parametrize("target", [0.0, 4.0, 5.0])
def test_gradient_penalty_target_and_one_sided_forms(target):
  critic, real, fake, grad_norm = _quadratic_critic_setup()
  key = jax.random.key(11)
  eps = np.asarray(jax.random.uniform(key, (6, 1, 1)), np.float64)
  norm = grad_norm(eps * real + (1 - eps) * fake)
  # Both sides of the target occur, so the one-sided form differs from the two-sided.
  assert target == 0.0 or (norm.min() < target < norm.max()), norm
  for one_sided, want in ((False, (norm - target)**2),
                          (True, np.maximum(0.0, norm - target)**2)):
    got = jax.jit(lambda k, r, f: losses.gradient_penalty(
        k, critic, r, f, target=target, one_sided=one_sided))(key, real, fake)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
  # TF-GAN's form (‖g‖/t − 1)²: its weight λ_tf is λ_tf / t² here (the docstring's rule).
  if target > 0:
    lam_tf = 10.0
    got = jax.jit(lambda k: losses.gradient_penalty(k, critic, real, fake, target=target))(key)
    np.testing.assert_allclose(lam_tf / target**2 * np.asarray(got),
                               lam_tf * (norm / target - 1.0)**2, rtol=1e-4, atol=1e-6)


def test_dragan_penalty_one_sided():
  batch, dim = 8, 3
  real = RNG.normal(size=(batch, dim)).astype(np.float32)
  c = RNG.normal(size=dim).astype(np.float32)
  critic = lambda x: jnp.sum((x - c)**2, axis=-1)
  key = jax.random.key(5)
  u = np.asarray(jax.random.uniform(key, real.shape), np.float64)
  norm = np.linalg.norm(2 * (real + 0.5 * real.std() * u - c), axis=1)
  target = float(np.median(norm))
  got = jax.jit(lambda k, x: losses.dragan_penalty(
      k, critic, x, target=target, one_sided=True))(key, real)
  np.testing.assert_allclose(got, np.maximum(0.0, norm - target)**2, rtol=1e-4, atol=1e-6)
  assert np.sum(np.asarray(got) == 0) >= batch // 2


def test_penalty_target_must_be_nonnegative():
  with pytest.raises(ValueError, match=r"target must be a number >= 0.0, got -1"):
    losses.gradient_penalty(jax.random.key(0), lambda x: x.sum(1), jnp.zeros((2, 3)),
                            jnp.zeros((2, 3)), target=-1.0)
  with pytest.raises(ValueError, match=r"target must be a number >= 0.0, got -0.5"):
    losses.dragan_penalty(jax.random.key(0), lambda x: x.sum(1), jnp.zeros((2, 3)),
                          target=-0.5)


# Typed keys (jax.random.key) and legacy uint32 keys (jax.random.PRNGKey, shape (2,)) of
# the same seed hold the same threefry bits: every keyed loss must accept both and agree.
KEY_KINDS = {"typed": jax.random.key, "legacy_uint32": jax.random.PRNGKey}


@pytest.mark.parametrize("kind", sorted(KEY_KINDS))
def test_keyed_penalties_accept_typed_and_legacy_keys(kind):
  critic, real, fake, _ = _quadratic_critic_setup()
  key = KEY_KINDS[kind](42)
  reference_key = jax.random.key(42)
  for fn in (lambda k: losses.gradient_penalty(k, critic, real, fake),
             lambda k: losses.gradient_penalty(k, critic, real, fake, one_sided=True),
             lambda k: losses.dragan_penalty(k, critic, real)):
    got = jax.jit(fn)(key)
    assert got.shape == (6,)
    np.testing.assert_array_equal(got, jax.jit(fn)(reference_key))


def test_dragan_penalty_quadratic_critic():
  batch, dim = 5, 3
  real = RNG.normal(size=(batch, dim)).astype(np.float32) * 2 + 1
  c = RNG.normal(size=dim).astype(np.float32)
  critic = lambda x: jnp.sum((x - c)**2, axis=-1)  # ∇ = 2(x − c)
  key = jax.random.key(3)
  got = jax.jit(lambda k, x: losses.dragan_penalty(
      k, critic, x, perturbation_scale=0.7, target=0.5))(key, real)
  u = np.asarray(jax.random.uniform(key, real.shape))
  x_hat = real + 0.7 * real.std() * u  # std over the whole batch (one scalar)
  want = (np.linalg.norm(2 * (x_hat - c), axis=1) - 0.5)**2
  np.testing.assert_allclose(got, want, rtol=1e-4)
  per_feature = real + 0.7 * real.std(axis=0) * u
  assert not np.allclose(got, (np.linalg.norm(2 * (per_feature - c), axis=1) - 0.5)**2,
                         rtol=1e-2)


def test_dragan_penalty_linear_critic():
  w = np.asarray([3.0, 4.0], np.float32)
  got = jax.jit(lambda x: losses.dragan_penalty(jax.random.key(0), lambda v: v @ w, x))(
      jnp.asarray(RNG.normal(size=(4, 2)), jnp.float32))
  np.testing.assert_allclose(got, np.full(4, 16.0), rtol=1e-5)


# --- BEGAN -------------------------------------------------------------------


def test_began_losses():
  real, fake = np.abs(REAL), np.abs(FAKE)
  got = jax.jit(losses.began_discriminator_loss)(real, fake, jnp.float32(0.3))
  np.testing.assert_allclose(got, real - 0.3 * fake, rtol=1e-6)
  np.testing.assert_allclose(jax.jit(losses.began_generator_loss)(fake), fake)
  # k is a control variable: no gradient flows into it.
  dk = jax.grad(lambda k: jnp.sum(losses.began_discriminator_loss(real, fake, k)))(0.3)
  assert dk == 0.0
  with pytest.raises(ValueError,
                     match=r"k must have shape \[\] \(a scalar k_t\), got shape \(2,\)"):
    losses.began_discriminator_loss(real, fake, jnp.zeros(2))
