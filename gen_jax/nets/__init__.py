"""Flax (linen) architectures shared by all families. Families import these, never the reverse."""

from gen_jax.nets.batch_norm import BatchNorm
from gen_jax.nets.convolution import Conv
from gen_jax.nets.convolution import ConvTranspose
from gen_jax.nets.conv import ConvDecoder
from gen_jax.nets.conv import ConvEncoder
from gen_jax.nets.conv import one_hot_channels
from gen_jax.nets.conv import SpatialDecoder
from gen_jax.nets.conv import SpatialEncoder
from gen_jax.nets.mlp import flatten_with_labels
from gen_jax.nets.mlp import MLP
from gen_jax.nets.minibatch import MinibatchDiscrimination
from gen_jax.nets.minibatch import MinibatchStddev
from gen_jax.nets.variables import apply
from gen_jax.nets.variables import split_variables
from gen_jax.nets.time_mlp import TimeMLP
from gen_jax.nets.time_mlp import timestep_embedding
from gen_jax.nets.flow_nets import CouplingMLP
from gen_jax.nets.flow_nets import CouplingResNet
from gen_jax.nets.flow_nets import ZeroConv
from gen_jax.nets.made import check_order
from gen_jax.nets.made import MADE
from gen_jax.nets.made import made_degrees
from gen_jax.nets.made import made_masks
from gen_jax.nets.made import MaskedDense
from gen_jax.nets.made import order_degrees
from gen_jax.nets.unet import UNet
