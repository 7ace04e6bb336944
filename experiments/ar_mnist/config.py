"""Default config: a PixelCNN on dynamically binarized embedded MNIST (28x28).

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.num_steps = 2000
  c.batch_size = 64
  c.learning_rate = 1e-3     # Adam step size
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 500
  c.dataset = "mnist"

  c.model = "pixelcnn"       # nade | made | pixelcnn | gated_pixelcnn | pixelrnn | spn
  c.distribution = "bernoulli"  # bernoulli (binarized) | categorical | logistic_mixture (256 levels)
  c.binarize = "dynamic"     # dynamic (fresh Bernoulli draws per step) | none (binary data)
  c.features = 32            # conv models: channels of every hidden layer (PixelRNN: LSTM width)
  c.num_layers = 5           # conv models: masked 3x3 / gated / Row LSTM layers
  c.first_kernel = 7         # conv models: odd size of the first (type A) kernel
  c.kernel = 3               # conv models: odd size of the later kernels
  c.rnn_layer = "row"        # pixelrnn: row (Row LSTM) | diagonal (Diagonal BiLSTM)
  c.num_mixtures = 5         # logistic_mixture: components per dimension
  c.conditional = False      # pixelcnn / gated_pixelcnn: condition on the digit label
  c.hidden_size = 500        # nade / made: hidden units (made: one hidden layer of this width)
  c.num_masks = 1            # made: masks in the ensemble (order/connectivity agnostic if > 1)
  c.order_agnostic = False   # made: a random order per mask
  c.connectivity_agnostic = False  # made: random hidden degrees per mask
  c.spn_depth = 4            # spn: region-graph depth L
  c.spn_repetitions = 10     # spn: random region graphs R
  c.spn_sums = 10            # spn: sum nodes per region S
  c.spn_inputs = 10          # spn: Bernoulli leaves per input region I
  c.num_sample_images = 64   # images in each samples/*.png grid (fast sampler)
  c.num_speed_images = 16    # images per timed call of each sampler (fast and naive)
  c.num_completions = 16     # test digits completed from their top half (completions.png)
  c.eval_batch_size = 250    # test images per likelihood batch
  return c
