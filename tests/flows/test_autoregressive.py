"""MAF / IAF layers: log-det vs the dense Jacobian, round trips, the autoregressive
(triangular) structure of the Jacobian in the layer's order, one-pass vs sequential."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import flows
from test_layers import dense_log_det, perturbed_params

ORDER = (2, 0, 3, 1)


@pytest.mark.parametrize("iaf", [False, True])
def test_log_det_round_trip_and_triangular_jacobian(iaf):
  layer = flows.MaskedAutoregressive(4, hidden_sizes=(16,), input_order=ORDER,
                                     inverse_autoregressive=iaf)
  x = jax.random.normal(jax.random.key(0), (3, 4))
  params = perturbed_params(layer, x, scale=0.2)
  with jax.enable_x64(True):
    fwd = lambda v: layer.apply(params, v, method="forward_and_log_det")
    inv = lambda v: layer.apply(params, v, method="inverse_and_log_det")

    @jax.jit
    def run(x):
      z, ld = fwd(x)
      x_back, ld_inv = inv(z)
      jac = jax.vmap(jax.jacfwd(lambda v: fwd(v[None])[0][0]))(x)
      return z, ld, x_back, ld_inv, dense_log_det(lambda v: fwd(v)[0], x)[1], jac

    z, ld, x_back, ld_inv, dense, jac = run(x.astype(jnp.float64))
  np.testing.assert_allclose(x_back, x, atol=1e-5)
  np.testing.assert_allclose(ld, dense, atol=1e-5, rtol=1e-5)
  np.testing.assert_allclose(ld_inv, -ld, atol=1e-5, rtol=1e-5)
  # dz_i/dx_j = 0 unless j comes before i in the order or j = i: triangular after permuting.
  permuted = np.asarray(jac)[:, ORDER][:, :, ORDER]
  np.testing.assert_array_equal(np.triu(permuted, 1), 0.0)
  assert np.all(np.abs(np.tril(permuted, -1)[0][np.tril_indices(4, -1)]) > 0)


def test_sequential_scans_invert_the_one_pass_maps_in_float32():
  """MAF: sampling (a D-step scan) inverts the density pass; IAF: the density scan inverts
  the sampling pass; float32, two hidden layers, under jit."""
  x = jax.random.normal(jax.random.key(3), (4, 5))
  for iaf in (False, True):
    layer = flows.MaskedAutoregressive(5, hidden_sizes=(8, 8), inverse_autoregressive=iaf)
    params = perturbed_params(layer, x, scale=0.2)
    fwd = jax.jit(lambda v: layer.apply(params, v, method="forward_and_log_det"))
    inv = jax.jit(lambda v: layer.apply(params, v, method="inverse_and_log_det"))
    z, ld = fwd(x)
    x_back, ld_inv = inv(z)
    np.testing.assert_allclose(x_back, x, atol=1e-5)
    np.testing.assert_allclose(ld_inv, -ld, atol=1e-5)
    x2, ld2 = inv(x)
    z2, ld2_inv = fwd(x2)
    np.testing.assert_allclose(z2, x, atol=1e-5)
