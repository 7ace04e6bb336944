"""Default config: VAE-GAN (Larsen et al. 2016) on MNIST.

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 3000
  c.batch_size = 64
  c.learning_rate = 2e-4     # Adam step size of all three networks
  c.beta1 = 0.5              # Adam β₁
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.dataset = "mnist"

  c.latent_dim = 32          # dimensions of z
  c.gamma = 1e-2             # γ: decoder weight of the feature reconstruction vs. L_GAN
  c.base_features = 32       # DCGAN decoder width
  c.encoder_features = 32    # encoder / discriminator conv widths: (f, 2f)
  c.feature_layer = 1        # Dis_l, D's layer of the feature loss: 0 | 1 (2nd conv, 7x7x2f)
  c.eval_samples = 1000      # generated digits for FID, vs the 1,000 test digits
  return c
