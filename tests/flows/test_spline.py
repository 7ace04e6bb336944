"""gen_jax.flows.rational_quadratic_spline against jax.jacfwd, its own inverse, and the
identity in the tails."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import flows
from gen_jax import validation

BOUND = 3.0
K = 8


def _params(key, shape, num_bins=K, scale=1.0):
  kw, kh, kd = jax.random.split(key, 3)
  return (scale * jax.random.normal(kw, shape + (num_bins,)),
          scale * jax.random.normal(kh, shape + (num_bins,)),
          scale * jax.random.normal(kd, shape + (num_bins - 1,)))


@functools.partial(jax.jit, static_argnames="inverse")
def _spline(x, w, h, d, inverse=False):
  return flows.rational_quadratic_spline(x, w, h, d, bound=BOUND, inverse=inverse)


def _inputs(key, shape):
  # Mostly inside the interval, some in each tail.
  return jax.random.uniform(key, shape, minval=-1.3 * BOUND, maxval=1.3 * BOUND)


def test_log_det_is_the_diagonal_of_the_dense_jacobian():
  kx, kp = jax.random.split(jax.random.key(0))
  x = _inputs(kx, (4, 5))
  params = _params(kp, (4, 5))
  _, log_det = _spline(x, *params)
  jac = jax.jit(jax.jacfwd(lambda v: _spline(v, *params)[0]))(x).reshape(20, 20)
  np.testing.assert_allclose(np.diag(jac).reshape(4, 5), np.exp(log_det), rtol=1e-4, atol=1e-6)
  # Elementwise: nothing off the diagonal.
  np.testing.assert_array_equal(jac - np.diag(np.diag(jac)), 0.0)
  # And the inverse's log-det against its own Jacobian.
  y = _inputs(kx, (4, 5))
  _, inv_log_det = _spline(y, *params, inverse=True)
  inv_jac = jax.jit(jax.jacfwd(lambda v: _spline(v, *params, inverse=True)[0]))(y)
  np.testing.assert_allclose(np.diag(inv_jac.reshape(20, 20)).reshape(4, 5),
                             np.exp(inv_log_det), rtol=1e-3, atol=1e-6)


def test_inverse_of_forward_and_forward_of_inverse():
  kx, kp = jax.random.split(jax.random.key(1))
  x = _inputs(kx, (64, 16))
  params = _params(kp, (64, 16))
  y, log_det = _spline(x, *params)
  x_back, inv_log_det = _spline(y, *params, inverse=True)
  # float32: y carries a rounding error of ~eps * |y|, which the inverse amplifies by
  # dx/dy = exp(-log_det) (up to ~1e3 in bins at the minimum slope).
  eps = np.finfo(np.float32).eps
  tol = 1e-5 + 4 * eps * BOUND * np.exp(-np.asarray(log_det))
  assert np.all(np.abs(x_back - x) <= tol)
  np.testing.assert_allclose(log_det + inv_log_det, 0.0, atol=5e-4)
  z = _inputs(jax.random.key(2), (64, 16))
  x2, inv2 = _spline(z, *params, inverse=True)
  z_back, fwd2 = _spline(x2, *params)
  np.testing.assert_allclose(z_back, z, atol=1e-5)
  np.testing.assert_allclose(fwd2 + inv2, 0.0, atol=5e-4)


def test_inverse_is_exact_in_float64():
  # Extreme parameters (bins at their minimum sizes and slopes): exact up to float64
  # rounding amplified by the local dx/dy.
  with jax.enable_x64(True):
    kx, kp = jax.random.split(jax.random.key(1))
    x = _inputs(kx, (64, 16)).astype(jnp.float64)
    params = [p.astype(jnp.float64) for p in _params(kp, (64, 16), scale=3.0)]
    y, log_det = _spline(x, *params)
    x_back, inv_log_det = _spline(y, *params, inverse=True)
    assert x_back.dtype == jnp.float64
    tol = 1e-12 + 8 * np.finfo(np.float64).eps * BOUND * np.exp(-np.asarray(log_det))
    assert np.all(np.abs(x_back - x) <= tol)
    np.testing.assert_allclose(log_det + inv_log_det, 0.0, atol=1e-6)


def test_monotone_continuous_at_the_knots_and_the_bounds():
  # One parameter set shared by a dense grid (parameters broadcast over x's leading axis).
  params = _params(jax.random.key(3), (), num_bins=6, scale=2.0)
  grid = jnp.linspace(-1.5 * BOUND, 1.5 * BOUND, 20001)
  y, log_det = _spline(grid, *params)
  assert np.all(np.diff(np.asarray(y)) > 0)
  assert np.all(np.isfinite(log_det))
  # Continuity of the value and of the log-derivative (a C^1 spline) at every knot,
  # the bounds included, evaluated a hair to each side in float64.
  with jax.enable_x64(True):
    params64 = [p.astype(jnp.float64) for p in params]
    knots = flows._spline._knots(params64[0], BOUND, flows._spline.MIN_BIN_WIDTH)[0]
    eps = 1e-12  # the log-derivative's slope reaches ~1e6 in the narrowest bins
    points = jnp.stack([knots - eps, knots, knots + eps], axis=-1)
    y, log_det = _spline(points, *params64)
    assert y.dtype == jnp.float64
    np.testing.assert_allclose(y[:, 0], y[:, 1], atol=1e-10)
    np.testing.assert_allclose(y[:, 2], y[:, 1], atol=1e-10)
    np.testing.assert_allclose(log_det[:, 0], log_det[:, 1], atol=1e-5)
    np.testing.assert_allclose(log_det[:, 2], log_det[:, 1], atol=1e-5)
    # The bounds map to themselves with derivative 1, joining the identity tails.
    np.testing.assert_allclose(y[[0, -1], 1], [-BOUND, BOUND], atol=1e-12)
    np.testing.assert_allclose(log_det[[0, -1], 1], 0.0, atol=1e-12)


def test_far_tails_are_the_identity_with_finite_gradients():
  params = _params(jax.random.key(4), (6,), scale=2.0)
  x = jnp.array([-1e3, 1e3, -50.0, 50.0, -3.0001, 3.0001])

  def log_density(x, params):  # standard normal base: log N(f(x)) + log_det
    y, log_det = flows.rational_quadratic_spline(x, *params, bound=BOUND)
    return jnp.sum(-0.5 * y**2 - 0.5 * np.log(2 * np.pi) + log_det)

  y, log_det = _spline(x, *params)
  np.testing.assert_array_equal(y, x)
  np.testing.assert_array_equal(log_det, 0.0)
  grad_x, grad_p = jax.jit(jax.grad(log_density, argnums=(0, 1)))(x, params)
  np.testing.assert_array_equal(grad_x, -x)   # the identity's gradient
  for g in grad_p:
    np.testing.assert_array_equal(g, 0.0)     # the parameters do not act out there
  # The same for the inverse direction.
  grad_inv = jax.jit(jax.grad(lambda x, p: jnp.sum(flows.rational_quadratic_spline(
      x, *p, bound=BOUND, inverse=True)[1]), argnums=(0, 1)))(x, params)
  for g in jax.tree.leaves(grad_inv):
    np.testing.assert_array_equal(g, 0.0)


def test_gradients_inside_are_finite():
  kx, kp = jax.random.split(jax.random.key(5))
  x = _inputs(kx, (32, 4))
  params = _params(kp, (32, 4), scale=3.0)

  def loss(x, params, inverse):
    y, log_det = flows.rational_quadratic_spline(x, *params, bound=BOUND, inverse=inverse)
    return jnp.sum(y**2) + jnp.sum(log_det)

  for inverse in (False, True):
    grads = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=2)(x, params, inverse)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


@pytest.mark.parametrize("shapes", [
    ((4,), (4, 8), (4, 7), (4, 6)),     # derivatives with K bins instead of K - 1
    ((4,), (4, 8), (4, 6), (4, 7)),     # heights' K differs from widths'
    ((4,), (5, 8), (5, 8), (5, 7)),     # parameter batch does not broadcast to x
])
def test_mismatched_shapes_raise_one_error_naming_them(shapes):
  x, w, h, d = (jnp.zeros(s) for s in shapes)
  with pytest.raises(validation.ArgumentError) as err:
    jax.jit(flows.rational_quadratic_spline)(x, w, h, d)
  message = str(err.value)
  for name in ("unnormalized_widths", "unnormalized_heights", "unnormalized_derivatives"):
    assert name in message
  assert str(shapes[2]) in message
