"""Default config: CycleGAN between MNIST and thickened (or colour-inverted) MNIST.

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 1500
  c.batch_size = 32
  c.learning_rate = 2e-4     # Adam step size of all four networks (Zhu et al. 2017)
  c.beta1 = 0.5              # Adam β₁
  c.log_every = 100
  c.eval_every = 500
  c.checkpoint_every = 500
  c.dataset = "mnist"

  c.domain_y = "thicken"     # domain Y: thicken (3x3 max filter) | invert (1 − x)
  c.cycle_weight = 10.0      # cycle-consistency weight λ
  c.identity_weight = 5.0    # identity-loss weight λ_id (0.5·λ)
  c.features = 16            # translator width f
  c.blocks = 3               # residual blocks per translator
  c.d_features = 32          # patch discriminator width
  return c
