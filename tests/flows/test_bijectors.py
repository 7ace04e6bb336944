"""gen_jax.flows' elementwise bijectors: log-dets against the dense Jacobian's slogdet,
inverses, and distrax.Transformed."""

import math

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import flows
from gen_jax import validation

B, D = 3, 5


def _unit(key, shape):
  return jax.random.uniform(key, shape, minval=0.01, maxval=0.99)


CASES = {
    "affine": (lambda: flows.Affine(jnp.linspace(-1, 1, D), jnp.linspace(-0.5, 0.7, D)),
               lambda k: 2 * jax.random.normal(k, (B, D))),
    "sigmoid": (flows.Sigmoid, lambda k: 3 * jax.random.normal(k, (B, D))),
    "tanh": (flows.Tanh, lambda k: 2 * jax.random.normal(k, (B, D))),
    "logit": (lambda: flows.Logit(0.05), lambda k: _unit(k, (B, D))),
    "logit_plain": (lambda: flows.Logit(0.0), lambda k: _unit(k, (B, D))),
    "spline": (lambda: flows.RationalQuadraticSpline(
        *(jax.random.normal(k, (D, n)) for k, n in zip(jax.random.split(jax.random.key(9), 3),
                                                      (6, 6, 5))), bound=2.0),
               lambda k: 1.5 * jax.random.normal(k, (B, D))),
}


def _dense_log_det(fn, x):
  """(sign, log |det|) of each example's [D, D] Jacobian, [B] each."""
  jac = jax.vmap(jax.jacfwd(lambda v: fn(v[None])[0]))(x)            # [B, D, D]
  return jnp.linalg.slogdet(jac)


@pytest.mark.parametrize("name", CASES)
def test_log_det_matches_dense_jacobian_and_inverse_round_trips(name):
  make, draw = CASES[name]
  bijector = make()
  x = draw(jax.random.key(0))

  @jax.jit
  def run(x):
    y, log_det = bijector.forward_and_log_det(x)
    x_back, inv_log_det = bijector.inverse_and_log_det(y)
    return y, log_det, x_back, inv_log_det

  y, log_det, x_back, inv_log_det = run(x)
  # The reference in float64: autodiff's 1 - tanh(x)^2 cancels in float32 for |x| > 3.
  with jax.enable_x64(True):
    sign, dense = jax.jit(_dense_log_det, static_argnums=0)(bijector.forward,
                                                            x.astype(jnp.float64))
    _, dense_inverse = jax.jit(_dense_log_det, static_argnums=0)(bijector.inverse,
                                                                 y.astype(jnp.float64))
    dx_dy = jax.grad(lambda v: bijector.inverse(v).sum())(y.astype(jnp.float64))
  assert log_det.shape == (B,)
  np.testing.assert_array_equal(sign, 1.0)  # increasing maps
  np.testing.assert_allclose(log_det, dense, rtol=1e-5, atol=1e-4)
  # float32 rounding of y (~eps |y|), amplified by dx/dy (~750 for tanh at |x| = 4).
  eps = np.finfo(np.float32).eps
  tol = 1e-5 + 1e-5 * np.abs(x) + 4 * eps * np.maximum(np.abs(y), 1) * np.asarray(dx_dy)
  assert np.all(np.abs(x_back - x) <= tol), np.abs(x_back - x) / tol
  # The inverse's log-det is taken at x_back: its error times |d log_det / dx| (2 for tanh).
  np.testing.assert_allclose(inv_log_det, -log_det, rtol=1e-5, atol=1e-3)
  np.testing.assert_allclose(inv_log_det, dense_inverse, rtol=1e-4, atol=1e-3)


def test_event_ndims_sums_over_image_axes():
  x = jax.random.normal(jax.random.key(1), (2, 4, 4, 3))
  y, log_det = jax.jit(flows.Tanh(event_ndims=3).forward_and_log_det)(x)
  _, per_element = flows.Tanh(event_ndims=0).forward_and_log_det(x)
  assert log_det.shape == (2,) and per_element.shape == x.shape
  np.testing.assert_allclose(log_det, per_element.sum((1, 2, 3)), rtol=1e-5)
  np.testing.assert_allclose(per_element, np.log1p(-np.tanh(np.asarray(x, np.float64))**2),
                             rtol=1e-4, atol=1e-5)


def test_tanh_log_det_is_finite_far_out():
  _, log_det = flows.Tanh(event_ndims=0).forward_and_log_det(jnp.array([-30.0, 30.0]))
  np.testing.assert_allclose(log_det, 2 * (math.log(2) - 30.0 - 0.0), rtol=1e-5)


def test_logit_is_realnvp_preprocessing():
  alpha = 0.05
  x = _unit(jax.random.key(2), (B, D))
  y, log_det = flows.Logit(alpha).forward_and_log_det(x)
  p = alpha + (1 - 2 * alpha) * np.asarray(x, np.float64)
  np.testing.assert_allclose(y, np.log(p / (1 - p)), rtol=1e-5)
  expected = (np.log(1 - 2 * alpha) - np.log(p) - np.log(1 - p)).sum(-1)
  np.testing.assert_allclose(log_det, expected, rtol=1e-5)
  # alpha = 0: the inverse of the sigmoid.
  np.testing.assert_allclose(flows.Logit(0.0).forward(x),
                             flows.Sigmoid().inverse(x), rtol=1e-6)


def test_distrax_transformed_gives_the_change_of_variables():
  base = distrax.MultivariateNormalDiag(jnp.zeros(D), jnp.ones(D))
  bijector = distrax.Chain([flows.Sigmoid(), flows.Affine(jnp.full(D, 0.3),
                                                          jnp.full(D, -0.2))])
  model = distrax.Transformed(base, bijector)
  y = _unit(jax.random.key(3), (B, D))
  log_prob = jax.jit(model.log_prob)(y)
  # By hand: y = sigmoid(z * s + b), z = (logit(y) - b) / s.
  y64 = np.asarray(y, np.float64)
  s, b = math.exp(-0.2), 0.3
  z = (np.log(y64 / (1 - y64)) - b) / s
  log_dy_dz = np.log(s) + np.log(y64) + np.log(1 - y64)
  expected = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi) - log_dy_dz).sum(-1)
  np.testing.assert_allclose(log_prob, expected, rtol=1e-5)
  samples, sample_log_prob = model.sample_and_log_prob(seed=jax.random.key(4),
                                                       sample_shape=(7,))
  np.testing.assert_allclose(sample_log_prob, model.log_prob(samples), rtol=1e-4, atol=1e-4)


def test_bad_arguments():
  with pytest.raises(validation.ArgumentError, match="alpha"):
    flows.Logit(0.5)
  with pytest.raises(validation.ArgumentError, match="event_ndims"):
    flows.Tanh(event_ndims=-1)
  with pytest.raises(validation.ArgumentError, match="x must have shape"):
    flows.Tanh(event_ndims=3).forward_and_log_det(jnp.zeros((2, 3)))
