"""Default config: BiGAN (deterministic encoder, joint (x, z) discriminator) on MNIST.

Every key can be overridden: --config.<key>=<value>.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 3000
  c.batch_size = 64
  c.learning_rate = 2e-4     # Adam(2e-4, β₁ = 0.5), Donahue et al. (2017)
  c.beta1 = 0.5
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.dataset = "mnist"

  c.latent_dim = 32
  c.base_features = 32       # DCGAN generator width
  c.encoder_features = 32    # encoder / discriminator conv widths: (f, 2f)
  c.hidden = 256
  c.probe_steps = 500        # full-batch Adam steps of the softmax-regression probe
  c.probe_l2 = 1e-4
  c.eval_samples = 1000
  return c
