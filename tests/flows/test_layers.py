"""gen_jax.flows' learnable layers: each log-det against the slogdet of the dense Jacobian
(jax.jacfwd, float64), inverse(forward(x)) = x, under jit, at perturbed (non-identity)
parameters."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import flows
from gen_jax import nets
from gen_jax import validation

MLP = functools.partial(nets.CouplingMLP, hidden=(8,))
RES = functools.partial(nets.CouplingResNet, channels=4, num_blocks=1)
VEC, IMG = (3, 4), (2, 4, 4, 2)  # 32-dimensional Jacobians

CASES = {
    "lu_affine": (lambda: flows.LUAffine(), VEC),
    "lu_affine_perm": (lambda: flows.LUAffine(permutation=(2, 0, 3, 1)), VEC),
    "leaky_relu": (lambda: flows.LeakyReLU(negative_slope=0.3), VEC),
    "actnorm_vec": (lambda: flows.ActNorm(), VEC),
    "actnorm_img": (lambda: flows.ActNorm(), IMG),
    "conv1x1": (lambda: flows.Invertible1x1Conv(), IMG),
    "affine_coupling_vec": (lambda: flows.AffineCoupling(flows.checkerboard_mask((4,)), MLP),
                            VEC),
    "affine_coupling_checker": (
        lambda: flows.AffineCoupling(flows.checkerboard_mask((4, 4, 2), 1), RES), IMG),
    "affine_coupling_channel": (
        lambda: flows.AffineCoupling(flows.channel_mask((4, 4, 2)), RES), IMG),
    "spline_coupling_vec": (
        lambda: flows.SplineCoupling(flows.channel_mask((4,)), MLP, num_bins=5, bound=2.0),
        VEC),
    "spline_coupling_img": (
        lambda: flows.SplineCoupling(flows.checkerboard_mask((4, 4, 2)), RES, num_bins=4,
                                     bound=2.0), IMG),
    "squeeze": (lambda: flows.Squeeze(), IMG),
    "chain": (lambda: flows.Chain([flows.ActNorm(), flows.LUAffine(), flows.LeakyReLU(),
                                   flows.AffineCoupling(flows.checkerboard_mask((4,)), MLP)]),
              VEC),
}


def perturbed_params(layer, x, scale=0.3):
  """The layer's variables at init, each leaf moved by scale * N(0, 1): zero-initialized
  conditioners and identity factors would otherwise make the tests trivial."""
  params = layer.init(jax.random.key(1), x)
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(2), len(leaves))
  leaves = [v + scale * jax.random.normal(k, v.shape, v.dtype) for v, k in zip(leaves, keys)]
  return jax.tree.unflatten(tree, leaves)


def dense_log_det(fn, x):
  """log |det| of each example's Jacobian of fn (per-example, flattened), [B]."""
  def one(v):
    return fn(v[None])[0].reshape(-1)
  jac = jax.vmap(jax.jacfwd(one))(x)                    # [B, D_out, *x.shape[1:]]
  jac = jac.reshape(x.shape[0], jac.shape[1], -1)
  return jnp.linalg.slogdet(jac)


@pytest.mark.parametrize("name", CASES)
def test_log_det_matches_dense_jacobian_and_round_trips(name):
  make, shape = CASES[name]
  layer = make()
  x = 1.5 * jax.random.normal(jax.random.key(0), shape)
  params = perturbed_params(layer, x)
  with jax.enable_x64(True):  # one compiled check per layer, in float64
    p64 = jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), params)
    fwd = lambda v: layer.apply(p64, v, method="forward_and_log_det")
    inv = lambda v: layer.apply(p64, v, method="inverse_and_log_det")

    @jax.jit
    def run(x):
      z, ld = fwd(x)
      x_back, ld_inv = inv(z)
      sign, dense = dense_log_det(lambda v: fwd(v)[0], x)
      sign_inv, dense_inv = dense_log_det(lambda v: inv(v)[0], z)
      return z, ld, x_back, ld_inv, sign * sign_inv, dense, dense_inv

    z, ld, x_back, ld_inv, sign, dense, dense_inv = run(x.astype(jnp.float64))
  assert ld.shape == (shape[0],) and ld_inv.shape == (shape[0],)
  assert np.all(np.asarray(sign) != 0)
  np.testing.assert_allclose(x_back, x, atol=1e-6)
  np.testing.assert_allclose(ld, dense, atol=1e-6, rtol=1e-6)
  np.testing.assert_allclose(ld_inv, dense_inv, atol=1e-6, rtol=1e-6)
  np.testing.assert_allclose(ld_inv, -ld, atol=1e-6, rtol=1e-6)


