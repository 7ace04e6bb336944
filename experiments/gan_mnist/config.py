"""Default config: a small DCGAN (Radford et al. 2016) on embedded MNIST, non-saturating loss.

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 3000         # generator updates
  c.batch_size = 64
  c.learning_rate = 2e-4     # generator's Adam step size (DCGAN's Adam(2e-4, β₁ = 0.5))
  c.d_learning_rate = 2e-4   # discriminator's Adam step size
  c.beta1 = 0.5              # Adam β₁ of both players
  c.beta2 = 0.999            # Adam β₂ of both players
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.dataset = "mnist"

  c.loss = "non_saturating"  # GAN objective: minimax | non_saturating | maximum_likelihood
                             # | least_squares | wasserstein | wgan_gp | dragan | began
  c.unroll_steps = 0         # K > 0: unrolled generator objective (Metz et al. 2017)
  c.d_steps = 1              # discriminator updates per generator update
  c.fresh_generator_noise = False  # True: G's update draws its own z (Goodfellow et al.
                                   # Alg. 1); False: it reuses the last D update's G(z)
  c.conditional = False      # labels to both players (cGAN; projection discriminator)
  c.minibatch = "none"       # minibatch features in D: none | discrimination | stddev
  c.penalty_weight = 10.0    # gradient-penalty weight λ of wgan_gp / dragan
  c.clip = 0.01              # weight-clipping bound of wasserstein's critic
  c.began_gamma = 0.5        # BEGAN diversity ratio γ
  c.began_lambda_k = 1e-3    # BEGAN learning rate λ_k of the balance term k_t

  c.latent_dim = 64          # dimensions of the generator's noise z
  c.base_features = 32       # DCGAN width (64 in the paper; 32 keeps CPU runs short)
  c.d_batch_norm = True      # D's batch norm (off for wgan_gp / dragan: per-example penalties)
  c.g_batch_norm = True      # G's batch norm (BEGAN's generator has none, Berthelot et al. §3.5)
  c.began_code_dim = 64      # code size of the BEGAN discriminator's autoencoder

  c.eval_samples = 1000      # generated digits for FID / precision / recall (vs 1,000 test)
  c.num_sample_images = 100  # images in each samples/*.png grid
  c.label_smoothing = 0.0    # one-sided label smoothing α: real target 1 − α (cross-entropy D)
  c.ema_decay = 0.0          # > 0: evaluate and sample G's parameter EMA with this decay
  return c
