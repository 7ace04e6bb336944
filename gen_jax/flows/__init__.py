"""Normalizing flows: exact densities by the change of variables,
log p(x) = log p_z(f(x)) + log |det df/dx| (Dinh et al., 2015, 2017; Durkan et al., 2019),
beside the histogram baseline every flow must beat."""

from gen_jax.flows._histogram import bits_per_dim
from gen_jax.flows._histogram import Histogram
from gen_jax.flows._histogram import histogram_counts
from gen_jax.flows._histogram import histogram_fit
from gen_jax.flows._histogram import histogram_from_counts
from gen_jax.flows._histogram import histogram_log_prob
from gen_jax.flows._histogram import histogram_sample
from gen_jax.flows._histogram import quantize
from gen_jax.flows._spline import rational_quadratic_spline
from gen_jax.flows._bijectors import Affine
from gen_jax.flows._bijectors import Logit
from gen_jax.flows._bijectors import RationalQuadraticSpline
from gen_jax.flows._bijectors import Sigmoid
from gen_jax.flows._bijectors import Tanh
from gen_jax.flows._layers import ActNorm
from gen_jax.flows._layers import AffineCoupling
from gen_jax.flows._layers import Chain
from gen_jax.flows._layers import ConditionalFlowLayer
from gen_jax.flows._layers import channel_mask
from gen_jax.flows._layers import checkerboard_mask
from gen_jax.flows._layers import FlowLayer
from gen_jax.flows._layers import Invertible1x1Conv
from gen_jax.flows._layers import LeakyReLU
from gen_jax.flows._layers import LUAffine
from gen_jax.flows._layers import SplineCoupling
from gen_jax.flows._layers import Squeeze
from gen_jax.flows._layers import squeeze
from gen_jax.flows._layers import unsqueeze
from gen_jax.flows._autoregressive import MaskedAutoregressive
from gen_jax.flows._models import Flow
from gen_jax.flows._models import maf_flow
from gen_jax.flows._models import MultiScaleFlow
from gen_jax.flows._models import normal_log_prob
from gen_jax.flows._models import realnvp_flow
from gen_jax.flows._models import spline_flow
from gen_jax.flows._models import uniform_dequantize
from gen_jax.flows._models import VariationalDequantizer
from gen_jax.flows._models import as_bijector
from gen_jax.flows._task import conditional_2d_functions
from gen_jax.flows._task import Flow2DSpec
from gen_jax.flows._task import grid_labels
from gen_jax.flows._task import ImageFlowSpec
from gen_jax.flows._task import make_task
