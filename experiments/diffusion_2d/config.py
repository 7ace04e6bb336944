"""Default config: DDPM on a 2-D toy (the swiss roll) with a time-conditioned MLP, ~1 min on
2 CPU cores.

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 3000         # training steps (Adam updates)
  c.batch_size = 512         # points per step
  c.learning_rate = 2e-3     # Adam step size
  c.log_every = 200          # steps between metric records
  c.eval_every = 1500        # steps between evaluations (bound, energy distance, plots)
  c.checkpoint_every = 1500  # steps between checkpoints
  c.dataset = "swiss_roll"   # swiss_roll | moons | ring | checkerboard (gen_jax.data toys)

  c.num_timesteps = 200      # T, diffusion steps
  c.schedule = "linear"      # linear | cosine noise schedule (cosine's clipped last step,
                             # abar_T ~ 1e-9, makes unclipped DDIM diverge on unbounded data)
  c.beta_start = 1e-4        # linear schedule's first beta
  c.beta_end = 0.1           # linear schedule's last beta (0.1 at T = 200: abar_T ~ 2e-5)
  c.loss = "simple"          # simple (eps MSE) | hybrid (learned variances, Nichol & Dhariwal)
  c.prediction = "eps"       # what the network predicts with the simple loss: eps | x0 | v
  c.vlb_weight = 0.001       # lambda of the hybrid loss's L_vlb term
  c.sample_variance = "beta"  # fixed reverse variance: beta | posterior (ignored by hybrid)
  c.width = 128              # hidden width of the noise MLP
  c.depth = 3                # hidden layers of the noise MLP
  c.grad_clip = 1.0          # global gradient-norm clip (0: none)
  c.ema_decay = 0.995        # decay of the parameter EMA used for evaluation and sampling
  c.eval_examples = 2000     # test points for the bound and the energy distance
  c.num_samples = 2000       # generated points for plots and the energy distance
  c.ddim_steps = 50          # DDIM steps for the deterministic-sampler figure
  return c
