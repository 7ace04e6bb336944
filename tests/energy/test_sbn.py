"""Sigmoid belief nets: log p(x, h) vs NumPy, IS log-likelihood vs exact enumeration,
VIMCO's gradient unbiased (Monte Carlo vs the enumerated gradient of E[bound])."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import energy
from gen_jax import validation


def _params(seed, sizes, scale=1.0):
  params = energy.sbn_init(jax.random.key(seed), sizes, scale=scale)
  rng = np.random.default_rng(seed)
  params["prior"] = jnp.asarray(rng.normal(size=sizes[-1]), jnp.float32)
  for layer in params["gen"] + params["rec"]:
    layer["b"] = jnp.asarray(rng.normal(size=layer["b"].shape), jnp.float32)
  return params


def _np_log_bern(logits, x):
  return (x * logits - np.logaddexp(0.0, logits)).sum(-1)


def _np_log_joint(params, x, hs):
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  layers = [x] + list(hs)
  out = _np_log_bern(p["prior"], layers[-1])
  for l, g in enumerate(p["gen"]):
    out = out + _np_log_bern(layers[l + 1] @ g["W"] + g["b"], layers[l])
  return out


def _exact_log_marginal(params, x):
  """log p(x) by enumerating every latent configuration, float64."""
  sizes = [params["gen"][0]["W"].shape[1]] + [g["W"].shape[0] for g in params["gen"]]
  states = [np.array(list(itertools.product([0.0, 1.0], repeat=s))) for s in sizes[1:]]
  terms = []
  for combo in itertools.product(*states):
    hs = [np.broadcast_to(h, (x.shape[0], h.size)) for h in combo]
    terms.append(_np_log_joint(params, x, hs))
  terms = np.stack(terms)
  top = terms.max(0)
  return top + np.log(np.exp(terms - top).sum(0))


def test_log_joint_against_numpy():
  params = _params(0, (5, 4, 3))
  rng = np.random.default_rng(1)
  x = rng.integers(0, 2, (6, 5)).astype(np.float32)
  hs = [rng.integers(0, 2, (6, 4)).astype(np.float32),
        rng.integers(0, 2, (6, 3)).astype(np.float32)]
  got = jax.jit(energy.sbn_log_joint)(params, x, hs)
  np.testing.assert_allclose(got, _np_log_joint(params, x, hs), rtol=1e-5, atol=1e-5)


def test_posterior_log_q_matches_the_draws():
  params = _params(2, (4, 3, 2))
  x = jnp.asarray(np.random.default_rng(3).integers(0, 2, (5, 4)), jnp.float32)
  hs, log_q = jax.jit(energy.sbn_posterior_sample)(jax.random.key(0), params, x)
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  h1, h2 = np.asarray(hs[0]), np.asarray(hs[1])
  expected = (_np_log_bern(np.asarray(x) @ p["rec"][0]["W"] + p["rec"][0]["b"], h1)
              + _np_log_bern(h1 @ p["rec"][1]["W"] + p["rec"][1]["b"], h2))
  np.testing.assert_allclose(log_q, expected, rtol=1e-5, atol=1e-5)


def test_importance_sampled_log_likelihood_converges_to_enumeration():
  params = _params(4, (6, 4, 3))
  # A broad recognition net (small weights, zero biases) keeps the importance weights'
  # tails light; a sharp, wrong q makes the estimate heavy-tailed (still consistent).
  for layer in params["rec"]:
    layer["W"], layer["b"] = 0.3 * layer["W"], 0.0 * layer["b"]
  x = np.random.default_rng(5).integers(0, 2, (8, 6)).astype(np.float32)
  exact = _exact_log_marginal(params, x.astype(np.float64))
  ll = jax.jit(energy.sbn_log_likelihood, static_argnames="num_samples")
  errors = []
  for k in (1, 100, 10000):
    est = np.asarray(ll(jax.random.key(6), params, x, num_samples=k), np.float64)
    errors.append(np.abs(est - exact).mean())
  # The error falls as O(1/√K) (delta method: sd(w) / (√K p(x))); with 10,000 samples
  # on 2^7 latent states (measured 0.02) it is within 0.05 nats per example.
  assert errors[2] < 0.05, errors
  assert errors[0] > errors[1] > errors[2], errors


def test_vimco_gradient_is_unbiased_for_the_expected_bound():
  # One hidden layer of 2 units, K = 2: E_q[L] is a sum over the 4 x 4 joint draws.
  params = _params(7, (3, 2), scale=1.0)
  x = jnp.asarray([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
  states = jnp.asarray(list(itertools.product([0.0, 1.0], repeat=2)))   # [4, 2]

  def expected_bound(p):
    total = 0.0
    for i, j in itertools.product(range(4), repeat=2):
      h = jnp.stack([jnp.broadcast_to(states[i], (2, 2)), jnp.broadcast_to(states[j], (2, 2))])
      logits = x @ p["rec"][0]["W"] + p["rec"][0]["b"]
      log_q = (h * logits - jax.nn.softplus(logits)).sum(-1)             # [2(k), B]
      log_w = energy.sbn_log_joint(p, jnp.broadcast_to(x, (2, 2, 3)), [h]) - log_q
      bound = jax.nn.logsumexp(log_w, 0) - jnp.log(2.0)
      total = total + jnp.exp(log_q.sum(0)) * bound
    return total.sum()

  exact = jax.grad(expected_bound)(params)
  num = 40000

  def one(key):
    return jax.grad(lambda p: energy.vimco_surrogate(key, p, x, num_samples=2)[0].sum())(params)
  grads = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(8), num))
  for path, e in jax.tree_util.tree_leaves_with_path(exact):
    g = np.asarray(jax.tree_util.tree_leaves_with_path(grads)[
        [p for p, _ in jax.tree_util.tree_leaves_with_path(grads)].index(path)][1], np.float64)
    mean, se = g.mean(0), g.std(0) / np.sqrt(num)
    np.testing.assert_array_less(np.abs(mean - np.asarray(e)), 5 * se + 1e-4, err_msg=str(path))


def test_vimco_value_is_the_k_sample_bound_and_sampling_shapes():
  params = _params(9, (4, 3))
  x = jnp.asarray(np.random.default_rng(1).integers(0, 2, (5, 4)), jnp.float32)
  surrogate, bound = jax.jit(energy.vimco_surrogate, static_argnames="num_samples")(
      jax.random.key(0), params, x, num_samples=4)
  np.testing.assert_allclose(surrogate, bound, rtol=1e-6)
  ll = energy.sbn_log_likelihood(jax.random.key(0), params, x, num_samples=4)
  np.testing.assert_allclose(ll, bound, rtol=1e-5)   # same key, same draws
  xs, means = energy.sbn_sample(jax.random.key(1), params, 7)
  assert xs.shape == means.shape == (7, 4)
  assert set(np.unique(xs)) <= {0.0, 1.0}


def test_bad_arguments_name_themselves():
  params = _params(0, (4, 3))
  key = jax.random.key(0)
  x = jnp.zeros((2, 4))
  cases = [
      (lambda: energy.sbn_log_likelihood(key, params, x + 0.5, num_samples=2), "x", "binary"),
      (lambda: energy.vimco_surrogate(key, params, x, num_samples=1), "num_samples", ">= 2"),
      (lambda: energy.sbn_log_likelihood(key, params, jnp.zeros((2, 5)), num_samples=2), "x",
       r"\[\*, 4\]"),
      (lambda: energy.sbn_init(key, (4,)), "sizes", "L >= 1"),
      (lambda: energy.sbn_log_joint({"gen": []}, x, []), "params", "keys"),
  ]
  for call, argument, message in cases:
    with pytest.raises(validation.ArgumentError, match=message) as info:
      call()
    assert info.value.argument == argument
