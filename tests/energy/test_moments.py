"""GMMN loss (MMD² with Gaussian mixture kernels) and the Kozachenko-Leonenko entropy."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from gen_jax import energy
from gen_jax import validation


def test_gmmn_loss_is_the_mixture_mmd2_of_the_flattened_samples():
  rng = np.random.default_rng(0)
  g = rng.uniform(size=(6, 2, 3, 1)).astype(np.float32)
  d = rng.uniform(size=(8, 2, 3, 1)).astype(np.float32)
  x, y = g.reshape(6, -1).astype(np.float64), d.reshape(8, -1).astype(np.float64)
  k = lambda a, b: sum(np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * s**2))
                       for s in (0.5, 1.0))
  kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
  expected = ((kxx.sum() - np.trace(kxx)) / 30 + (kyy.sum() - np.trace(kyy)) / 56
              - 2 * kxy.mean())
  got = jax.jit(lambda a, b: energy.gmmn_loss(a, b, bandwidths=(0.5, 1.0)))(g, d)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
  # Its gradient moves generated samples toward the data: one step lowers the biased MMD².
  loss = lambda a: energy.gmmn_loss(a, d, bandwidths=(0.5, 1.0), unbiased=False)
  assert loss(g - 0.5 * jax.grad(loss)(g)) < loss(g)


@pytest.mark.parametrize("dim, scale, k", [(1, 1.0, 1), (2, 0.5, 1), (4, 2.0, 3)])
def test_entropy_estimate_against_gaussian_closed_form(dim, scale, k):
  n, reps = 1000, 8
  estimates = np.array([
      float(jax.jit(lambda z: energy.kozachenko_leonenko_entropy(z, k=k))(
          scale * jax.random.normal(jax.random.key(r), (n, dim)))) for r in range(reps)])
  exact = 0.5 * dim * math.log(2 * math.pi * math.e * scale**2)
  se = estimates.std(ddof=1) / math.sqrt(reps)
  # The estimator's bias at N = 1,000 is O(N^{-1/d}) small (Kraskov et al. 2004); allow
  # 4 standard errors of the mean over replications plus 0.03 nats for it.
  assert abs(estimates.mean() - exact) < 4 * se + 0.03, (estimates.mean(), exact, se)


def test_entropy_of_a_regular_grid_matches_the_formula_by_hand():
  # 1-D points at spacing h: every nearest-neighbour distance is h.
  z = jnp.arange(10.0)[:, None] * 0.5
  expected = special.digamma(10) - special.digamma(1) + math.log(2.0) + math.log(0.5)
  np.testing.assert_allclose(energy.kozachenko_leonenko_entropy(z), expected, rtol=1e-5)
  grad = jax.grad(energy.kozachenko_leonenko_entropy)(jax.random.normal(jax.random.key(0),
                                                                         (50, 2)))
  assert np.isfinite(np.asarray(grad)).all()


def test_bad_arguments_name_themselves():
  cases = [
      (lambda: energy.kozachenko_leonenko_entropy(jnp.zeros((3, 2)), k=3), "z", "N >= 4"),
      (lambda: energy.kozachenko_leonenko_entropy(jnp.zeros(3)), "z", r"\[N, d\]"),
      (lambda: energy.gmmn_loss(jnp.zeros((4, 3)), jnp.zeros((4, 2))), "generated", "must share"),
      (lambda: energy.gmmn_loss(jnp.zeros((4, 3)), jnp.zeros((4, 3)), bandwidths=(0.0,)),
       "bandwidths", "positive"),
  ]
  for call, argument, message in cases:
    with pytest.raises(validation.ArgumentError, match=message) as info:
      call()
    assert info.value.argument == argument
