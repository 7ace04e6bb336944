"""PixelCNN / gated PixelCNN: exact normalization by enumeration, naive and fast samplers
agree sample for sample, samples follow the model's probabilities, bad input."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import autoregressive as ar
from gen_jax import validation


def _init(model, shape, labels=None):
  return model.init(jax.random.key(0), jnp.zeros((1, *shape)),
                    None if labels is None else labels[:1])


def _all_images(h, w, c, levels):
  grid = np.array(list(itertools.product(range(levels), repeat=h * w * c)), np.float32)
  return grid.reshape(-1, h, w, c)


@pytest.mark.parametrize("cls,distribution,levels,channels", [
    (ar.PixelCNN, "bernoulli", 2, 1),
    pytest.param(ar.GatedPixelCNN, "bernoulli", 2, 1, marks=pytest.mark.slow),
    pytest.param(ar.PixelCNN, "categorical", 3, 2, marks=pytest.mark.slow),
    (ar.GatedPixelCNN, "logistic_mixture", 4, 1),
])
def test_probabilities_sum_to_one(cls, distribution, levels, channels):
  h, w = 2, 2
  model = cls(distribution=distribution, features=6 * channels, num_layers=2,
              first_kernel=3, kernel=3, num_levels=levels, num_mixtures=2)
  params = _init(model, (h, w, channels))
  # random, not-small parameters so the test can fail
  params = jax.tree.map(lambda a: a + 0.5 * jax.random.normal(jax.random.key(3), a.shape),
                        params)
  x = _all_images(h, w, channels, levels)
  ll = jax.jit(lambda x: ar.pixel_log_prob(model.apply(params, x), x,
                                           distribution=distribution,
                                           num_levels=levels))(x)
  np.testing.assert_allclose(jax.nn.logsumexp(ll), 0.0, atol=2e-5)


_SLOW = pytest.mark.slow  # compile-heavy variants (unrolled channel loops): -m slow
CASES = [
    pytest.param("pixelcnn", ar.PixelCNN, "bernoulli", 1, 0, id="pixelcnn"),
    pytest.param("pixelcnn_rgb_categorical", ar.PixelCNN, "categorical", 3, 0,
                 id="pixelcnn_rgb_categorical", marks=_SLOW),
    pytest.param("pixelcnn_mixture_cond", ar.PixelCNN, "logistic_mixture", 1, 4,
                 id="pixelcnn_mixture_cond", marks=_SLOW),
    pytest.param("gated", ar.GatedPixelCNN, "bernoulli", 1, 0, id="gated", marks=_SLOW),
    pytest.param("gated_cond", ar.GatedPixelCNN, "bernoulli", 1, 4, id="gated_cond"),
    pytest.param("gated_rgb_mixture", ar.GatedPixelCNN, "logistic_mixture", 3, 0,
                 id="gated_rgb_mixture", marks=_SLOW),
]


@pytest.mark.parametrize("name,cls,distribution,channels,classes", CASES)
def test_fast_sampler_equals_naive(name, cls, distribution, channels, classes):
  del name
  shape = (3, 5, 6, channels)
  model = cls(distribution=distribution, features=6 * channels, num_layers=3,
              first_kernel=5, kernel=3, num_mixtures=2, num_classes=classes)
  labels = jnp.array([0, 1, 3]) if classes else None
  params = _init(model, shape[1:], labels)
  key = jax.random.key(11)
  naive = jax.jit(lambda k: ar.conv_sample_naive(k, model, params, shape, labels=labels))(key)
  fast = jax.jit(lambda k: ar.conv_sample(k, model, params, shape, labels=labels))(key)
  np.testing.assert_array_equal(np.asarray(fast), np.asarray(naive))
  assert len(np.unique(np.asarray(naive))) > 1     # not a constant image
  # completions: the first 13 dimensions kept
  given = jnp.ones(shape) if distribution == "bernoulli" else jnp.full(shape, 7.0)
  nc = jax.jit(lambda k: ar.conv_sample_naive(k, model, params, shape, labels=labels,
                                              given=given, num_given=13))(key)
  fc = jax.jit(lambda k: ar.conv_sample(k, model, params, shape, labels=labels,
                                        given=given, num_given=13))(key)
  np.testing.assert_array_equal(np.asarray(fc), np.asarray(nc))
  np.testing.assert_array_equal(np.asarray(fc).reshape(3, -1)[:, :13],
                                np.asarray(given).reshape(3, -1)[:, :13])


@pytest.mark.slow
def test_samples_follow_the_model():
  h, w, n = 2, 2, 4000
  model = ar.GatedPixelCNN(features=8, num_layers=2, first_kernel=3, kernel=3)
  params = _init(model, (h, w, 1))
  params = jax.tree.map(lambda a: a + 0.7 * jax.random.normal(jax.random.key(5), a.shape),
                        params)
  x = jax.jit(lambda k: ar.conv_sample(k, model, params, (n, h, w, 1)))(jax.random.key(2))
  codes = np.asarray(x).reshape(n, -1) @ (2 ** np.arange(4)[::-1])
  freq = np.bincount(codes.astype(int), minlength=16) / n
  grid = _all_images(h, w, 1, 2)
  probs = np.exp(ar.pixel_log_prob(model.apply(params, grid), grid,
                                   distribution="bernoulli"))
  tol = 4.5 * np.sqrt(probs * (1 - probs) / n) + 1e-3
  assert (np.abs(freq - probs) < tol).all(), (freq, probs)


def test_bad_input_names_the_argument():
  model = ar.PixelCNN(features=4, num_layers=1)
  params = _init(model, (4, 4, 1))
  x = jnp.full((2, 4, 4, 1), 0.5)
  with pytest.raises(validation.ArgumentError, match="x must be binary") as e:
    ar.pixel_log_prob(model.apply(params, x), x, distribution="bernoulli")
  assert e.value.argument == "x"
  cat = ar.PixelCNN(distribution="categorical", features=4, num_layers=1)
  pc = _init(cat, (4, 4, 1))
  levels = jnp.full((2, 4, 4, 1), 256.0)
  with pytest.raises(validation.ArgumentError, match=r"levels in \[0, 255\]"):
    ar.pixel_log_prob(cat.apply(pc, levels), levels, distribution="categorical")
  with pytest.raises(validation.ArgumentError, match="num_given"):
    ar.conv_sample(jax.random.key(0), model, params, (2, 4, 4, 1), num_given=17)
  with pytest.raises(validation.ArgumentError, match="model"):
    ar.ConvARSpec(model="pixelcnnn")
  with pytest.raises(validation.ArgumentError, match="kernel"):
    ar.ConvARSpec(kernel=4)


def test_naive_sampler_matches_the_family_sampler():
  shape = (2, 4, 4, 1)
  model = ar.PixelCNN(features=4, num_layers=1, first_kernel=3)
  params = _init(model, shape[1:])
  key = jax.random.key(8)
  ours = ar.conv_sample_naive(key, model, params, shape)
  family = ar.sample_naive(key, lambda x: model.apply(params, x), shape)
  np.testing.assert_array_equal(np.asarray(ours), np.asarray(family))
