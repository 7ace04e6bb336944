"""Default config: the pixel-independent Bernoulli baseline on dynamically binarized MNIST.

Every key can be overridden: --config.<key>=<value>.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 1000
  c.batch_size = 128
  c.learning_rate = 0.05     # Adam step size
  c.log_every = 100
  c.eval_every = 500
  c.checkpoint_every = 500
  c.dataset = "mnist"
  c.likelihood = "bernoulli"  # bernoulli (binarized pixels) | categorical (256 levels)
  c.binarize = "dynamic"     # dynamic (fresh draws each step) | none (data already binary)
  c.num_sample_images = 64   # images in each sample grid
  return c
