"""gen_jax.nets.flow_nets: the coupling conditioners start at exactly zero (so couplings
start as the identity) and have the documented shapes; after a perturbation they are not
constant."""

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import nets


def test_conditioners_start_at_zero_with_the_documented_shapes():
  x_img = jax.random.normal(jax.random.key(0), (2, 6, 6, 3))
  x_vec = jax.random.normal(jax.random.key(1), (4, 5))
  for module, x, shape in ((nets.CouplingResNet(7, channels=8, num_blocks=2), x_img,
                            (2, 6, 6, 7)),
                           (nets.ZeroConv(4), x_img, (2, 6, 6, 4)),
                           (nets.CouplingMLP(10, hidden=(8,)), x_vec, (4, 10))):
    params = module.init(jax.random.key(2), x)
    out = jax.jit(module.apply)(params, x)
    assert out.shape == shape
    np.testing.assert_array_equal(out, 0.0)
    moved = jax.tree.map(lambda v: v + 0.1, params)
    out = jax.jit(module.apply)(moved, x)
    assert float(jnp.std(out)) > 1e-3
