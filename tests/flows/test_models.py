"""Flow models: densities against dense Jacobians and numeric quadrature (a 2-D density
integrates to 1, at random init and after training), distrax interop, sampling, numerics
at the edges and far outside the spline bound, bad input."""

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import flows
from gen_jax import validation
from test_layers import dense_log_det, perturbed_params

SMALL = dict(num_layers=2, hidden=(16,))
MODELS_2D = {
    "realnvp": lambda: flows.realnvp_flow(2, **SMALL),
    "spline": lambda: flows.spline_flow(2, num_bins=6, bound=3.0, **SMALL),
    "maf": lambda: flows.maf_flow(2, **SMALL),
}


def _grid_mass(flow, params, half_width=16.0, n=480):
  """Riemann sum of p over [-w, w]^2 on an n x n midpoint grid."""
  h = 2 * half_width / n
  t = -half_width + h * (np.arange(n) + 0.5)
  grid = np.stack(np.meshgrid(t, t), -1).reshape(-1, 2).astype(np.float32)
  log_p = jax.jit(lambda v: flow.apply(params, v, method="log_prob"))(grid)
  return float(np.exp(np.asarray(log_p, np.float64)).sum() * h * h)


def _moons(n, seed=0):
  rng = np.random.default_rng(seed)
  t = rng.uniform(0, np.pi, n)
  upper = rng.random(n) < 0.5
  x = np.where(upper, np.cos(t), 1 - np.cos(t))
  y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
  return (np.stack([x - 0.5, y - 0.25], -1) * 1.5
          + 0.1 * rng.normal(size=(n, 2))).astype(np.float32)


@pytest.mark.parametrize("name", [
    "realnvp", "maf", pytest.param("spline", marks=pytest.mark.slow)])  # spline: 17 s
def test_2d_density_integrates_to_one_at_init_and_after_training(name):
  flow = MODELS_2D[name]()
  data = jnp.asarray(_moons(512))
  params = perturbed_params(flow, data[:64], scale=0.1)
  np.testing.assert_allclose(_grid_mass(flow, params), 1.0, atol=0.01)

  tx = optax.adam(3e-3)
  loss = lambda p, x: -flow.apply(p, x, method="log_prob").mean()

  @jax.jit
  def step(p, o, x):
    l, g = jax.value_and_grad(loss)(p, x)
    u, o = tx.update(g, o)
    return optax.apply_updates(p, u), o, l

  opt = tx.init(params)
  first = float(loss(params, data))
  for i in range(40):
    params, opt, _ = step(params, opt, data[(i % 4) * 128:(i % 4 + 1) * 128])
  assert float(loss(params, data)) < first - 0.3          # it learned something
  np.testing.assert_allclose(_grid_mass(flow, params), 1.0, atol=0.01)


