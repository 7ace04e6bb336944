"""Schedules against NumPy float64, q_sample's moments against the closed form, and
q_posterior against Bayes' rule on 1-D Gaussians; all under jax.jit."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import diffusion
from gen_jax import validation

FIELDS = ("betas", "alphas_cumprod", "alphas_cumprod_prev", "posterior_variance",
          "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2")


def _reference(betas):
  """Products by an explicit float64 loop (not cumprod) and the DDPM formulas."""
  T = len(betas)
  abar = np.empty(T)
  running = 1.0
  for t in range(T):
    running *= 1.0 - betas[t]
    abar[t] = running
  prev = np.array([1.0] + list(abar[:-1]))
  post = betas * (1 - prev) / (1 - abar)
  return dict(betas=betas, alphas_cumprod=abar, alphas_cumprod_prev=prev,
              posterior_variance=post,
              posterior_log_variance_clipped=np.log(np.r_[post[1], post[1:]]),
              posterior_mean_coef1=betas * np.sqrt(prev) / (1 - abar),
              posterior_mean_coef2=(1 - prev) * np.sqrt(1 - betas) / (1 - abar))


@pytest.mark.parametrize("T", [10, 1000])
def test_linear_schedule_against_float64(T):
  s = diffusion.linear_schedule(T, beta_start=1e-4, beta_end=0.02)
  betas = 1e-4 + (0.02 - 1e-4) * np.arange(T) / (T - 1)
  want = _reference(betas)
  for name in FIELDS:
    got = getattr(s, name)
    assert got.dtype == np.float32 and got.shape == (T,), name
    np.testing.assert_allclose(got, want[name], rtol=2e-6, atol=0, err_msg=name)
  assert s.num_timesteps == T
  np.testing.assert_allclose(s.sqrt_recipm1_alphas_cumprod,
                             np.sqrt(1 / want["alphas_cumprod"] - 1), rtol=2e-6)


def test_cosine_schedule_matches_alphabar_formula_and_clips():
  T, s_ = 1000, 0.008
  s = diffusion.cosine_schedule(T)
  f = lambda t: np.cos((t / T + s_) / (1 + s_) * np.pi / 2) ** 2
  # Unclipped, alphabar_t = f(t+1) / f(0) (Nichol & Dhariwal 2021, Eq. 17).
  abar = f(np.arange(1, T + 1)) / f(0)
  unclipped = np.asarray(s.betas) < 0.999
  assert unclipped[:-1].all() and not unclipped[-1]  # only the last beta hits the clip
  np.testing.assert_allclose(s.alphas_cumprod[:-1], abar[:-1], rtol=1e-5)
  assert s.betas[-1] == np.float32(0.999)
  want = _reference(np.minimum(1 - f(np.arange(1, T + 1)) / f(np.arange(T)), 0.999))
  for name in FIELDS:
    np.testing.assert_allclose(getattr(s, name), want[name], rtol=5e-6, atol=1e-10,
                               err_msg=name)


def test_schedule_is_a_pytree_jit_argument():
  s = diffusion.linear_schedule(7)
  leaves = jax.tree_util.tree_leaves(s)
  assert len(leaves) == 13
  out = jax.jit(lambda sched: sched.alphas_cumprod[-1] * sched.num_timesteps)(s)
  np.testing.assert_allclose(out, 7 * s.alphas_cumprod[-1])


def test_schedule_bad_arguments():
  with pytest.raises(validation.ArgumentError, match="num_timesteps"):
    diffusion.linear_schedule(0)
  with pytest.raises(validation.ArgumentError, match="beta_end"):
    diffusion.linear_schedule(10, beta_end=1.5)
  with pytest.raises(validation.ArgumentError, match="max_beta"):
    diffusion.cosine_schedule(10, max_beta=0.0)


def test_q_sample_moments_match_closed_form():
  s = diffusion.linear_schedule(100)
  n, batch = 4000, 4
  x0 = jnp.array([[-1.0], [0.3], [0.9], [0.5]]) * jnp.ones((batch, n))
  t = jnp.array([0, 10, 50, 99], jnp.int32)
  x_t, noise = jax.jit(diffusion.q_sample)(jax.random.key(0), x0, t, s)
  abar = np.cumprod(1 - np.linspace(1e-4, 0.02, 100))[np.asarray(t)]
  mean = np.sqrt(abar) * np.asarray(x0[:, 0])
  std = np.sqrt(1 - abar)
  got_mean = np.asarray(x_t).mean(1)
  got_std = np.asarray(x_t).std(1)
  # 5 standard errors: of the mean std/sqrt(n), of the sample std std/sqrt(2n).
  assert np.all(np.abs(got_mean - mean) < 5 * std / math.sqrt(n)), (got_mean, mean)
  assert np.all(np.abs(got_std - std) < 5 * std / math.sqrt(2 * n)), (got_std, std)
  # The returned noise is the one used: x_t is exactly the Eq. 4 combination.
  np.testing.assert_allclose(x_t, np.sqrt(abar)[:, None] * x0 + std[:, None] * noise,
                             rtol=1e-5, atol=1e-5)
  # Legacy keys give the same draws.
  x_legacy, _ = jax.jit(diffusion.q_sample)(jax.random.PRNGKey(0), x0, t, s)
  np.testing.assert_array_equal(x_legacy, x_t)


def test_q_posterior_is_bayes_rule_on_1d_gaussians():
  """q(x_{t-1} | x0) = N(sqrt(abar_{t-1}) x0, 1 - abar_{t-1}) is the prior, q(x_t | x_{t-1}) =
  N(sqrt(alpha_t) x_{t-1}, beta_t) the likelihood; conjugacy gives the posterior."""
  T = 50
  s = diffusion.cosine_schedule(T)
  betas = np.asarray(s.betas, np.float64)
  rng = np.random.default_rng(1)
  t = np.array([1, 2, 17, 30, 49], np.int32)
  x0 = rng.uniform(-1, 1, size=(5, 3)).astype(np.float32)
  x_t = rng.normal(size=(5, 3)).astype(np.float32)
  mean, var, log_var = jax.jit(diffusion.q_posterior)(x0, x_t, t, s)
  abar = np.cumprod(1 - betas)
  prev = abar[t - 1][:, None]
  alpha, beta = 1 - betas[t][:, None], betas[t][:, None]
  prior_prec = 1 / (1 - prev)
  like_prec = alpha / beta
  want_var = 1 / (prior_prec + like_prec)
  want_mean = want_var * (prior_prec * np.sqrt(prev) * x0 + np.sqrt(alpha) / beta * x_t)
  np.testing.assert_allclose(mean, want_mean, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(var, np.broadcast_to(want_var, (5, 3)), rtol=1e-4)
  np.testing.assert_allclose(log_var, np.log(np.broadcast_to(want_var, (5, 3))), rtol=1e-4,
                             atol=1e-5)
  # t = 0: x_{-1} = x0 exactly (variance 0, the clipped log variance stays finite).
  m0, v0, lv0 = diffusion.q_posterior(x0[:1], x_t[:1], np.array([0], np.int32), s)
  np.testing.assert_allclose(m0, x0[:1], rtol=1e-5)
  assert np.all(np.asarray(v0) == 0) and np.all(np.isfinite(lv0))


def test_t_and_shape_errors_name_the_argument():
  s = diffusion.linear_schedule(10)
  x0 = jnp.zeros((3, 2))
  key = jax.random.key(0)
  with pytest.raises(validation.ArgumentError, match=r"t must lie in \[0, T\) = \[0, 9\]"):
    diffusion.q_sample(key, x0, jnp.array([0, 3, 10]), s)
  with pytest.raises(validation.ArgumentError, match="t must lie"):
    diffusion.q_posterior(x0, x0, jnp.array([-1, 3, 2]), s)
  with pytest.raises(validation.ArgumentError, match="t must have shape"):
    diffusion.q_sample(key, x0, jnp.array([0, 3]), s)
  with pytest.raises(validation.ArgumentError, match="t must have an int dtype"):
    jax.jit(diffusion.q_sample, static_argnums=())(key, x0, jnp.array([0.0, 1.0, 2.0]), s)
  with pytest.raises(validation.ArgumentError, match="schedule must be"):
    diffusion.q_sample(key, x0, jnp.array([0, 1, 2]), {"betas": 1})
  with pytest.raises(validation.ArgumentError, match="x0 and x_t"):
    diffusion.q_posterior(x0, jnp.zeros((3, 3)), jnp.array([0, 1, 2]), s)
