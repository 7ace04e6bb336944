"""Default config: BiGAN (deterministic encoder, joint (x, z) discriminator) on MNIST.

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 3000
  c.batch_size = 64
  c.learning_rate = 2e-4     # Adam step size of all networks (2e-4, as Donahue et al. 2017)
  c.beta1 = 0.5              # Adam β₁
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.dataset = "mnist"

  c.latent_dim = 32          # dimensions of z (generator input, encoder output)
  c.base_features = 32       # DCGAN generator width
  c.encoder_features = 32    # encoder / discriminator conv widths: (f, 2f)
  c.hidden = 256             # dense width of the encoder and the joint discriminator
  c.d_init = "lecun"         # D's kernel init: lecun (variance-preserving) | dcgan (N(0, 0.02):
                             # D's z path starts so weak that D ignores z, see the README)
  c.d_learning_rate = 2e-4   # D's Adam step size
  c.probe_steps = 500        # full-batch Adam steps of the softmax-regression probe
  c.probe_l2 = 1e-4          # L2 weight of the softmax-regression probe
  c.eval_samples = 1000      # generated digits for FID, vs the 1,000 test digits
  return c
