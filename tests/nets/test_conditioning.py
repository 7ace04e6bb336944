"""Label conditioning shared by the MLP and conv networks of every family."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import nets


def test_flatten_with_labels_matches_numpy():
  x = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
  labels = np.array([2, 0])
  out = jax.jit(nets.flatten_with_labels, static_argnums=2)(x, labels, 3)
  expected = np.concatenate([x.reshape(2, -1), np.eye(3, dtype=np.float32)[labels]], -1)
  np.testing.assert_array_equal(out, expected)
  np.testing.assert_array_equal(nets.flatten_with_labels(x, None, 0), x.reshape(2, -1))


def test_one_hot_channels_matches_numpy():
  labels = np.array([1, 3])
  out = jax.jit(nets.one_hot_channels, static_argnums=(1, 2))(labels, 4, (2, 3))
  expected = np.broadcast_to(np.eye(4, dtype=np.float32)[labels][:, None, None], (2, 2, 3, 4))
  np.testing.assert_array_equal(out, expected)
  assert nets.one_hot_channels(labels, 4, (2, 3), jnp.bfloat16).dtype == jnp.bfloat16


def test_conditional_networks_without_labels_say_so():
  with pytest.raises(ValueError, match=r"conditional \(num_classes=3\): pass labels"):
    nets.flatten_with_labels(np.zeros((2, 4)), None, 3)
  with pytest.raises(ValueError, match=r"conditional \(num_classes=3\): pass labels"):
    nets.one_hot_channels(None, 3, (2, 2))
