"""Model-level checks: the log-weight of each model is consistent with its ELBO terms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import nets
from gen_jax import vae


def _mc_check(model, x, labels):
  params = model.init(jax.random.key(0), x, labels, key=jax.random.key(1))
  keys = jax.random.split(jax.random.key(2), 4000)
  terms = jax.jit(jax.vmap(lambda k: model.apply(params, x, labels, key=k)))(keys)
  # E_q[log w] = E_q[log p(x|z)] − KL: the analytic KL must match the sampled one.
  lw, recon = np.asarray(terms["log_weight"]), np.asarray(terms["recon_ll"])
  kl = np.asarray(terms["kl"])
  sampled_kl = recon - lw
  se = sampled_kl.std(0) / np.sqrt(len(keys))
  np.testing.assert_array_less(np.abs(sampled_kl.mean(0) - kl.mean(0)), 5 * se + 1e-4)


def test_vae_log_weight_consistent_with_analytic_kl():
  model = vae.VAE(encoder=nets.MLP((16,)), decoder=nets.MLP((16, 12)), latent_dim=3,
                  image_shape=(3, 4, 1))
  x = (jax.random.uniform(jax.random.key(3), (2, 3, 4, 1)) > 0.5).astype(jnp.float32)
  _mc_check(model, x, None)


def test_hierarchical_vae_log_weight_consistent_with_kl_terms():
  model = vae.HierarchicalVAE(encoder1=nets.MLP((16,)), encoder2=nets.MLP((8,)),
                              top_down=nets.MLP((8,)), decoder=nets.MLP((16, 12)),
                              latent_dims=(3, 2), image_shape=(3, 4, 1), num_classes=2)
  x = jax.random.uniform(jax.random.key(3), (2, 3, 4, 1))
  _mc_check(model, x, jnp.array([0, 1]))


def test_conditional_vae_requires_labels():
  model = vae.VAE(encoder=nets.MLP((8,)), decoder=nets.MLP((8, 4)), latent_dim=2,
                  image_shape=(2, 2, 1), num_classes=3)
  x = jnp.zeros((2, 2, 2, 1))
  with pytest.raises(ValueError, match="labels"):
    model.init(jax.random.key(0), x, None, key=jax.random.key(1))


def test_gaussian_likelihood_vae_and_conv_vae_shapes():
  model = vae.VAE(encoder=nets.ConvEncoder((8, 8), 16),
                  decoder=nets.ConvDecoder((8, 8, 1), (8, 8), 16), latent_dim=4,
                  image_shape=(8, 8, 1), likelihood="gaussian", flatten_input=False,
                  num_classes=10)
  x = jax.random.uniform(jax.random.key(0), (3, 8, 8, 1))
  labels = jnp.array([1, 2, 3])
  params = model.init(jax.random.key(0), x, labels, key=jax.random.key(1))
  terms = jax.jit(lambda p, x, l, k: model.apply(p, x, l, key=k))(params, x, labels,
                                                                jax.random.key(2))
  assert terms["recon_ll"].shape == (3,) and terms["kl_per_dim"].shape == (3, 4)
  assert "log_var" in params["params"]["observation"]
