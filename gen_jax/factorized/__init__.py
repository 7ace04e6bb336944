"""Fully factorized (pixel-independent) density models: the baseline every likelihood model
of gen_jax must beat, and the worked example of docs/ARCHITECTURE.md ("add a family")."""

from gen_jax.factorized._model import FactorizedSpec
from gen_jax.factorized._model import LIKELIHOODS
from gen_jax.factorized._model import log_prob
from gen_jax.factorized._model import make_task
from gen_jax.factorized._model import sample