@pytest.mark.parametrize("kind,prior", [("glow", True), ("realnvp", False)])
def test_multiscale_log_prob_is_base_density_plus_dense_log_det(kind, prior):
  flow = flows.MultiScaleFlow(image_shape=(4, 4, 1), kind=kind, num_levels=2,
                              steps_per_level=1, channels=4, alpha=0.05, split_prior=prior)
  x = jax.random.uniform(jax.random.key(0), (2, 4, 4, 1), minval=0.05, maxval=0.95)
  params = perturbed_params(flow, x, scale=0.1)
  with jax.enable_x64(True):
    p64 = jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), params)

    @jax.jit
    def run(x):
      fwd = lambda v: flow.apply(p64, v, method="forward_and_log_det")
      z, ld = fwd(x)
      x_back, ld_inv = flow.apply(p64, z, method="inverse_and_log_det")
      _, dense = dense_log_det(lambda v: fwd(v)[0], x)
      return z, ld, x_back, ld_inv, dense, flow.apply(p64, x, method="log_prob")

    z, ld, x_back, ld_inv, dense, log_p = run(x.astype(jnp.float64))
  np.testing.assert_allclose(ld, dense, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(x_back, x, atol=1e-6)
  np.testing.assert_allclose(ld_inv, -ld, atol=1e-6)
  normal = -0.5 * (np.asarray(z) ** 2 + np.log(2 * np.pi)).sum(-1)
  np.testing.assert_allclose(log_p, normal + np.asarray(dense), rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # 16 s; flow_mnist's smoke test samples at every temperature too
def test_multiscale_samples_and_temperature():
  flow = flows.MultiScaleFlow(image_shape=(4, 4, 1), num_levels=2, steps_per_level=1,
                              channels=4)
  x = jax.random.uniform(jax.random.key(0), (8, 4, 4, 1))
  params = perturbed_params(flow, x, scale=0.05)
  sample = jax.jit(lambda k, t: flow.apply(params, k, 16, temperature=t, method="sample"))
  s1, s0 = sample(jax.random.key(1), 1.0), sample(jax.random.key(1), 0.0)
  assert s1.shape == (16, 4, 4, 1) and np.all((s1 >= 0) & (s1 <= 1))
  np.testing.assert_allclose(s0, s0[:1].repeat(16, 0), atol=1e-6)  # T = 0: the mode path
  legacy = flow.apply(params, jax.random.PRNGKey(1), 16, temperature=1.0, method="sample")
  np.testing.assert_allclose(legacy, s1, atol=1e-6)


def test_distrax_transformed_gives_the_flows_density():
  flow = flows.realnvp_flow(2, **SMALL)
  x = jax.random.normal(jax.random.key(0), (6, 2))
  params = perturbed_params(flow, x)
  base = distrax.MultivariateNormalDiag(jnp.zeros(2), jnp.ones(2))
  dist = distrax.Transformed(base, distrax.Inverse(flows.as_bijector(flow, params)))
  np.testing.assert_allclose(jax.jit(dist.log_prob)(x),
                             flow.apply(params, x, method="log_prob"), rtol=1e-5, atol=1e-5)
  chain = distrax.Chain([flows.as_bijector(flows.LeakyReLU(), {}),
                         flows.as_bijector(flow, params)])   # flow first, then leaky ReLU
  y, ld = chain.forward_and_log_det(x)
  z, ld1 = flow.apply(params, x, method="forward_and_log_det")
  y2, ld2 = flows.LeakyReLU().apply({}, z, method="forward_and_log_det")
  np.testing.assert_allclose(y, y2, rtol=1e-6)
  np.testing.assert_allclose(ld, ld1 + ld2, rtol=1e-5)


def test_no_nan_gradient_far_outside_the_spline_bound_heavy_tails_included():
  flow = flows.spline_flow(2, num_bins=6, bound=3.0, **SMALL)
  rng = np.random.default_rng(0)
  heavy = rng.standard_cauchy((256, 2)).astype(np.float32) * 10.0   # |x| up to ~1e4
  extreme = np.array([[1e6, -1e6], [-3.0, 3.0], [3.0, 0.0], [0.0, 1e30]], np.float32)
  x = jnp.asarray(np.concatenate([heavy, extreme]))
  params = perturbed_params(flow, x[:64], scale=0.3)
  log_p = jax.jit(lambda v: flow.apply(params, v, method="log_prob"))(x)
  assert np.isfinite(np.asarray(log_p)[:-1]).all()
  assert np.asarray(log_p)[-1] == -np.inf                  # z^2 overflows float32: p = 0
  g_params = jax.jit(jax.grad(lambda p: flow.apply(p, x[:-1], method="log_prob").sum()))(params)
  g_x = jax.jit(jax.grad(lambda v: flow.apply(params, v, method="log_prob").sum()))(x[:-1])
  assert all(np.isfinite(np.asarray(v)).all() for v in jax.tree.leaves(g_params))
  assert np.isfinite(np.asarray(g_x)).all()


def test_no_nan_at_the_dequantization_edges():
  flow = flows.MultiScaleFlow(image_shape=(4, 4, 1), num_levels=2, steps_per_level=1,
                              channels=4)
  edges = jnp.stack([jnp.zeros((4, 4, 1)), jnp.ones((4, 4, 1)),
                     jnp.full((4, 4, 1), 255 / 256), jnp.full((4, 4, 1), 1e-8)])
  params = flow.init(jax.random.key(0), edges, method="log_prob")
  lp, g = jax.jit(jax.value_and_grad(
      lambda p: flow.apply(p, edges, method="log_prob").sum()))(params)
  assert np.isfinite(float(lp))
  assert all(np.isfinite(np.asarray(v)).all() for v in jax.tree.leaves(g))
  u = flows.uniform_dequantize(jax.random.key(1), edges)
  assert np.all((np.asarray(u) >= 0) & (np.asarray(u) < 1))
  deq = flows.VariationalDequantizer(channels=4)
  vp = deq.init(jax.random.key(2), jax.random.key(3), edges)
  vp = jax.tree.map(lambda v: v + 5.0, vp)                   # saturates the sigmoid at 1

  def bound(p):
    u, log_q = deq.apply(p, jax.random.key(3), edges)
    return (flow.apply(params, u, method="log_prob") - log_q).sum(), (u, log_q)

  (value, (u, log_q)), g = jax.jit(jax.value_and_grad(bound, has_aux=True))(vp)
  assert np.all((np.asarray(u) >= 0) & (np.asarray(u) < 1)) and np.isfinite(float(value))
  assert all(np.isfinite(np.asarray(v)).all() for v in jax.tree.leaves(g))


def test_variational_dequantizer_log_q_is_a_change_of_variables_from_the_noise():
  """log q(v | x) = log N(eps) - log |det dv/deps| with the dense Jacobian of eps -> v."""
  deq = flows.VariationalDequantizer(channels=4)
  x = jnp.round(jax.random.uniform(jax.random.key(0), (2, 3, 3, 1)) * 255) / 255
  eps = jax.random.normal(jax.random.key(2), x.shape)
  vp = deq.init(jax.random.key(1), eps, x, method="dequantize")
  leaves, tree = jax.tree.flatten(vp)
  keys = jax.random.split(jax.random.key(4), len(leaves))
  vp = jax.tree.unflatten(tree, [v + 0.3 * jax.random.normal(k, v.shape)
                                 for v, k in zip(leaves, keys)])
  u, log_q = jax.jit(lambda e: deq.apply(vp, e, x, method="dequantize"))(eps)
  with jax.enable_x64(True):
    p64 = jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), vp)
    log_det = []
    for i in range(2):  # x conditions the map: one example's Jacobian at a time
      v_of_eps = lambda e: deq.apply(p64, e, x[i:i + 1].astype(jnp.float64),
                                     method="dequantize")[0] * 256
      log_det.append(dense_log_det(v_of_eps, eps[i:i + 1].astype(jnp.float64))[1][0])
  normal = -0.5 * (np.asarray(eps) ** 2 + np.log(2 * np.pi)).reshape(2, -1).sum(-1)
  np.testing.assert_allclose(log_q, normal - log_det, rtol=1e-4, atol=1e-4)
  v = np.asarray(u) * 256 - np.round(np.asarray(x) * 255)
  assert np.all((v > 0) & (v < 1))


