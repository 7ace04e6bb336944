"""Default config: the 8-Gaussian ring of Metz et al. (2017, §3.1 and App. A) with MLP players.

Every key can be overridden: --config.<key>=<value>.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 25_000       # NS: ~1.5 min, unrolled K=5: ~9 min on 2 CPU cores
  c.batch_size = 512
  c.learning_rate = 1e-3     # generator; Adam(β₁ = 0.5), G 1e-3 / D 1e-4 as in common
                             # reproductions of Metz et al.'s mixture experiment
  c.d_learning_rate = 1e-4
  c.beta1 = 0.5
  c.beta2 = 0.999
  c.log_every = 100
  c.eval_every = 5000
  c.checkpoint_every = 5000
  c.dataset = "ring"         # generated, not loaded: see main.py

  c.loss = "non_saturating"  # any of gen_jax.gan.LOSSES
  c.unroll_steps = 0         # K > 0: unrolled generator objective
  c.d_steps = 1              # discriminator updates per generator update
  c.fresh_generator_noise = False  # True: G's update draws its own z (Goodfellow et al.
                                   # Alg. 1); False: it reuses the last D update's G(z)
  c.conditional = False      # labels (the mode index) to both players
  c.minibatch = "none"       # none | discrimination | stddev (in the discriminator)
  c.penalty_weight = 10.0    # λ of wgan_gp / dragan
  c.clip = 0.01              # wasserstein weight clipping
  c.began_gamma = 0.5
  c.began_lambda_k = 1e-3

  c.num_modes = 8
  c.radius = 2.0
  c.std = 0.02
  c.num_data = 100_000       # points of the fixed-seed training sample
  c.latent_dim = 256
  c.g_width = 128
  c.g_layers = 2
  c.d_width = 128
  c.d_layers = 1
  c.orthogonal_init = 0.8    # scale of the orthogonal kernel init (0: Flax's default)
  c.eval_samples = 10_000
  c.label_smoothing = 0.0    # one-sided label smoothing α: real target 1 − α (cross-entropy D)
  c.ema_decay = 0.0          # > 0: evaluate and sample G's parameter EMA with this decay
  return c
