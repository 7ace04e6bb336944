"""VAE losses against NumPy/SciPy closed forms and Monte Carlo, all under jax.jit."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from gen_jax import losses

RNG = np.random.default_rng(0)


def test_gaussian_kl_matches_closed_form_and_scipy_entropy_formula():
  mean = RNG.normal(size=(5, 3, 4)).astype(np.float32)
  log_var = RNG.normal(size=(5, 3, 4)).astype(np.float32)
  got = jax.jit(losses.gaussian_kl)(mean, log_var)
  var = np.exp(log_var.astype(np.float64))
  # KL(N(m, s²) || N(0, 1)) = log(1/s) + (s² + m²)/2 − 1/2, per dimension.
  want = (-0.5 * log_var + 0.5 * (var + mean.astype(np.float64)**2) - 0.5).reshape(5, -1).sum(1)
  assert got.shape == (5,)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_gaussian_kl_monte_carlo():
  mean = np.array([[0.7, -1.2, 0.1]], np.float32)
  log_var = np.array([[-0.5, 0.3, -1.5]], np.float32)
  n = 200_000
  z = mean + np.exp(0.5 * log_var) * RNG.standard_normal((n, 3)).astype(np.float32)
  log_q = stats.norm.logpdf(z, mean, np.exp(0.5 * log_var)).sum(1)
  log_p = stats.norm.logpdf(z).sum(1)
  samples = log_q - log_p
  estimate, stderr = samples.mean(), samples.std() / math.sqrt(n)
  got = float(jax.jit(losses.gaussian_kl)(mean, log_var)[0])
  assert abs(got - estimate) < 5 * stderr, (got, estimate, stderr)


def test_gaussian_kl_rejects_mismatched_even_if_broadcastable():
  with pytest.raises(ValueError, match=r"mean and log_var must have equal shapes, got mean: "
                     r"\(4, 3\), log_var: \(4, 1\)"):
    losses.gaussian_kl(jnp.zeros((4, 3)), jnp.zeros((4, 1)))


def test_bernoulli_log_likelihood_matches_numpy_and_is_stable():
  x = (RNG.random((6, 10)) > 0.5).astype(np.float32)
  logits = RNG.normal(size=(6, 10)).astype(np.float32) * 3
  p = special.expit(logits.astype(np.float64))
  want = (x * np.log(p) + (1 - x) * np.log1p(-p)).sum(1)
  got = jax.jit(losses.bernoulli_log_likelihood)(x, logits)
  np.testing.assert_allclose(got, want, rtol=1e-5)
  big = jnp.array([[1e4, -1e4, 1e4, -1e4]])
  xb = jnp.array([[1.0, 0.0, 0.0, 1.0]])
  val = jax.jit(losses.bernoulli_log_likelihood)(xb, big)
  np.testing.assert_allclose(val, [-2e4], rtol=1e-6)
  grad = jax.jit(jax.grad(lambda l: losses.bernoulli_log_likelihood(xb, l).sum()))(big)
  assert np.all(np.isfinite(grad))
  np.testing.assert_allclose(grad, [[0.0, 0.0, -1.0, 1.0]], atol=1e-6)


def test_bernoulli_log_likelihood_shape_error():
  with pytest.raises(ValueError, match=r"x and logits must have equal shapes, got x: \(2, 3\), "
                     r"logits: \(2, 4\)"):
    losses.bernoulli_log_likelihood(jnp.zeros((2, 3)), jnp.zeros((2, 4)))


@pytest.mark.parametrize("log_var_shape", [(), (3, 4), (5, 3, 4)])
def test_gaussian_log_likelihood_matches_scipy(log_var_shape):
  x = RNG.normal(size=(5, 3, 4)).astype(np.float32)
  mean = RNG.normal(size=(5, 3, 4)).astype(np.float32)
  log_var = RNG.normal(size=log_var_shape).astype(np.float32)
  got = jax.jit(losses.gaussian_log_likelihood)(x, mean, log_var)
  want = stats.norm.logpdf(x, mean, np.exp(0.5 * np.broadcast_to(log_var, x.shape))
                           ).reshape(5, -1).sum(1)
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_gaussian_log_likelihood_bad_log_var():
  with pytest.raises(ValueError, match=r"log_var must broadcast to the shape of x \(2, 3\), "
                     r"got shape \(4,\)"):
    losses.gaussian_log_likelihood(jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.zeros((4,)))
  with pytest.raises(ValueError, match=r"x must have a batch axis \[B, \.\.\.\], got shape \(\)"):
    losses.gaussian_log_likelihood(jnp.zeros(()), jnp.zeros(()))


def test_iwae_bound_is_logmeanexp():
  lw = RNG.normal(size=(4, 7)).astype(np.float32) * 10
  got = jax.jit(losses.iwae_bound)(lw)
  want = special.logsumexp(lw.astype(np.float64), axis=1) - np.log(7)
  np.testing.assert_allclose(got, want, rtol=1e-6)
  # K = 1 is the ELBO itself.
  np.testing.assert_allclose(losses.iwae_bound(lw[:, :1]), lw[:, 0])
  with pytest.raises(Exception):
    losses.iwae_bound(lw[0])


def test_vae_squared_error_loss_is_alpha_l1_plus_kl():
  x = RNG.random((3, 8)).astype(np.float32)
  rec = RNG.random((3, 8)).astype(np.float32)
  mean = RNG.normal(size=(3, 2)).astype(np.float32)
  log_var = RNG.normal(size=(3, 2)).astype(np.float32)
  f = jax.jit(lambda *a: losses.vae_squared_error_loss(*a, alpha=2.5))
  kl = 0.5 * (np.exp(log_var) + mean**2 - 1 - log_var).sum(1)
  np.testing.assert_allclose(f(x, rec, mean, log_var), 2.5 * ((x - rec)**2).sum(1) + kl,
                             rtol=1e-5)


def test_diagonal_gaussian_kl_matches_general_formula():
  shape = (4, 3)
  mq, mp = RNG.normal(size=shape), RNG.normal(size=shape)
  lq, lp = RNG.normal(size=shape), RNG.normal(size=shape)
  got = jax.jit(losses.diagonal_gaussian_kl)(*(a.astype(np.float32) for a in (mq, lq, mp, lp)))
  sq, sp = np.exp(0.5 * lq), np.exp(0.5 * lp)
  want = (np.log(sp / sq) + (sq**2 + (mq - mp)**2) / (2 * sp**2) - 0.5).sum(1)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  # Against a standard-normal prior it reduces to gaussian_kl.
  z = np.zeros(shape, np.float32)
  np.testing.assert_allclose(losses.diagonal_gaussian_kl(mq, lq, z, z),
                             losses.gaussian_kl(mq, lq), rtol=1e-6)


def test_free_bits_floors_batch_mean_per_dimension():
  kl = np.array([[0.1, 2.0, 0.0], [0.3, 4.0, 0.0]], np.float32)  # dim means 0.2, 3.0, 0.0
  got = jax.jit(lambda k: losses.free_bits_kl(k, free_bits=0.5))(kl)
  np.testing.assert_allclose(got, [0.5 + 2.0 + 0.5, 0.5 + 4.0 + 0.5])
  np.testing.assert_allclose(got.mean(), np.maximum(kl.mean(0), 0.5).sum())
  # No gradient flows into floored dimensions.
  g = jax.grad(lambda k: losses.free_bits_kl(k, free_bits=0.5).sum())(jnp.asarray(kl))
  np.testing.assert_allclose(g, [[0, 1, 0], [0, 1, 0]])
  with pytest.raises(ValueError, match=r"free_bits must be a number >= 0.0, got -1.0"):
    losses.free_bits_kl(kl, free_bits=-1.0)
  with pytest.raises(ValueError, match=r"kl_per_dim must have shape \[B, D\], got shape \(3,\)"):
    losses.free_bits_kl(kl[0], free_bits=0.5)
