"""Samplers against the Gaussian oracle.

For data x0 ~ N(m, s^2 I) the optimal eps-predictor is linear in x_t:
  eps*(x_t, t) = sqrt(1 - abar_t) (x_t - sqrt(abar_t) m) / (abar_t s^2 + 1 - abar_t),
so every sampler step is affine in x plus independent Gaussian noise, and the mean and
variance of what a correct discrete sampler returns follow exactly by propagating
(mean, var) through the steps in float64 NumPy (written here from the papers' update rules,
not from the library). The samples must match within 5 standard errors, at a sample size at
which an off-by-one timestep would be detected: each test computes that variant's exact
moments and asserts they are outside the tolerance.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import diffusion
from gen_jax import validation

M, S = 0.5, 0.3
T = 20
SHAPE = (2048, 32)          # 65,536 draws per sampler
N = SHAPE[0] * SHAPE[1]
BETAS = np.linspace(1e-3, 0.3, T)   # short chain: each step matters


def _schedule():
  return diffusion.schedule_from_betas(BETAS)


def _abar():
  return np.cumprod(1 - BETAS)


def _oracle_coefficients(abar_t):
  """eps* = k1 x + k0."""
  k1 = math.sqrt(1 - abar_t) / (abar_t * S**2 + 1 - abar_t)
  return k1, -k1 * math.sqrt(abar_t) * M


def oracle_eps_fn(schedule):
  abar = jnp.asarray(schedule.alphas_cumprod)

  def eps_fn(x, t):
    a = abar[t].reshape((-1,) + (1,) * (x.ndim - 1))
    return jnp.sqrt(1 - a) * (x - jnp.sqrt(a) * M) / (a * S**2 + 1 - a)
  return eps_fn


def ancestral_moments(variance="beta", shift=0, frac=None):
  """Exact (mean, var) of Ho et al.'s Algorithm 2 with the oracle; `shift` evaluates the
  oracle at the wrong timestep t + shift (the off-by-one bug)."""
  abar = _abar()
  abar_prev = np.r_[1.0, abar[:-1]]
  tilde = BETAS * (1 - abar_prev) / (1 - abar)
  mu, var = 0.0, 1.0
  for t in range(T - 1, -1, -1):
    ts = min(max(t + shift, 0), T - 1)
    k1, k0 = _oracle_coefficients(abar[ts])
    alpha, beta = 1 - BETAS[t], BETAS[t]
    c = beta / math.sqrt(1 - abar[t])
    a = (1 - c * k1) / math.sqrt(alpha)
    b = -c * k0 / math.sqrt(alpha)
    if variance == "beta":
      sigma2 = beta
    elif variance == "posterior":
      sigma2 = tilde[t]
    else:  # learned, constant v: frac log beta + (1 - frac) log tilde (tilde_0 -> tilde_1)
      lt = math.log(tilde[t] if t > 0 else tilde[1])
      sigma2 = math.exp(frac * math.log(beta) + (1 - frac) * lt)
    mu, var = a * mu + b, a * a * var + (sigma2 if t > 0 else 0.0)
  return mu, var


def ddim_moments(num_steps, eta, shift=0):
  """Exact (mean, var) of Song et al.'s Eq. 12 on tau = round(linspace(0, T-1, S))."""
  abar = _abar()
  tau = np.round(np.linspace(0, T - 1, num_steps)).astype(int)
  mu, var = 0.0, 1.0
  for i in range(num_steps - 1, -1, -1):
    a = abar[tau[i]]
    a_prev = abar[tau[i - 1]] if i > 0 else 1.0
    k1, k0 = _oracle_coefficients(abar[min(tau[i] + shift, T - 1)])
    sigma = eta * math.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
    # x' = sqrt(a') (x - sqrt(1-a) eps)/sqrt(a) + sqrt(1 - a' - sigma^2) eps + sigma z
    ce = -math.sqrt(a_prev) * math.sqrt(1 - a) / math.sqrt(a) + math.sqrt(
        max(1 - a_prev - sigma**2, 0.0))
    lin = math.sqrt(a_prev) / math.sqrt(a) + ce * k1
    mu, var = lin * mu + ce * k0, lin * lin * var + sigma**2
  return mu, var


def _check(samples, want, wrong):
  samples = np.asarray(samples, np.float64)
  mean, std = samples.mean(), samples.std()
  want_std = math.sqrt(want[1])
  tol_mean = 5 * want_std / math.sqrt(N)
  tol_std = 5 * want_std / math.sqrt(2 * N)
  assert abs(mean - want[0]) < tol_mean, (mean, want)
  assert abs(std - want_std) < tol_std, (std, want_std)
  # The test has the power to see the off-by-one variant.
  assert (abs(wrong[0] - want[0]) > 2 * tol_mean
          or abs(math.sqrt(wrong[1]) - want_std) > 2 * tol_std), (wrong, want)


