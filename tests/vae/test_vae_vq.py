"""Vector quantization against brute-force NumPy."""

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import vae

RNG = np.random.default_rng(1)


def test_nearest_code_brute_force():
  z = RNG.normal(size=(3, 4, 5, 6)).astype(np.float32)
  codebook = RNG.normal(size=(10, 6)).astype(np.float32)
  got = jax.jit(vae.nearest_code)(z, codebook)
  dist = ((z[..., None, :] - codebook)**2).sum(-1)
  np.testing.assert_array_equal(got, dist.argmin(-1))


def test_straight_through_gradient_and_losses():
  z = jnp.asarray(RNG.normal(size=(2, 3, 4)).astype(np.float32))
  codebook = jnp.asarray(RNG.normal(size=(5, 4)).astype(np.float32))
  z_st, z_q, codes = jax.jit(vae.quantize)(z, codebook)
  np.testing.assert_allclose(z_st, codebook[codes], rtol=1e-6)
  # Decoder gradient reaches the encoder unchanged (identity Jacobian).
  w = jnp.asarray(RNG.normal(size=z.shape).astype(np.float32))
  g = jax.grad(lambda e: jnp.sum(w * vae.quantize(e, codebook)[0]))(z)
  np.testing.assert_allclose(g, w)
  cb, commit = jax.jit(vae.vq_losses)(z, z_q)
  want = ((np.asarray(z) - np.asarray(z_q))**2).reshape(2, -1).sum(1)
  np.testing.assert_allclose(cb, want, rtol=1e-5)
  np.testing.assert_allclose(commit, want, rtol=1e-5)
  # Codebook loss moves only codes, commitment only the encoder output.
  g_cb = jax.grad(lambda e, q: vae.vq_losses(e, q)[0].sum(), (0, 1))(z, z_q)
  g_cm = jax.grad(lambda e, q: vae.vq_losses(e, q)[1].sum(), (0, 1))(z, z_q)
  assert np.all(np.asarray(g_cb[0]) == 0) and np.any(np.asarray(g_cb[1]) != 0)
  assert np.any(np.asarray(g_cm[0]) != 0) and np.all(np.asarray(g_cm[1]) == 0)


def test_perplexity():
  f = jax.jit(vae.codebook_perplexity, static_argnums=1)
  np.testing.assert_allclose(f(jnp.zeros((10,), jnp.int32), 4), 1.0)
  np.testing.assert_allclose(f(jnp.arange(8) % 4, 4), 4.0, rtol=1e-6)
  codes = np.array([0, 0, 1, 2])
  p = np.array([0.5, 0.25, 0.25])
  np.testing.assert_allclose(f(jnp.asarray(codes), 6), np.exp(-(p * np.log(p)).sum()), rtol=1e-6)


def test_ema_codebook_update_matches_numpy():
  k, d, decay = 4, 3, 0.9
  sums = RNG.normal(size=(k, d)).astype(np.float32)
  counts = RNG.random(k).astype(np.float32) + 0.5
  z = RNG.normal(size=(10, d)).astype(np.float32)
  codes = np.array([0, 1, 1, 3, 3, 3, 0, 1, 3, 3])
  new_sums, new_counts, book = jax.jit(
      lambda *a: vae.ema_codebook_update(*a, decay=decay))(sums, counts, z, codes)
  want_counts = decay * counts + (1 - decay) * np.bincount(codes, minlength=k)
  want_sums = decay * sums + (1 - decay) * np.stack([z[codes == i].sum(0) for i in range(k)])
  n = want_counts.sum()
  smoothed = (want_counts + 1e-5) / (n + k * 1e-5) * n
  np.testing.assert_allclose(new_counts, want_counts, rtol=1e-6)
  np.testing.assert_allclose(new_sums, want_sums, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(book, want_sums / smoothed[:, None], rtol=1e-5)
