"""Variational autoencoders: reparameterization, ELBO, IWAE, annealing, hierarchical, VQ."""

from gen_jax.vae._models import HierarchicalVAE
from gen_jax.vae._models import ObservationModel
from gen_jax.vae._models import VAE
from gen_jax.vae._models import VQVAE
from gen_jax.vae._objectives import active_units
from gen_jax.vae._objectives import importance_sampled_log_likelihood
from gen_jax.vae._objectives import iwae_objective
from gen_jax.vae._objectives import negative_elbo
from gen_jax.vae._objectives import sample_log_weights
# The Gaussian reparameterization trick lives with the shared randomness; the family
# re-exports it under its documented name.
from gen_jax.random import reparameterize
from gen_jax.vae._vq import codebook_perplexity
from gen_jax.vae._vq import ema_codebook_update
from gen_jax.vae._vq import nearest_code
from gen_jax.vae._vq import quantize
from gen_jax.vae._vq import vq_losses
from gen_jax.vae._task import build_model
from gen_jax.vae._task import make_task
from gen_jax.vae._task import VAESpec