def test_round_trip_in_float32_under_jit():
  layer = flows.Chain([flows.ActNorm(), flows.Invertible1x1Conv(),
                       flows.AffineCoupling(flows.channel_mask((4, 4, 2)), RES),
                       flows.SplineCoupling(flows.checkerboard_mask((4, 4, 2)), RES,
                                            bound=2.0)])
  x = jax.random.normal(jax.random.key(0), IMG)
  params = perturbed_params(layer, x, scale=0.1)
  z, ld = jax.jit(lambda v: layer.apply(params, v, method="forward_and_log_det"))(x)
  x_back, ld_inv = jax.jit(lambda v: layer.apply(params, v, method="inverse_and_log_det"))(z)
  np.testing.assert_allclose(x_back, x, atol=1e-4)
  np.testing.assert_allclose(ld_inv, -ld, atol=1e-4, rtol=1e-5)


def test_actnorm_data_dependent_init_standardizes_the_first_batch():
  x = 3.0 + 2.0 * jax.random.normal(jax.random.key(0), (64, 5, 5, 3))
  layer = flows.ActNorm()
  params = layer.init(jax.random.key(1), x)
  z, _ = layer.apply(params, x, method="forward_and_log_det")
  np.testing.assert_allclose(z.mean((0, 1, 2)), 0.0, atol=1e-5)
  np.testing.assert_allclose(z.std((0, 1, 2)), 1.0, atol=1e-4)


def test_couplings_start_as_the_identity_and_leave_the_conditioning_half_unchanged():
  x = jax.random.normal(jax.random.key(0), IMG)
  mask = flows.checkerboard_mask((4, 4, 2))
  for layer in (flows.AffineCoupling(mask, RES), flows.SplineCoupling(mask, RES)):
    params = layer.init(jax.random.key(1), x)
    z, ld = layer.apply(params, x, method="forward_and_log_det")
    if isinstance(layer, flows.AffineCoupling):
      np.testing.assert_allclose(z, x, atol=1e-6)
      np.testing.assert_allclose(ld, 0.0, atol=1e-6)
    z, _ = layer.apply(perturbed_params(layer, x), x, method="forward_and_log_det")
    np.testing.assert_array_equal(np.asarray(z)[..., mask > 0], np.asarray(x)[..., mask > 0])
    assert not np.allclose(np.asarray(z)[..., mask == 0], np.asarray(x)[..., mask == 0])


def test_masks():
  np.testing.assert_array_equal(flows.checkerboard_mask((4,)), [1, 0, 1, 0])
  np.testing.assert_array_equal(flows.checkerboard_mask((2, 2, 1), 1)[..., 0], [[0, 1], [1, 0]])
  np.testing.assert_array_equal(flows.channel_mask((1, 1, 4))[0, 0], [1, 1, 0, 0])
  np.testing.assert_array_equal(flows.channel_mask((4,), 1), [0, 0, 1, 1])


def test_squeeze_is_a_permutation_of_2x2_patches():
  x = jnp.arange(2 * 4 * 4 * 3.0).reshape(2, 4, 4, 3)
  s = flows.squeeze(x)
  assert s.shape == (2, 2, 2, 12)
  np.testing.assert_array_equal(s[0, 0, 0, :3], x[0, 0, 0])
  np.testing.assert_array_equal(s[0, 0, 0, 3:6], x[0, 0, 1])
  np.testing.assert_array_equal(s[0, 0, 0, 6:9], x[0, 1, 0])
  np.testing.assert_array_equal(flows.unsqueeze(s), x)


@pytest.mark.parametrize("mask", [np.zeros(4), np.ones(4)])
def test_mask_without_conditioning_inputs_or_outputs_is_an_argument_error(mask):
  layer = flows.AffineCoupling(mask, MLP)
  with pytest.raises(validation.ArgumentError, match="mask") as err:
    layer.init(jax.random.key(0), jnp.zeros(VEC))
  assert err.value.argument == "mask"


def test_bad_configs_are_argument_errors():
  with pytest.raises(validation.ArgumentError, match="mask must broadcast"):
    flows.AffineCoupling(np.ones(3), MLP).init(jax.random.key(0), jnp.zeros(VEC))
  with pytest.raises(validation.ArgumentError, match="negative_slope"):
    flows.LeakyReLU(negative_slope=0.0).init(jax.random.key(0), jnp.zeros(VEC))
  with pytest.raises(validation.ArgumentError, match="permutation"):
    flows.LUAffine(permutation=(0, 0, 1, 2)).init(jax.random.key(0), jnp.zeros(VEC))
  with pytest.raises(validation.ArgumentError, match="even"):
    flows.Squeeze().init(jax.random.key(0), jnp.zeros((1, 3, 4, 1)))
