"""Default config: VAE-GAN (Larsen et al. 2016) on MNIST.

Every key can be overridden: --config.<key>=<value>.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 3000
  c.batch_size = 64
  c.learning_rate = 2e-4     # Adam(2e-4, β₁ = 0.5) for all three networks
  c.beta1 = 0.5
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.dataset = "mnist"

  c.latent_dim = 32
  c.gamma = 1e-2             # γ: decoder weight of the feature reconstruction vs. L_GAN
  c.base_features = 32       # DCGAN decoder width
  c.encoder_features = 32    # encoder / discriminator conv widths: (f, 2f)
  c.feature_layer = 1        # Dis_l: the second conv's activations (7x7x2f)
  c.eval_samples = 1000
  return c
