"""Default config: a 784-500 binary RBM trained with persistent contrastive divergence
(PCD-1, 100 persistent chains) on the fixed binarization of the embedded MNIST digits,
evaluated by AIS (100 chains x 10,000 inverse temperatures at the end).

Every key can be overridden: --config.<key>=<value>.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 10000        # PCD updates (batch 100: 250 epochs of the 4,000 digits)
  c.batch_size = 100         # training digits per update
  c.learning_rate = 0.01     # SGD step size, decayed linearly to 0 over num_steps
  c.log_every = 500          # steps between records in metrics.jsonl and TensorBoard
  c.eval_every = 5000        # steps between evaluations (AIS) and sample grids
  c.checkpoint_every = 5000  # steps between checkpoints (the last step is always saved)
  c.dataset = "binarized_mnist"  # binary images only (binarized_mnist | dynamic_binarized_mnist)
  c.num_hidden = 500         # hidden units H of the RBM
  c.momentum = 0.9           # SGD momentum
  c.weight_decay = 1e-4      # L2 penalty on W (added to its gradient)
  c.gibbs_steps = 1          # block Gibbs steps per update of the persistent chains (PCD-k)
  c.num_chains = 100         # persistent chains (the negative phase)
  c.init_scale = 0.01        # std of the initial weights (normal)
  c.ais_chains = 100         # AIS runs of the periodic evaluations
  c.ais_betas = 1000         # inverse temperatures of the periodic evaluations
  c.final_ais_chains = 100   # AIS runs of the final evaluation
  c.final_ais_betas = 10000  # inverse temperatures of the final evaluation (S&M 2008: 14,500)
  c.sample_gibbs_steps = 1000  # Gibbs steps from noise for each sample grid
  c.num_sample_images = 100  # images in each samples/*.png grid and in filters.png
  return c
