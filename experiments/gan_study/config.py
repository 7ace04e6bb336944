"""Default config: Lucic et al. (2018) "Are GANs Created Equal?" on embedded MNIST, small budget.

Every key can be overridden: --config.<key>=<value>.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.losses = ("minimax,non_saturating,maximum_likelihood,least_squares,wasserstein,wgan_gp,"
              "dragan,began,vae")
  c.seeds = "0,1"            # comma-separated; every model runs once per seed
  c.budget = "small"         # small | medium | paper (see BUDGETS in main.py)
  c.num_steps = 0            # > 0 overrides the budget's number of updates
  c.learning_rate = 0.0      # > 0 overrides the budget's GAN rate (Adam, β₁ = 0.5;
                             # RMSProp for wasserstein)
  c.vae_learning_rate = 1e-3
  c.latent_dim = 64          # Lucic et al.: 64 for every model
  c.eval_samples = 1000      # generated digits for FID, vs the 1,000 test digits
  c.compilation_cache = True  # reuse compiled steps across seeds (workdir/jax_cache)
  return c
