"""Per-example losses (optax style): each returns [B] values; the caller reduces.

Implementations live in private modules; this is the one public namespace.
"""

from gen_jax.losses._vae import bernoulli_log_likelihood
from gen_jax.losses._vae import diagonal_gaussian_kl
from gen_jax.losses._vae import free_bits_kl
from gen_jax.losses._vae import gaussian_kl
from gen_jax.losses._vae import gaussian_kl_per_dim
from gen_jax.losses._vae import gaussian_log_likelihood
from gen_jax.losses._vae import iwae_bound
from gen_jax.losses._vae import vae_squared_error_loss

from gen_jax.losses._gan import began_discriminator_loss
from gen_jax.losses._gan import began_generator_loss
from gen_jax.losses._gan import dragan_penalty
from gen_jax.losses._gan import gradient_penalty
from gen_jax.losses._gan import hinge_discriminator_loss
from gen_jax.losses._gan import hinge_generator_loss
from gen_jax.losses._gan import least_squares_discriminator_loss
from gen_jax.losses._gan import least_squares_generator_loss
from gen_jax.losses._gan import maximum_likelihood_generator_loss
from gen_jax.losses._gan import minimax_discriminator_loss
from gen_jax.losses._gan import minimax_generator_loss
from gen_jax.losses._gan import non_saturating_generator_loss
from gen_jax.losses._gan import wasserstein_critic_loss
from gen_jax.losses._gan import wasserstein_generator_loss

from gen_jax.losses._diffusion import discretized_gaussian_log_likelihood
from gen_jax.losses._diffusion import normal_kl