def test_bad_input_is_an_argument_error():
  flow = flows.MultiScaleFlow(image_shape=(4, 4, 1), num_levels=2, steps_per_level=1,
                              channels=4)
  x = jax.random.uniform(jax.random.key(0), (2, 4, 4, 1))
  params = flow.init(jax.random.key(0), x, method="log_prob")
  with pytest.raises(validation.ArgumentError, match="x must lie in"):
    flow.apply(params, x + 1.5, method="log_prob")
  with pytest.raises(validation.ArgumentError, match="x must have shape"):
    flow.apply(params, x[:, :2], method="log_prob")
  with pytest.raises(validation.ArgumentError, match="num_levels") as err:
    flows.MultiScaleFlow(image_shape=(6, 6, 1), num_levels=2).init(
        jax.random.key(0), jnp.zeros((1, 6, 6, 1)), method="log_prob")
  assert err.value.argument == "num_levels"
  with pytest.raises(validation.ArgumentError, match="kind"):
    flows.MultiScaleFlow(image_shape=(4, 4, 1), kind="nice").init(
        jax.random.key(0), x, method="log_prob")
  with pytest.raises(validation.ArgumentError, match="unnormalized_widths"):
    flows.rational_quadratic_spline(jnp.zeros(3), jnp.zeros((3, 4)), jnp.zeros((3, 5)),
                                    jnp.zeros((3, 3)))
