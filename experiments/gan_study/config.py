"""Default config: Lucic et al. (2018) "Are GANs Created Equal?" on embedded MNIST, small budget.

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.losses = ("minimax,non_saturating,maximum_likelihood,least_squares,wasserstein,wgan_gp,"
              "dragan,began,vae")  # comma-separated models to train (GAN losses and vae)
  c.seeds = "0,1"            # comma-separated; every model runs once per seed
  c.budget = "small"         # small | medium | paper (see BUDGETS in main.py)
  c.num_steps = 0            # updates per model; 0: the budget's number
  c.learning_rate = 0.0      # GAN step size (Adam, β₁ = 0.5; RMSProp for wasserstein);
                             # 0: the budget's
  c.vae_learning_rate = 1e-3  # the VAE's Adam step size
  c.latent_dim = 64          # dimensions of z (Lucic et al.: 64 for every model)
  c.eval_samples = 1000      # generated digits for FID, vs the 1,000 test digits
  c.compilation_cache = True  # reuse compiled steps across seeds (workdir/jax_cache)
  return c
