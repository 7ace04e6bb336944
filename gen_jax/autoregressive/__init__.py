"""Autoregressive and tractable models (issue 14)."""

from gen_jax.autoregressive._pixelcnn import check_pixels
from gen_jax.autoregressive._pixelcnn import ConvARSpec
from gen_jax.autoregressive._pixelcnn import GatedPixelCNN
from gen_jax.autoregressive._pixelcnn import make_conv_task
from gen_jax.autoregressive._pixelcnn import PixelCNN
from gen_jax.autoregressive._pixelcnn import pixel_log_prob
from gen_jax.autoregressive._pixelcnn import PixelRNN
from gen_jax.autoregressive._fast_sampling import conv_sample
from gen_jax.autoregressive._fast_sampling import conv_sample_naive
from gen_jax.autoregressive._fast_sampling import pixel_draw
from gen_jax.autoregressive._fast_sampling import pixel_noise
