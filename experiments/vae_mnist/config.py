"""Default config: the MLP VAE (784-400-20, Bernoulli, dynamic binarization) on embedded MNIST.

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 3000
  c.batch_size = 128
  c.learning_rate = 1e-3     # Adam step size
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 500
  c.dataset = "mnist"

  c.model = "vae"            # vae | hvae | vqvae
  c.architecture = "mlp"     # mlp | conv  (model=vae)
  c.likelihood = "bernoulli"  # bernoulli | gaussian
  c.binarize = "dynamic"     # dynamic | static | none
  c.latent_dim = 20          # latent dimensions (per layer for hvae)
  c.hidden = 400             # hidden width of the encoder and decoder
  c.conditional = False      # label-conditioned encoder and decoder (CVAE)

  c.objective = "elbo"       # elbo | iwae
  c.iwae_samples = 5         # importance samples per example of the IWAE objective
  c.beta = 1.0               # β-VAE weight of the KL
  c.kl_warmup_steps = 0      # linear KL annealing 0 -> beta over this many steps
  c.free_bits = 0.0          # nats per latent dimension

  c.num_codes = 64           # VQ-VAE codebook size K
  c.code_dim = 16            # VQ-VAE code vector dimension
  c.vq_beta = 0.25           # VQ-VAE commitment weight β
  c.vq_ema = False           # VQ-VAE: codebook by exponential moving averages, not its loss
  c.vq_decay = 0.99          # decay of the VQ-VAE EMA codebook updates

  c.eval_samples = 100       # importance samples at periodic evals
  c.final_eval_samples = 1000  # importance samples for the final log p(x)
  c.eval_batch_size = 200    # test examples per evaluation batch
  c.num_sample_images = 100  # images in each samples/*.png grid
  return c
