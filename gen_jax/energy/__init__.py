"""Energy-based models: Gibbs sampling on discrete tables, restricted Boltzmann machines
(energies, free energies, block Gibbs, CD/PCD gradients) and their partition functions
(exact enumeration, annealed importance sampling); and the other classic latent models of
the notes: sigmoid belief nets (VIMCO, importance-sampled log-likelihood), the generative
moment matching loss (MMD², shared with metrics' KID) and the Kozachenko-Leonenko entropy
of entropic autoencoders."""

from gen_jax.energy._ais import ais_log_partition
from gen_jax.energy._gibbs import gibbs_discrete
from gen_jax.energy._gibbs import gibbs_sweep
from gen_jax.energy._gibbs import log_probs_from_table
from gen_jax.energy._rbm import cd_gradients
from gen_jax.energy._rbm import check_binary
from gen_jax.energy._rbm import pcd_gradients
from gen_jax.energy._rbm import rbm_energy
from gen_jax.energy._rbm import rbm_exact_log_partition
from gen_jax.energy._rbm import rbm_free_energy
from gen_jax.energy._rbm import rbm_gibbs_step
from gen_jax.energy._sbn import sbn_init
from gen_jax.energy._sbn import sbn_log_joint
from gen_jax.energy._sbn import sbn_log_likelihood
from gen_jax.energy._sbn import sbn_posterior_sample
from gen_jax.energy._sbn import sbn_sample
from gen_jax.energy._sbn import vimco_surrogate
from gen_jax.energy._moments import gmmn_loss
from gen_jax.energy._moments import kozachenko_leonenko_entropy
