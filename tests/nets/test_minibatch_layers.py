"""Tests for gen_jax/nets/minibatch.py against NumPy loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import gan

RNG = np.random.default_rng(2)


@pytest.mark.parametrize("exclude_self", [False, True])
def test_minibatch_discrimination_matches_numpy_loops(exclude_self):
  n, a, nk, kd = 5, 6, 4, 3
  x = RNG.normal(size=(n, a)).astype(np.float32)
  layer = gan.MinibatchDiscrimination(num_kernels=nk, kernel_dim=kd,
                                      exclude_self=exclude_self,
                                      kernel_init=jax.nn.initializers.normal(0.3))
  params = layer.init(jax.random.key(0), x)
  got = np.asarray(jax.jit(layer.apply)(params, x))
  t = np.asarray(params["params"]["kernel"], np.float64).reshape(a, nk, kd)
  want = np.zeros((n, a + nk))
  for i in range(n):
    want[i, :a] = x[i]
    m_i = np.einsum("a,abc->bc", x[i], t)
    for b in range(nk):
      total = 0.0
      for j in range(n):
        if exclude_self and j == i:
          continue
        m_j = np.einsum("a,abc->bc", x[j], t)
        total += np.exp(-np.sum(np.abs(m_i[b] - m_j[b])))
      want[i, a + b] = total
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  assert got.shape == (n, a + nk)


def test_minibatch_discrimination_rejects_images():
  layer = gan.MinibatchDiscrimination()
  with pytest.raises(ValueError, match=r"\[N, A\]"):
    layer.init(jax.random.key(0), jnp.zeros((2, 3, 3, 1)))


@pytest.mark.parametrize("group_size", [None, 2])
def test_minibatch_stddev_matches_numpy_loops(group_size):
  n, h, w, c = 6, 3, 2, 4
  x = RNG.normal(size=(n, h, w, c)).astype(np.float32)
  layer = gan.MinibatchStddev(group_size=group_size)
  got = np.asarray(jax.jit(lambda v: layer.apply({}, v))(x))
  assert got.shape == (n, h, w, c + 1)
  np.testing.assert_array_equal(got[..., :c], x)
  groups = ([list(range(n))] if group_size is None else
            [[i for i in range(n) if i % (n // group_size) == r]
             for r in range(n // group_size)])
  for members in groups:
    xs = x[members].astype(np.float64)
    value = np.mean(np.sqrt(np.var(xs, axis=0) + 1e-8))  # biased variance per feature
    for i in members:
      np.testing.assert_allclose(got[i, ..., c], np.full((h, w), value), rtol=1e-5)


def test_minibatch_stddev_dense_features_and_validation():
  x = RNG.normal(size=(4, 3)).astype(np.float32)
  got = gan.MinibatchStddev().apply({}, x)
  np.testing.assert_allclose(got[:, 3], np.mean(np.sqrt(x.var(0) + 1e-8)), rtol=1e-5)
  with pytest.raises(ValueError, match="divisible"):
    gan.MinibatchStddev(group_size=3).apply({}, jnp.zeros((4, 2)))
