"""Objectives against a linear-Gaussian model whose log p(x) is known in closed form."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gen_jax import losses
from gen_jax import vae

# p(z) = N(0, 1), p(x | z) = N(a z + b, s²)  =>  p(x) = N(b, a² + s²),
# p(z | x) = N(a (x − b) / (a² + s²), s² / (a² + s²)).
A, B, S = 1.5, 0.3, 0.8
X = np.array([-1.0, 0.2, 2.5], np.float32)


def _log_weight_fn(q_mean, q_log_var):
  def log_weight(key):
    z = vae.reparameterize(key, q_mean, q_log_var)
    log_px_z = jax.scipy.stats.norm.logpdf(X, A * z + B, S)
    log_pz = jax.scipy.stats.norm.logpdf(z)
    log_q = jax.scipy.stats.norm.logpdf(z, q_mean, jnp.exp(0.5 * q_log_var))
    return log_px_z + log_pz - log_q
  return log_weight


def _exact_posterior():
  var = S**2 / (A**2 + S**2)
  return jnp.asarray(A * (X - B) / (A**2 + S**2)), jnp.full(X.shape, math.log(var), jnp.float32)


def test_importance_sampling_is_exact_with_the_true_posterior():
  lw = _log_weight_fn(*_exact_posterior())
  f = jax.jit(lambda k: vae.importance_sampled_log_likelihood(k, lw, num_samples=200,
                                                              chunk_size=50))
  want = stats.norm.logpdf(X, B, math.sqrt(A**2 + S**2))
  np.testing.assert_allclose(f(jax.random.key(0)), want, rtol=1e-4)


def test_importance_sampling_converges_from_a_worse_proposal_and_bounds_are_ordered():
  mean, log_var = _exact_posterior()
  lw = _log_weight_fn(mean + 0.3, log_var + 0.4)
  want = stats.norm.logpdf(X, B, math.sqrt(A**2 + S**2))
  k = 5000
  f = jax.jit(lambda key: vae.importance_sampled_log_likelihood(key, lw, num_samples=k,
                                                                chunk_size=100))
  # Delta method: s.e. of log(mean w) ≈ std(w) / (√K · mean(w)), from an independent draw.
  w = np.exp(np.asarray(vae.sample_log_weights(jax.random.key(9), lw, k), np.float64))
  stderr = w.std(1) / (np.sqrt(k) * w.mean(1))
  np.testing.assert_array_less(np.abs(np.asarray(f(jax.random.key(1))) - want), 5 * stderr)
  # ELBO (K=1) < IWAE-5 < IWAE-100 ≤ log p(x) in expectation over many draws.
  keys = jax.random.split(jax.random.key(2), 400)
  bound = jax.jit(jax.vmap(lambda k, n: losses.iwae_bound(vae.sample_log_weights(k, lw, n)),
                           in_axes=(0, None)), static_argnums=1)
  draws = {n: np.asarray(bound(keys, n), np.float64) for n in (1, 5, 100)}
  b1, b5, b100 = (draws[n].mean(0) for n in (1, 5, 100))
  se100 = draws[100].std(0) / np.sqrt(len(keys))
  assert np.all(b1 < b5) and np.all(b5 < b100) and np.all(b100 < want + 5 * se100)


def test_importance_sampling_chunk_error():
  with pytest.raises(ValueError,
                     match=r"num_samples must be a multiple of chunk_size \(100\), got 150"):
    vae.importance_sampled_log_likelihood(jax.random.key(0), lambda k: jnp.zeros(3),
                                          num_samples=150, chunk_size=100)


def test_negative_elbo_beta_and_free_bits():
  terms = {"recon_ll": jnp.array([-10.0, -20.0]), "kl": jnp.array([3.0, 1.0]),
           "kl_per_dim": jnp.array([[2.0, 1.0], [0.5, 0.5]])}
  loss, parts = jax.jit(lambda t: vae.negative_elbo(t, beta=0.5))(terms)
  np.testing.assert_allclose(loss, [11.5, 20.5])
  np.testing.assert_allclose(parts["elbo"], [-13.0, -21.0])
  loss_fb, parts_fb = vae.negative_elbo(terms, free_bits=1.0)
  # dim means 1.25 and 0.75: dim 1 is floored to 1.0 nats.
  np.testing.assert_allclose(loss_fb, [10 + 2.0 + 1.0, 20 + 0.5 + 1.0])
  np.testing.assert_allclose(parts_fb["kl"], terms["kl"])  # reported KL stays the true one


def test_active_units():
  kl = jnp.array([[0.5, 0.001, 0.02], [0.7, 0.003, 0.0]])
  assert int(jax.jit(vae.active_units)(kl)) == 1
  assert int(vae.active_units(kl, threshold=0.005)) == 2


@pytest.mark.parametrize("make_key", [jax.random.key, jax.random.PRNGKey])
def test_key_taking_objectives_accept_typed_and_legacy_keys(make_key):
  # A legacy key's trailing (2,) axis must not be read as a batch of keys.
  mean, log_var = _exact_posterior()
  lw = _log_weight_fn(mean, log_var)
  key, typed = make_key(3), jax.random.key(3)
  for fn in (lambda k: vae.importance_sampled_log_likelihood(k, lw, num_samples=20,
                                                             chunk_size=10),
             lambda k: vae.iwae_objective(k, lw, num_samples=4),
             lambda k: vae.sample_log_weights(k, lw, 3),
             lambda k: vae.reparameterize(k, mean, log_var)):
    # The same compiled computation on both kinds of key: equal bit for bit.
    np.testing.assert_array_equal(jax.jit(fn)(key), jax.jit(fn)(typed))
