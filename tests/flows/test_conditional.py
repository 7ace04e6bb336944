"""Conditional flows p(x | c): for every fixed context the map is a bijection whose log-det
matches the dense Jacobian, the density integrates to 1 over x, the MAF keeps its triangular
Jacobian; the context changes the density; a conditional MAF fitted to a conditional
Gaussian reaches the true conditional log-likelihood; bad contexts are argument errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import flows
from gen_jax import validation
from test_layers import dense_log_det

K = 3  # context width
SMALL = dict(num_layers=2, hidden=(16,), context_features=K)
MODELS = {
    "realnvp": lambda: flows.realnvp_flow(2, **SMALL),
    "spline": lambda: flows.spline_flow(2, num_bins=6, bound=3.0, **SMALL),
    "maf": lambda: flows.maf_flow(2, **SMALL),
    "iaf": lambda: flows.maf_flow(2, inverse_autoregressive=True, **SMALL),
}


def _params(flow, x, c, scale=0.2, method="log_prob"):
  """Init with a context, every leaf then moved by scale * N(0, 1) (zero-initialized
  conditioner outputs would make the checks trivial)."""
  params = flow.init(jax.random.key(1), x, context=c, method=method)
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(2), len(leaves))
  return jax.tree.unflatten(tree, [v + scale * jax.random.normal(k, v.shape, v.dtype)
                                   for v, k in zip(leaves, keys)])


def _grid_mass(flow, params, context, half_width=12.0, n=360):
  h = 2 * half_width / n
  t = -half_width + h * (np.arange(n) + 0.5)
  grid = np.stack(np.meshgrid(t, t), -1).reshape(-1, 2).astype(np.float32)
  c = np.broadcast_to(context, (grid.shape[0], K)).astype(np.float32)
  log_p = jax.jit(lambda v, c: flow.apply(params, v, c, method="log_prob"))(grid, c)
  return float(np.exp(np.asarray(log_p, np.float64)).sum() * h * h), np.asarray(log_p)


@pytest.mark.parametrize("name", list(MODELS))
def test_bijection_log_det_and_normalization_for_each_context(name):
  flow = MODELS[name]()
  x = 1.2 * jax.random.normal(jax.random.key(0), (4, 2))
  c = jax.random.normal(jax.random.key(3), (4, K))
  params = _params(flow, x, c)
  fwd = jax.jit(lambda v, c: flow.apply(params, v, context=c))
  inv = jax.jit(lambda v, c: flow.apply(params, v, context=c, inverse=True))
  z, log_det = fwd(x, c)
  x_back, log_det_inv = inv(z, c)
  np.testing.assert_allclose(x_back, x, atol=1e-4)
  np.testing.assert_allclose(log_det_inv, -log_det, atol=1e-4)
  dense = jax.jit(lambda x, c: dense_log_det(lambda v: flow.apply(
      params, v, context=jnp.broadcast_to(c, (v.shape[0], K)))[0], x)[1])
  for i in range(x.shape[0]):  # one context per example: its own Jacobian
    np.testing.assert_allclose(log_det[i], dense(x[i:i + 1], c[i])[0], atol=2e-4, rtol=1e-4)
  masses, densities = [], []
  for context in (np.zeros(K), np.array([1.5, -1.0, 0.5])):
    mass, log_p = _grid_mass(flow, params, context)
    masses.append(mass)
    densities.append(log_p)
  np.testing.assert_allclose(masses, 1.0, atol=0.01)
  # The context moves the density: the two conditionals differ somewhere by > 0.1 nats.
  assert np.max(np.abs(densities[0] - densities[1])) > 0.1


def test_conditional_maf_jacobian_stays_triangular_and_context_reaches_every_output():
  layer = flows.MaskedAutoregressive(4, hidden_sizes=(16,), input_order=(2, 0, 3, 1))
  x = jax.random.normal(jax.random.key(0), (3, 4))
  c = jax.random.normal(jax.random.key(1), (3, K))
  variables = _params(layer, x, c, method=None)
  z_of = lambda v, c: layer.apply(variables, v[None], context=c[None])[0][0]
  jx = jax.jit(jax.vmap(jax.jacfwd(z_of, 0)))(x, c)     # [B, 4, 4]
  jc = jax.jit(jax.vmap(jax.jacfwd(z_of, 1)))(x, c)     # [B, 4, K]
  order = (2, 0, 3, 1)
  permuted = np.asarray(jx)[:, order][:, :, order]
  np.testing.assert_array_equal(np.triu(permuted, 1), 0.0)
  # Every output dimension, the first in the order included, depends on the context.
  assert np.all(np.abs(np.asarray(jc)).sum(-1) > 1e-6)


def test_conditional_maf_fits_a_conditional_gaussian():
  # x | c ~ N(mu(c), diag(s(c))^2), c ~ U(-1, 1)^K: the model's test NLL must come within
  # 0.05 nats of the true conditional entropy estimate (the NLL of the true density on the
  # same test set; its Monte Carlo error cancels in the difference).
  rng = np.random.default_rng(0)

  def draw(n):
    c = rng.uniform(-1, 1, (n, K)).astype(np.float32)
    mu = np.stack([2 * c[:, 0] - c[:, 1], c[:, 1] * c[:, 2]], -1)
    s = np.stack([0.3 + 0.2 * (c[:, 2] + 1), 0.5 * np.ones(n)], -1)
    x = mu + s * rng.normal(size=(n, 2))
    true_nll = (0.5 * ((x - mu) / s) ** 2 + np.log(s) + 0.5 * np.log(2 * np.pi)).sum(-1)
    return x.astype(np.float32), c, true_nll

  x_train, c_train, _ = draw(20_000)
  x_test, c_test, true_nll = draw(4_000)
  flow = flows.maf_flow(2, num_layers=3, hidden=(64, 64), context_features=K)
  params = flow.init(jax.random.key(0), x_train[:256], context=c_train[:256],
                     method="log_prob")
  tx = optax.adam(3e-3)
  opt = tx.init(params)
  loss = lambda p, x, c: -flow.apply(p, x, c, method="log_prob").mean()

  @jax.jit
  def step(p, o, x, c):
    g = jax.grad(loss)(p, x, c)
    u, o = tx.update(g, o)
    return optax.apply_updates(p, u), o

  for i in range(1500):
    idx = rng.integers(0, len(x_train), 256)
    params, opt = step(params, opt, x_train[idx], c_train[idx])
  nll = float(jax.jit(loss)(params, x_test, c_test))
  print('conditional MAF test NLL', nll, 'true', float(true_nll.mean()))
  assert nll - float(true_nll.mean()) < 0.05, (nll, float(true_nll.mean()))
  # Sampling uses the context: conditional samples at c = (1, 0, 0) centre on mu = (2, 0).
  samples = jax.jit(lambda k, c: flow.apply(params, k, 2000, context=c, method="sample"))(
      jax.random.key(5), jnp.tile(jnp.array([[1.0, 0.0, 0.0]]), (2000, 1)))
  np.testing.assert_allclose(np.mean(np.asarray(samples), 0), [2.0, 0.0], atol=0.1)


def test_bad_contexts_are_argument_errors():
  flow = flows.maf_flow(2, **SMALL)
  x = jnp.zeros((4, 2))
  params = flow.init(jax.random.key(0), x, context=jnp.zeros((4, K)), method="log_prob")
  with pytest.raises(validation.ArgumentError, match=r"context must have shape \[4, 3\]"):
    flow.apply(params, x, jnp.zeros((5, K)), method="log_prob")
  with pytest.raises(validation.ArgumentError, match="this flow is conditional"):
    flow.apply(params, x, method="log_prob")
  plain = flows.maf_flow(2, num_layers=2, hidden=(16,))
  plain_params = plain.init(jax.random.key(0), x, method="log_prob")
  with pytest.raises(validation.ArgumentError, match="unconditional flow"):
    plain.apply(plain_params, x, jnp.zeros((4, K)), method="log_prob")
  no_conditioner = flows.Flow(layers=[flows.ActNorm()], event_shape=(2,), context_features=K)
  with pytest.raises(validation.ArgumentError, match="needs a conditional layer"):
    no_conditioner.init(jax.random.key(0), x, jnp.zeros((4, K)), method="log_prob")


def test_task_marginal_is_the_label_mixture_and_integrates_to_one():
  flow = flows.realnvp_flow(2, num_layers=2, hidden=(16,), context_features=3)
  x = 1.2 * jax.random.normal(jax.random.key(0), (5, 2))
  params = _params(flow, x, jax.nn.one_hot(jnp.arange(5) % 3, 3))
  pi = np.array([0.5, 0.3, 0.2])
  log_prob, marginal, sample = flows.conditional_2d_functions(flow, 3, pi)
  per_class = np.stack([np.asarray(jax.jit(log_prob)(params, x, jnp.full((5,), y)))
                        for y in range(3)])
  expected = np.log(np.sum(pi[:, None] * np.exp(per_class.astype(np.float64)), 0))
  np.testing.assert_allclose(jax.jit(marginal)(params, x), expected, rtol=1e-5, atol=1e-5)
  h, n, w = 24.0 / 360, 360, 12.0
  t = -w + h * (np.arange(n) + 0.5)
  grid = np.stack(np.meshgrid(t, t), -1).reshape(-1, 2).astype(np.float32)
  mass = np.exp(np.asarray(jax.jit(marginal)(params, grid), np.float64)).sum() * h * h
  np.testing.assert_allclose(mass, 1.0, atol=0.01)
  assert sample(params, jax.random.key(0), jnp.array([0, 1, 2])).shape == (3, 2)


def test_conditional_task_needs_labels():
  from gen_jax import data
  unlabeled = data.ArrayDataset(arrays={"x": np.zeros((8, 2), np.float32)})
  with pytest.raises(validation.ArgumentError, match="needs labels"):
    flows.make_task(flows.Flow2DSpec(conditional=True), train_data=unlabeled,
                    test_data=unlabeled)


@pytest.mark.parametrize("kind", ["glow", "realnvp"])
def test_class_conditional_multiscale_flow(kind):
  # For a fixed context the multi-scale flow is a bijection whose log-density is the base
  # density of z plus the dense log-det (float64); the context moves the density through the
  # couplings, the split priors and the top prior.
  flow = flows.MultiScaleFlow(image_shape=(4, 4, 1), kind=kind, num_levels=2,
                              steps_per_level=1, channels=4, alpha=0.05, context_features=K)
  x = jax.random.uniform(jax.random.key(0), (2, 4, 4, 1), minval=0.05, maxval=0.95)
  c = jax.random.normal(jax.random.key(1), (2, K))
  params = _params(flow, x, c, scale=0.1)
  assert "top_prior" in params["params"]
  with jax.enable_x64(True):
    p64 = jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), params)

    @jax.jit
    def run(x, c):
      fwd = lambda v, c: flow.apply(p64, v, c, method="forward_and_log_det")
      z, ld = fwd(x, c)
      x_back, ld_inv = flow.apply(p64, z, c, method="inverse_and_log_det")
      dense = jnp.stack([dense_log_det(lambda v: fwd(v, c[i:i + 1])[0], x[i:i + 1])[1][0]
                         for i in range(x.shape[0])])
      return (z, ld, x_back, ld_inv, dense, flow.apply(p64, x, c, method="log_prob"),
              flow.apply(p64, x, -c, method="log_prob"))

    z, ld, x_back, ld_inv, dense, log_p, log_p_other = run(x.astype(jnp.float64),
                                                          c.astype(jnp.float64))
    assert z.dtype == jnp.float64
  np.testing.assert_allclose(ld, dense, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(x_back, x, atol=1e-6)
  np.testing.assert_allclose(ld_inv, -ld, atol=1e-6)
  normal = -0.5 * (np.asarray(z) ** 2 + np.log(2 * np.pi)).sum(-1)
  np.testing.assert_allclose(log_p, normal + np.asarray(dense), rtol=1e-5, atol=1e-5)
  assert np.all(np.abs(np.asarray(log_p) - np.asarray(log_p_other)) > 1e-3)
  samples = jax.jit(lambda k, c: flow.apply(params, k, 2, context=c, method="sample"))(
      jax.random.key(2), c)
  assert samples.shape == (2, 4, 4, 1) and np.all((samples >= 0) & (samples <= 1))
  with pytest.raises(validation.ArgumentError, match="this flow is conditional"):
    flow.apply(params, x, method="log_prob")
