"""Denoising diffusion models: the closed-form forward process, DDPM/DDIM samplers as one
compiled scan, the training losses and the full variational bound in bits/dim."""

from gen_jax.diffusion._schedule import Schedule
from gen_jax.diffusion._schedule import cosine_schedule
from gen_jax.diffusion._schedule import linear_schedule
from gen_jax.diffusion._schedule import schedule_from_betas
from gen_jax.diffusion._process import p_mean_variance
from gen_jax.diffusion._process import predict_eps_from_x0
from gen_jax.diffusion._process import predict_x0_from_eps
from gen_jax.diffusion._process import q_posterior
from gen_jax.diffusion._process import q_sample
from gen_jax.diffusion._objectives import ddpm_eps_loss
from gen_jax.diffusion._objectives import decoder_log_likelihood
from gen_jax.diffusion._objectives import eps_from_prediction
from gen_jax.diffusion._objectives import hybrid_loss
from gen_jax.diffusion._objectives import v_target
from gen_jax.diffusion._objectives import variational_bound
from gen_jax.diffusion._objectives import variational_bound_estimate
from gen_jax.diffusion._samplers import ancestral_sample
from gen_jax.diffusion._samplers import ddim_sample
from gen_jax.diffusion._samplers import ddim_timesteps
from gen_jax.diffusion._samplers import guided_eps_fn
from gen_jax.diffusion._task import DiffusionSpec
from gen_jax.diffusion._task import make_task
from gen_jax.diffusion._task import model_eps_fn
