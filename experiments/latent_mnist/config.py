"""Default config: a sigmoid belief net (784-200 binary units) trained with VIMCO (5
samples) on the fixed binarization of the embedded MNIST digits; --config.model=gmmn or
entropic_ae trains a moment-matching generator or an entropic autoencoder instead.

Every key can be overridden: --config.<key>=<value>.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 5000         # Adam updates
  c.batch_size = 100         # training digits per update
  c.learning_rate = 1e-3     # Adam step size
  c.log_every = 250          # steps between records in metrics.jsonl and TensorBoard
  c.eval_every = 2500        # steps between evaluations and sample grids
  c.checkpoint_every = 2500  # steps between checkpoints (the last step is always saved)
  c.dataset = "binarized_mnist"  # binary images (the SBN needs 0/1 data)
  c.model = "sbn"            # sbn (VIMCO) | gmmn (MMD² generator) | entropic_ae
  c.sbn_hidden = "200"       # SBN latent layer sizes, bottom up, comma-separated (e.g. 200,200)
  c.vimco_samples = 5        # SBN: VIMCO samples K per digit
  c.eval_samples = 100       # SBN: importance samples per test digit at periodic evals
  c.final_eval_samples = 1000  # SBN: importance samples per test digit for the final test_nll
  c.latent_dim = 10          # GMMN noise / entropic AE code dimensions
  c.hidden = 256             # width of the GMMN generator's and the autoencoder's hidden layers
  c.bandwidths = "2,5,10,20,40,80"  # GMMN: Gaussian kernel bandwidths (pixel-space distances)
  c.entropy_weight = 1.0     # entropic AE: weight λ of −Ĥ(codes) (nats) against the BCE
  c.entropy_k = 1            # entropic AE: neighbour of the Kozachenko-Leonenko estimate
  c.num_eval_images = 1000   # generated images scored by fid/precision/recall at the end
  c.num_sample_images = 100  # images in each samples/*.png grid
  return c
