"""Every VAE of the family trains end to end through the experiment for a few steps."""

import math

import numpy as np
import pytest

from experiments.vae_mnist import config as vae_config
from experiments.vae_mnist import main as vae_main


def _tiny(**overrides):
  c = vae_config.get_config()
  c.update(dict(dataset="digits", hidden=16, latent_dim=4, batch_size=16, num_steps=4,
                log_every=2, eval_every=100, checkpoint_every=4, eval_samples=4,
                final_eval_samples=4, eval_batch_size=120, num_sample_images=8))
  c.update(overrides)
  return c


VARIANTS = {
    "conv_vae": dict(architecture="conv", latent_dim=4),
    "conditional_vae": dict(conditional=True),
    "beta_vae_warmup_free_bits": dict(beta=4.0, kl_warmup_steps=3, free_bits=0.1),
    "iwae_objective": dict(objective="iwae", iwae_samples=3),
    "gaussian_likelihood": dict(likelihood="gaussian", binarize="none"),
    "hierarchical_vae": dict(model="hvae", conditional=True),
    "vq_vae": dict(model="vqvae", num_codes=8, code_dim=4),
    "vq_vae_ema": dict(model="vqvae", num_codes=8, code_dim=4, vq_ema=True),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_trains_and_reports(tmp_path, name):
  results = vae_main.train_and_evaluate(_tiny(**VARIANTS[name]), str(tmp_path))
  assert results["step"] == 4
  for key in ("test_elbo", "test_log_likelihood", "reconstruction", "kl"):
    assert math.isfinite(results[key]), key
  np.testing.assert_allclose(results["test_elbo"], -(results["reconstruction"] + results["kl"]),
                             rtol=1e-6)
  if name.startswith("vq_vae"):
    assert 1.0 <= results["perplexity"] <= 8.0 and 1 <= results["codes_used"] <= 8
    # Uniform code prior: KL = positions · log K, exactly.
    assert results["kl"] == pytest.approx(2 * 2 * math.log(8), rel=1e-6)
  else:
    assert results["kl"] > 0 and 0 <= results["active_units"]
    if name != "gaussian_likelihood":
      assert results["test_elbo"] < 0
      # The importance-sampled estimate is a tighter bound than the ELBO, in expectation.
      assert results["test_log_likelihood"] > results["test_elbo"] - 1.0
  assert list((tmp_path / "samples").glob("*.png"))
