"""GAN building blocks: BEGAN control, WGAN clipping, unrolled objective, minibatch layers.

The GAN losses and gradient penalties live in `gen_jax.losses`; the DCGAN architecture
in `gen_jax.nets.dcgan`.
"""

from gen_jax.gan._began import began_convergence
from gen_jax.gan._began import began_k_update
from gen_jax.gan._clipping import clip_params
from gen_jax.gan._clipping import weight_clipping
from gen_jax.gan._clipping import WeightClippingState
from gen_jax.nets.minibatch import MinibatchDiscrimination
from gen_jax.nets.minibatch import MinibatchStddev
from gen_jax.gan._unrolled import unrolled_generator_loss

from gen_jax.gan._trainer import gan_init
from gen_jax.gan._trainer import gan_optimizers
from gen_jax.gan._trainer import gan_step
from gen_jax.gan._trainer import GANGame
from gen_jax.gan._trainer import generate
from gen_jax.gan._trainer import LOSSES
from gen_jax.gan._task import make_task
from gen_jax.gan._trainer import MINIBATCH_FEATURES
from gen_jax.gan._trainer import sample_latent
from gen_jax.gan._trainer import validate_gan_config
from gen_jax.gan._mixture import mode_coverage
from gen_jax.gan._mixture import ring_modes
from gen_jax.gan._mixture import ring_of_gaussians
from gen_jax.gan._cyclegan import CycleGAN
from gen_jax.gan._cyclegan import cyclegan_init
from gen_jax.gan._cyclegan import cyclegan_step
from gen_jax.gan._cyclegan import translate
from gen_jax.gan._bigan import BiGAN
from gen_jax.gan._bigan import bigan_init
from gen_jax.gan._bigan import bigan_step
from gen_jax.gan._bigan import decode as bigan_decode
from gen_jax.gan._bigan import encode as bigan_encode
from gen_jax.gan._vaegan import VAEGAN
from gen_jax.gan._vaegan import vaegan_init
from gen_jax.gan._vaegan import vaegan_step
from gen_jax.gan._vaegan import decode as vaegan_decode
from gen_jax.gan._vaegan import posterior as vaegan_posterior
from gen_jax.gan._cyclegan import CRITICS
from gen_jax.gan._cyclegan import TRANSLATORS
