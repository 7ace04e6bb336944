"""Default config: the per-pixel 256-level histogram of MNIST, counted over one epoch of the
embedded 4,000 training digits (40 steps of 100: every digit counted once).

Every key can be overridden: --config.<key>=<value>.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 40           # counting steps (40 x 100 = one epoch of the 4,000 digits)
  c.batch_size = 100         # digits counted per step
  c.learning_rate = 1e-3     # unused: a histogram is fitted by counting, not by gradients
  c.log_every = 10           # steps between records in metrics.jsonl and TensorBoard
  c.eval_every = 40          # steps between evaluations and sample grids
  c.checkpoint_every = 40    # steps between checkpoints (the last step is always saved)
  c.num_bins = 256           # levels per pixel: 256 (8-bit) | 2 (binarized at 128) | 2..256
  c.patch_height = 1         # rows of each non-overlapping patch with a joint table
  c.patch_width = 1          # columns of each patch (1 x 1: independent pixels)
  c.smoothing = 1.0          # add-alpha (Laplace) pseudo-count of every value of every cell
  c.num_sample_images = 64   # images in each sample grid
  return c
