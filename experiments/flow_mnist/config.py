"""Default config: a small Glow on the embedded MNIST digits (256 levels), uniform
dequantization; a short run (about 10 minutes on 2 CPU cores).

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 1000         # Adam updates
  c.batch_size = 64          # digits per step
  c.learning_rate = 1e-3     # Adam step size
  c.log_every = 50           # steps between records in metrics.jsonl and TensorBoard
  c.eval_every = 500         # steps between test bits/dim and sample grids
  c.checkpoint_every = 500   # steps between checkpoints (the last step is always saved)
  c.model = "glow"           # glow (ActNorm, 1x1 conv, affine coupling; split priors) | realnvp
  c.num_levels = 2           # multi-scale levels (28 -> 14 -> 7)
  c.steps_per_level = 4      # flow steps per level
  c.channels = 64            # hidden channels of the coupling ResNets
  c.num_blocks = 1           # residual blocks per coupling ResNet
  c.dequantization = "uniform"  # uniform | variational (a learned conditional flow q(u | x))
  c.alpha = 1e-5             # logit pre-processing margin: y = logit(alpha + (1 - 2 alpha) x)
  c.grad_clip = 50.0         # global gradient-norm clip (0: none)
  c.num_sample_images = 64   # images in each sample grid
  c.conditional = False      # class-conditional p(x | digit): the one-hot label as the flow's context
  c.num_fid_samples = 1000   # samples (at temperature 1) for fid / precision / recall; 0: skip
  return c
