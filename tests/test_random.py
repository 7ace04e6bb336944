"""gen_jax.random: reparameterization, per-example keys, and both kinds of key everywhere."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import random
from gen_jax import vae


def test_reparameterize_moments_and_determinism():
  mean = jnp.array([1.0, -2.0, 0.5])
  log_var = jnp.array([0.0, 1.0, -2.0])
  f = jax.jit(jax.vmap(vae.reparameterize, in_axes=(0, None, None)))
  n = 100_000
  z = np.asarray(f(jax.random.split(jax.random.key(0), n), mean, log_var), np.float64)
  std = np.exp(0.5 * np.asarray(log_var))
  # Sample mean within 5 standard errors; sample variance within 5 s.e. of (2σ⁴/n)^½.
  np.testing.assert_array_less(np.abs(z.mean(0) - mean), 5 * std / np.sqrt(n))
  np.testing.assert_array_less(np.abs(z.var(0) - std**2), 5 * std**2 * np.sqrt(2 / n))
  key = jax.random.key(3)
  np.testing.assert_array_equal(vae.reparameterize(key, mean, log_var),
                                vae.reparameterize(key, mean, log_var))


def test_reparameterize_is_the_stated_key_transform_and_differentiable():
  key = jax.random.key(1)
  mean, log_var = jnp.array([[0.3, -0.4]]), jnp.array([[0.2, -1.0]])
  eps = jax.random.normal(key, (1, 2))
  np.testing.assert_allclose(jax.jit(vae.reparameterize)(key, mean, log_var),
                             mean + jnp.exp(0.5 * log_var) * eps, rtol=1e-6)
  g_mean, g_lv = jax.grad(lambda m, l: vae.reparameterize(key, m, l).sum(), (0, 1))(mean,
                                                                                    log_var)
  np.testing.assert_allclose(g_mean, jnp.ones_like(mean))
  np.testing.assert_allclose(g_lv, 0.5 * jnp.exp(0.5 * log_var) * eps, rtol=1e-6)


def test_reparameterize_shape_error():
  with pytest.raises(ValueError, match=r"mean.*\(2, 3\).*log_var.*\(2, 1\)"):
    vae.reparameterize(jax.random.key(0), jnp.zeros((2, 3)), jnp.zeros((2, 1)))


def test_per_example_keys_make_noise_independent_of_batch_split():
  key = jax.random.key(5)
  full = jax.jit(lambda: random.normal(random.example_keys(key, 8), (8, 3)))()

  def per_device(_):
    return random.normal(random.example_keys(key, 2, axis_name="d"), (2, 3))
  split = jax.pmap(per_device, axis_name="d")(jnp.zeros(4))
  # The noise itself is bitwise identical however the batch is split.
  np.testing.assert_array_equal(np.asarray(split).reshape(8, 3), full)
  assert len(np.unique(np.asarray(full)[:, 0])) == 8


def test_bad_key_shape():
  with pytest.raises(ValueError, match="keys of shape"):
    random.normal(jax.random.split(jax.random.key(0), 3), (4, 2))


def test_vae_reexports_the_shared_reparameterization():
  assert vae.reparameterize is random.reparameterize


KINDS = {"typed": jax.random.key, "legacy": jax.random.PRNGKey}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_random_functions_take_both_kinds_of_key_alike(kind):
  key, typed = KINDS[kind](7), jax.random.key(7)
  mean, log_var = jnp.zeros((4, 3)), jnp.zeros((4, 3))
  pairs = [
      (lambda k: random.reparameterize(k, mean, log_var), jax.random.normal(typed, (4, 3))),
      (lambda k: random.normal(k, (4, 3)), jax.random.normal(typed, (4, 3))),
      (lambda k: random.bits(k, (5,)), jax.random.bits(typed, (5,), jnp.uint32)),
      (lambda k: jax.random.key_data(random.split(k, 3)),
       jax.random.key_data(jax.random.split(typed, 3))),
      (lambda k: jax.random.key_data(random.fold_in(k, jnp.arange(3))),
       jax.random.key_data(jax.vmap(lambda i: jax.random.fold_in(typed, i))(jnp.arange(3)))),
      (lambda k: jax.random.key_data(random.example_keys(k, 4)),
       jax.random.key_data(jax.vmap(lambda i: jax.random.fold_in(typed, i))(jnp.arange(4)))),
      (lambda k: random.bernoulli(k, jnp.full((6,), 0.5)), None),
  ]
  for fn, want in pairs:
    got = jax.jit(fn)(key)
    np.testing.assert_array_equal(got, fn(typed) if want is None else want)
  # Per-example legacy keys [B, 2] are [B] keys.
  keys = jax.random.split(KINDS[kind](1), 4)
  np.testing.assert_array_equal(
      jax.jit(lambda k: random.reparameterize(k, mean, log_var))(keys),
      random.reparameterize(jax.random.split(jax.random.key(1), 4), mean, log_var))


def test_as_key_rejects_what_is_not_a_key():
  with pytest.raises(ValueError, match=r"key must be a typed PRNG key .* got dtype float32 "
                     r"and shape \(2,\)"):
    random.as_key(jnp.zeros(2))
  with pytest.raises(ValueError, match=r"got dtype uint32 and shape \(3,\)"):
    random.as_key(jnp.zeros(3, jnp.uint32))
