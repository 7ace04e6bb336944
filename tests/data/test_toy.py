"""The 2-D toy distributions against their definitions (moments, support), under jit."""

import functools
import math

import jax
import numpy as np
import pytest

from gen_jax import data
from gen_jax import gan

N = 40_000


def _draw(fn, **kw):
  out = jax.jit(functools.partial(fn, num=N, **kw))(jax.random.key(0))
  return tuple(np.asarray(o) for o in out) if isinstance(out, tuple) else np.asarray(out)


def _check_uniform_labels(labels, k):
  # Each count is Binomial(N, 1/k): within 5 standard deviations.
  counts = np.bincount(labels, minlength=k)
  assert counts.size == k
  np.testing.assert_array_less(np.abs(counts - N / k), 5 * math.sqrt(N * (1 / k) * (1 - 1 / k)))


@pytest.mark.parametrize("fn, centres, std", [
    (data.ring_of_gaussians, np.array([[2 * math.cos(2 * math.pi * m / 8),
                                        2 * math.sin(2 * math.pi * m / 8)] for m in range(8)]),
     0.02),
    (data.grid_of_gaussians, np.array([[a, b] for a in (-4, -2, 0, 2, 4)
                                       for b in (-4, -2, 0, 2, 4)], float), 0.05),
])
def test_gaussian_mixtures(fn, centres, std):
  x, label = _draw(fn)
  assert x.shape == (N, 2) and x.dtype == np.float32 and label.dtype == np.int32
  _check_uniform_labels(label, len(centres))
  residual = x - centres[label]
  # Mean 0 within 5 standard errors; the sample variance of N(0, σ²) has sd σ²·sqrt(2/(n-1)).
  np.testing.assert_array_less(np.abs(residual.mean(0)), 5 * std / math.sqrt(N))
  np.testing.assert_allclose(residual.var(0), std**2, atol=5 * std**2 * math.sqrt(2 / N))


def test_ring_is_metz_and_reexported_by_gan():
  assert gan.ring_of_gaussians is data.ring_of_gaussians and gan.ring_modes is data.ring_modes
  np.testing.assert_allclose(np.linalg.norm(np.asarray(data.ring_modes()), axis=-1), 2.0,
                             rtol=1e-6)


def test_two_moons():
  (x, moon), (x0, moon0) = _draw(data.two_moons), _draw(data.two_moons, noise=0.0)
  _check_uniform_labels(moon, 2)
  # Noise-free support: moon 0 on the upper unit half circle, moon 1 its reflected shift.
  p = np.where(moon0[:, None] == 0, x0, np.stack([1 - x0[:, 0], 0.5 - x0[:, 1]], -1))
  np.testing.assert_allclose(np.linalg.norm(p, axis=-1), 1.0, atol=1e-5)
  assert p[:, 1].min() >= -1e-6
  # t ~ U[0, π]: E[cos t] = 0, E[sin t] = 2/π; noise 0.05 adds mean 0.
  outer = x[moon == 0]
  se = 5 / math.sqrt(outer.shape[0])
  np.testing.assert_allclose(outer.mean(0), [0.0, 2 / math.pi], atol=se)


def test_checkerboard():
  x, square = _draw(data.checkerboard)
  _check_uniform_labels(square, 8)
  i, j = np.floor((x[:, 0] + 4) / 2).astype(int), np.floor((x[:, 1] + 4) / 2).astype(int)
  assert x.min() >= -4 and x.max() < 4
  assert np.all((i + j) % 2 == 0)
  dark = [(a, b) for a in range(4) for b in range(4) if (a + b) % 2 == 0]
  np.testing.assert_array_equal(square, [dark.index(c) for c in zip(i, j)])
  # Uniform within its square: offset mean 1, variance 4/12.
  offset = x - np.stack([-4 + 2 * i, -4 + 2 * j], -1)
  np.testing.assert_allclose(offset.mean(0), 1.0, atol=5 * math.sqrt(1 / 3 / N))
  np.testing.assert_allclose(offset.var(0), 1 / 3, rtol=0.02)


def test_swiss_roll():
  x0 = _draw(data.swiss_roll, noise=0.0)
  t = 5 * np.linalg.norm(x0, axis=-1)  # radius t / 5 at angle t
  assert t.min() >= 1.5 * math.pi - 1e-3 and t.max() <= 4.5 * math.pi + 1e-3
  np.testing.assert_allclose(np.cos(t), 5 * x0[:, 0] / t, atol=1e-3)
  np.testing.assert_allclose(np.sin(t), 5 * x0[:, 1] / t, atol=1e-3)
  # t uniform: its mean is 3π within 5 standard errors (sd 3π/√3).
  assert abs(t.mean() - 3 * math.pi) < 5 * (math.pi * math.sqrt(3)) / math.sqrt(N)


@pytest.mark.parametrize("name", data.TOY_DATASETS)
def test_toy_datasets_are_fixed_and_splits_distinct(name):
  train, test = data.load_dataset(name, "train"), data.load_dataset(name, "test")
  assert train["x"].shape == (data.TOY_TRAIN_SIZE, 2) and len(test) == data.TOY_TEST_SIZE
  assert train.element_spec["x"] == jax.ShapeDtypeStruct((2,), np.float32)
  assert ("label" in train) == (name != "swiss_roll")
  np.testing.assert_array_equal(data.load_dataset(name, "train")["x"], train["x"])
  rows = lambda d: {r.tobytes() for r in d["x"]}
  assert len(rows(test) & rows(train)) <= 1  # distinct keys: no shared points
  small = data.toy_dataset(name, "test", num_examples=50)
  expected = data.load_dataset(name, "test")
  assert len(small) == 50 and small.name == expected.name
