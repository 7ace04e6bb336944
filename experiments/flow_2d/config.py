"""Default config: RealNVP on two moons, about a minute on 2 CPU cores.

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 2000         # Adam updates
  c.batch_size = 256         # points per step
  c.learning_rate = 1e-3     # Adam step size
  c.log_every = 100          # steps between records in metrics.jsonl and TensorBoard
  c.eval_every = 1000        # steps between test NLLs and density / sample plots
  c.checkpoint_every = 1000  # steps between checkpoints (the last step is always saved)
  c.dataset = "moons"        # moons | ring | checkerboard (generated, fixed seeds)
  c.model = "realnvp"        # realnvp | spline | maf | iaf
  c.num_layers = 8           # coupling / autoregressive layers
  c.hidden = 64              # width of the conditioners' two hidden layers
  c.num_bins = 8             # spline bins (model=spline)
  c.bound = 4.0              # spline half-width; identity outside (model=spline)
  c.grad_clip = 10.0         # global gradient-norm clip (0: none)
  c.conditional = False      # model p(x | label) (the dataset's mode / moon / square as a one-hot context)
  c.num_plot_samples = 5000  # samples in the scatter plot
  return c
