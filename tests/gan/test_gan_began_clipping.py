"""Tests for gen_jax/gan/_began.py and gen_jax/gan/_clipping.py."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import gan

RNG = np.random.default_rng(1)


def test_began_k_update_matches_numpy_and_clips():
  real = np.abs(RNG.normal(size=8)).astype(np.float32)
  fake = np.abs(RNG.normal(size=6)).astype(np.float32)
  update = jax.jit(lambda k, r, f, lam: gan.began_k_update(k, r, f, gamma=0.5,
                                                             lambda_k=lam))
  for k, lam in [(0.2, 1e-3), (0.99, 10.0), (0.01, -10.0)]:
    want = np.clip(k + lam * (0.5 * real.mean() - fake.mean()), 0.0, 1.0)
    np.testing.assert_allclose(update(k, real, fake, lam), want, rtol=1e-5)
  assert float(update(0.5, real, fake, 1e6)) in (0.0, 1.0)


def test_began_convergence_matches_numpy():
  real = np.abs(RNG.normal(size=8)).astype(np.float32)
  fake = np.abs(RNG.normal(size=8)).astype(np.float32)
  got = jax.jit(lambda r, f: gan.began_convergence(r, f, gamma=0.7))(real, fake)
  want = real.mean() + abs(0.7 * real.mean() - fake.mean())
  np.testing.assert_allclose(got, want, rtol=1e-6)
  with pytest.raises(ValueError, match="real_recon"):
    gan.began_convergence(jnp.zeros((2, 2)), jnp.zeros(2), gamma=0.5)


def test_clip_params():
  params = {"w": jnp.asarray([-3.0, -0.005, 0.0, 0.2]), "b": jnp.asarray(0.02)}
  got = jax.jit(lambda p: gan.clip_params(p, 0.01))(params)
  np.testing.assert_allclose(got["w"], [-0.01, -0.005, 0.0, 0.01])
  np.testing.assert_allclose(got["b"], 0.01)


def test_weight_clipping_lands_params_in_range_exactly():
  clip = 0.01
  # Magnitudes over many binades, so p + (clip(p + u) − p) rounding is exercised.
  scales = 10.0**RNG.uniform(-6, 3, size=(4, 5000))
  params = {"a": jnp.asarray(RNG.normal(size=5000) * scales[0], jnp.float32),
            "b": jnp.asarray(RNG.normal(size=5000) * scales[1], jnp.float32)}
  grads = {"a": jnp.asarray(RNG.normal(size=5000) * scales[2], jnp.float32),
           "b": jnp.asarray(RNG.normal(size=5000) * scales[3], jnp.float32)}
  opt = optax.chain(optax.sgd(1.0), gan.weight_clipping(clip))
  state = opt.init(params)

  @jax.jit
  def step(params, state):
    updates, state = opt.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  new_params, _ = step(params, state)
  for name in params:
    new = np.asarray(new_params[name])
    assert new.max() <= clip and new.min() >= -clip, name
    p, u = np.asarray(params[name], np.float64), -np.asarray(grads[name], np.float64)
    want = np.clip(p + u, -clip, clip)
    # An additive update can only hit the clip value up to the rounding of p + u'.
    ulp = np.finfo(np.float32).eps * np.maximum(np.abs(p), np.abs(p + u))
    assert np.all(np.abs(new - want) <= 2 * ulp + 1e-12), name
  assert np.mean(np.abs(np.asarray(new_params["a"])) == np.float32(clip)) > 0.1


def test_weight_clipping_requires_params():
  opt = gan.weight_clipping(0.1)
  with pytest.raises(ValueError, match="params"):
    opt.update({"a": jnp.zeros(2)}, opt.init({"a": jnp.zeros(2)}))
  with pytest.raises(ValueError, match="clip"):
    gan.weight_clipping(0.0)
