"""Autoregressive and tractable models: p(x) = Π_d p(x_{o_d} | x_{o_<d}) with exact
likelihoods (NADE, Larochelle & Murray, 2011; MADE, Germain et al., 2015), naive and fast
ancestral samplers that agree sample for sample, and sum-product networks (Poon & Domingos,
2011; Peharz et al., 2019) with exact marginals and conditionals."""

from gen_jax.autoregressive._likelihood import check_data
from gen_jax.autoregressive._likelihood import log_prob
from gen_jax.autoregressive._made import MADE
from gen_jax.autoregressive._made import made_log_prob
from gen_jax.autoregressive._made import made_sample_fast
from gen_jax.autoregressive._nade import NADE
from gen_jax.autoregressive._nade import nade_sample_fast
from gen_jax.autoregressive._sampling import draw
from gen_jax.autoregressive._sampling import sample_naive
from gen_jax.autoregressive._sampling import sampling_noise
from gen_jax.autoregressive._spn import SPN
from gen_jax.autoregressive._spn import spn_complete
from gen_jax.autoregressive._spn import spn_log_prob
from gen_jax.autoregressive._spn import spn_sample
from gen_jax.autoregressive._dense import dense_log_prob
from gen_jax.autoregressive._dense import dense_sample
from gen_jax.autoregressive._dense import DenseARSpec
from gen_jax.autoregressive._dense import make_dense_task

from gen_jax.autoregressive._pixelcnn import check_pixels
from gen_jax.autoregressive._pixelcnn import ConvARSpec
from gen_jax.autoregressive._pixelcnn import GatedPixelCNN
from gen_jax.autoregressive._pixelcnn import make_conv_task
from gen_jax.autoregressive._pixelcnn import PixelCNN
from gen_jax.autoregressive._pixelcnn import pixel_log_prob
from gen_jax.autoregressive._pixelcnn import PixelRNN
from gen_jax.autoregressive._pixelcnn import to_model_data
from gen_jax.autoregressive._fast_sampling import conv_sample
from gen_jax.autoregressive._fast_sampling import conv_sample_naive
from gen_jax.autoregressive._fast_sampling import pixel_draw
from gen_jax.autoregressive._fast_sampling import pixel_noise
