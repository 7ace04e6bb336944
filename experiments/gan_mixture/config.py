"""Default config: the 8-Gaussian ring of Metz et al. (2017, §3.1 and App. A) with MLP players.

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 15_000       # generator updates (Metz et al.'s Fig. 1: 25k; see main.py)
  c.batch_size = 512
  c.learning_rate = 1e-4     # generator's Adam step size (1e-4 for both players, β₁ = 0.5:
                             # Metz et al. 2017, App. A)
  c.d_learning_rate = 1e-4   # discriminator's Adam step size
  c.beta1 = 0.5              # Adam β₁ of both players
  c.beta2 = 0.999            # Adam β₂ of both players
  c.log_every = 100
  c.eval_every = 5000
  c.checkpoint_every = 5000
  c.dataset = "ring"         # ring: the only choice, generated (not loaded) by main.py

  c.loss = "non_saturating"  # GAN objective: any of gen_jax.gan.LOSSES
  c.unroll_steps = 0         # K > 0: unrolled generator objective (Metz et al. 2017)
  c.unroll_real_term = True  # unrolled G objective also minus D's real-data loss at θ_D^K
                             # (the value function Metz et al. unroll)
  c.d_steps = 1              # discriminator updates per generator update
  c.fresh_generator_noise = False  # True: G's update draws its own z (Goodfellow et al.
                                   # Alg. 1); False: it reuses the last D update's G(z)
  c.conditional = False      # labels (the mode index) to both players
  c.minibatch = "none"       # minibatch features in D: none | discrimination | stddev
  c.penalty_weight = 10.0    # gradient-penalty weight λ of wgan_gp / dragan
  c.clip = 0.01              # weight-clipping bound of wasserstein's critic
  c.began_gamma = 0.5        # BEGAN diversity ratio γ
  c.began_lambda_k = 1e-3    # BEGAN learning rate λ_k of the balance term k_t

  c.num_modes = 8            # Gaussians on the ring
  c.radius = 2.0             # radius of the ring
  c.std = 0.02               # standard deviation of each Gaussian
  c.num_data = 100_000       # points of the fixed-seed training sample
  c.latent_dim = 256         # dimensions of the generator's noise z
  c.g_width = 128            # generator MLP width
  c.g_layers = 2             # generator hidden layers
  c.d_width = 128            # discriminator MLP width
  c.d_layers = 1             # discriminator hidden layers
  c.d_input_scale = 0.25     # D scales its input by this first (Metz et al. App. A: 1/4)
  c.orthogonal_init = 0.8    # scale of the orthogonal kernel init (0: Flax's default)
  c.eval_samples = 10_000    # generated points for mode coverage and quality
  c.label_smoothing = 0.0    # one-sided label smoothing α: real target 1 − α (cross-entropy D)
  c.ema_decay = 0.0          # > 0: evaluate and sample G's parameter EMA with this decay
  return c