@pytest.mark.parametrize("variance", ["beta", "posterior"])
def test_ancestral_matches_oracle_moments(variance):
  schedule = _schedule()
  fn = jax.jit(lambda key: diffusion.ancestral_sample(key, oracle_eps_fn(schedule), SHAPE,
                                                      schedule, variance=variance))
  _check(fn(jax.random.key(0)), ancestral_moments(variance),
         ancestral_moments(variance, shift=1))


def test_ancestral_learned_variance_matches_oracle_moments():
  schedule = _schedule()
  eps = oracle_eps_fn(schedule)
  v = 0.4  # constant model variance output: frac = 0.7
  fn = lambda x, t: jnp.concatenate([eps(x, t), jnp.full_like(x, v)], axis=-1)
  samples = jax.jit(lambda key: diffusion.ancestral_sample(
      key, fn, SHAPE, schedule, variance="learned"))(jax.random.key(1))
  _check(samples, ancestral_moments("learned", frac=0.7),
         ancestral_moments("learned", shift=-1, frac=0.7))


@pytest.mark.parametrize("num_steps,eta", [(T, 0.0), (7, 0.0), (7, 1.0)])
def test_ddim_matches_oracle_moments(num_steps, eta):
  schedule = _schedule()
  fn = jax.jit(lambda key: diffusion.ddim_sample(key, oracle_eps_fn(schedule), SHAPE,
                                                 schedule, num_steps=num_steps, eta=eta))
  _check(fn(jax.random.key(2)), ddim_moments(num_steps, eta),
         ddim_moments(num_steps, eta, shift=1))


def test_ddim_eta1_full_steps_is_ancestral_with_posterior_variance():
  want = ancestral_moments("posterior")
  got = ddim_moments(T, 1.0)
  np.testing.assert_allclose(got, want, rtol=1e-12)


def test_trajectory_and_one_scan():
  schedule = _schedule()
  eps = oracle_eps_fn(schedule)
  key = jax.random.key(3)
  x0, traj = jax.jit(lambda k: diffusion.ancestral_sample(
      k, eps, (64, 2), schedule, trajectory_every=5))(key)
  assert traj.shape == (T // 5 + 1, 64, 2)
  np.testing.assert_allclose(traj[-1], x0)
  plain = jax.jit(lambda k: diffusion.ancestral_sample(k, eps, (64, 2), schedule))(key)
  np.testing.assert_allclose(plain, x0, rtol=1e-5, atol=1e-5)
  # The whole chain is one scan: the jaxpr's size does not grow with T.
  small, big = (len(str(jax.make_jaxpr(lambda k, s=s: diffusion.ancestral_sample(
      k, eps, (4, 2), s))(key))) for s in (diffusion.linear_schedule(10),
                                          diffusion.linear_schedule(1000)))
  assert abs(small - big) < 50


def test_guided_eps_fn():
  a = lambda x, t: jnp.ones_like(x)
  b = lambda x, t: jnp.zeros_like(x)
  x = jnp.zeros((2, 3))
  t = jnp.zeros((2,), jnp.int32)
  np.testing.assert_allclose(diffusion.guided_eps_fn(a, b, 3.0)(x, t), 3.0)
  np.testing.assert_allclose(diffusion.guided_eps_fn(a, b, 0.0)(x, t), 0.0)


def test_sampler_bad_eps_fn_and_arguments():
  schedule = _schedule()
  key = jax.random.key(0)
  wrong = lambda x, t: x[:, :1]
  with pytest.raises(validation.ArgumentError, match="eps_fn must return eps of x_t's shape"):
    jax.jit(lambda k: diffusion.ancestral_sample(k, wrong, (4, 2), schedule))(key)
  with pytest.raises(validation.ArgumentError, match=r"eps_fn must return \[eps, v\]"):
    diffusion.ancestral_sample(key, lambda x, t: x, (4, 2), schedule, variance="learned")
  with pytest.raises(validation.ArgumentError, match="eps_fn"):
    diffusion.ddim_sample(key, wrong, (4, 2), schedule, num_steps=5)
  with pytest.raises(validation.ArgumentError, match="num_steps"):
    diffusion.ddim_sample(key, lambda x, t: x, (4, 2), schedule, num_steps=T + 1)
  with pytest.raises(validation.ArgumentError, match="variance"):
    diffusion.ancestral_sample(key, lambda x, t: x, (4, 2), schedule, variance="large")
  with pytest.raises(validation.ArgumentError, match="trajectory_every"):
    diffusion.ancestral_sample(key, lambda x, t: x, (4, 2), schedule, trajectory_every=3)
  with pytest.raises(validation.ArgumentError, match="shape"):
    diffusion.ancestral_sample(key, lambda x, t: x, 4, schedule)
