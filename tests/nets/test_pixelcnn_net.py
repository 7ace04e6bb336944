"""PixelCNN / gated PixelCNN: the autoregressive property proved by Jacobians.

The dependency of output pixel i on input pixel j is read off jax.jacfwd over several
random inputs (nonzero somewhere = depends). The plain PixelCNN's dependencies are compared
with an independent boolean propagation of its kernel masks (which exposes the blind
spot); the gated PixelCNN's must be exactly the preceding pixels.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nets.pixelcnn import causal_mask
from gen_jax.nets.pixelcnn import GatedPixelCNN
from gen_jax.nets.pixelcnn import PixelCNN


def dependencies(model, params, h, w, c, labels=None, n=3):
  """[H*W*C, H*W*C] bool: out[i] depends on in[j] (raster order, channel fastest)."""
  def f(x):
    return model.apply(params, x[None], labels).sum(-1)[0]     # [H, W, C]
  jac = jax.jit(jax.vmap(jax.jacfwd(f)))
  xs = jax.random.uniform(jax.random.key(1), (n, h, w, c))
  j = np.abs(np.asarray(jac(xs))).sum(0)                       # [H, W, C, H, W, C]
  return j.reshape(h * w * c, h * w * c) > 0


def preceding(d):
  return np.tril(np.ones((d, d), bool), -1)


def test_causal_mask_types():
  a = causal_mask(3, 1, 1, mask_type="A")[..., 0, 0]
  b = causal_mask(3, 1, 1, mask_type="B")[..., 0, 0]
  np.testing.assert_array_equal(a, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
  np.testing.assert_array_equal(b, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
  rgb_a = causal_mask(1, 3, 6, mask_type="A", channel_groups=3)[0, 0]
  rgb_b = causal_mask(1, 3, 6, mask_type="B", channel_groups=3)[0, 0]
  np.testing.assert_array_equal(rgb_a, [[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1],
                                        [0, 0, 0, 0, 0, 0]])
  np.testing.assert_array_equal(rgb_b, [[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1],
                                        [0, 0, 0, 0, 1, 1]])
  with pytest.raises(ValueError, match="mask_type"):
    causal_mask(3, 1, 1, mask_type="C")


def mask_propagation(model, h, w):
  """Reference: which inputs each output can reach, by boolean products of the spatial
  masks (C = 1) layer by layer, residual layers keeping their input's reach."""
  d = h * w
  reach = np.eye(d, dtype=bool)
  for name, k, _, _, kind in model.layers(1):
    m = causal_mask(k, 1, 1, mask_type=kind)[..., 0, 0]
    step = np.zeros((d, d), bool)
    for r in range(h):
      for c in range(w):
        for dr in range(k):
          for dc in range(k):
            rr, cc = r + dr - k // 2, c + dc - k // 2
            if m[dr, dc] and 0 <= rr < h and 0 <= cc < w:
              step[r * w + c, rr * w + cc] = True
    new = (step.astype(int) @ reach.astype(int)) > 0
    reach = new | reach if name.startswith("conv_") and name != "conv_in" else new
  return reach


def test_pixelcnn_dependencies_match_masks_and_show_the_blind_spot():
  h, w = 7, 9
  model = PixelCNN(features=8, num_layers=4, first_kernel=3, kernel=3, outputs=2)
  params = model.init(jax.random.key(0), jnp.zeros((1, h, w, 1)))
  dep = dependencies(model, params, h, w, 1)
  expected = mask_propagation(model, h, w)
  np.testing.assert_array_equal(dep, expected)
  assert not (dep & ~preceding(h * w)).any()           # autoregressive
  blind = preceding(h * w) & ~dep
  # pixel (5, 1): the row above, right of column 3, precedes it and is never seen
  i = 5 * w + 1
  for c in range(4, w):
    assert blind[i, 4 * w + c], (4, c)
  assert blind.sum() > 0


@pytest.mark.slow
def test_pixelcnn_blind_spot_persists_with_depth():
  h, w = 6, 8
  model = PixelCNN(features=4, num_layers=10, first_kernel=3, kernel=3)
  params = model.init(jax.random.key(0), jnp.zeros((1, h, w, 1)))
  dep = dependencies(model, params, h, w, 1)
  assert not (dep & ~preceding(h * w)).any()
  i = 4 * w + 0
  assert not dep[i, 3 * w + 3:4 * w].any()            # (3, 3..7) unseen however deep


def test_gated_pixelcnn_sees_every_preceding_pixel():
  h, w = 5, 6
  model = GatedPixelCNN(features=8, num_layers=6, first_kernel=3, kernel=3)
  params = model.init(jax.random.key(0), jnp.zeros((1, h, w, 1)))
  dep = dependencies(model, params, h, w, 1)
  np.testing.assert_array_equal(dep, preceding(h * w))


def test_gated_pixelcnn_shallow_is_causal():
  h, w = 6, 6
  model = GatedPixelCNN(features=8, num_layers=2, first_kernel=3, kernel=3)
  params = model.init(jax.random.key(0), jnp.zeros((1, h, w, 1)))
  dep = dependencies(model, params, h, w, 1)
  assert not (dep & ~preceding(h * w)).any()
  assert dep.sum() < preceding(h * w).sum()           # too shallow to see everything


@pytest.mark.parametrize("cls", [PixelCNN,
                                 pytest.param(GatedPixelCNN, marks=pytest.mark.slow)])
def test_colour_channels_are_ordered(cls):
  h, w, c = 4, 4, 3
  model = cls(features=12, num_layers=2, first_kernel=3, kernel=3, outputs=2)
  params = model.init(jax.random.key(0), jnp.zeros((1, h, w, c)))
  dep = dependencies(model, params, h, w, c)
  assert not (dep & ~preceding(h * w * c)).any()
  # the green channel of a pixel sees its red channel
  assert dep[(1 * w + 1) * c + 1, (1 * w + 1) * c + 0]


def test_gated_class_conditioning():
  h, w = 5, 5
  model = GatedPixelCNN(features=8, num_layers=3, first_kernel=3, kernel=3, num_classes=10)
  x = jax.random.bernoulli(jax.random.key(2), 0.5, (2, h, w, 1)).astype(jnp.float32)
  params = model.init(jax.random.key(0), x, jnp.array([0, 1]))
  y0 = model.apply(params, x, jnp.array([3, 3]))
  y1 = model.apply(params, x, jnp.array([3, 7]))
  np.testing.assert_array_equal(y0[0], y1[0])
  assert np.abs(np.asarray(y0[1] - y1[1])).min() > 0   # every pixel's logit moves
  dep = dependencies(model, params, h, w, 1, labels=jnp.array([4]))
  assert not (dep & ~preceding(h * w)).any()
  with pytest.raises(ValueError, match="labels"):
    model.apply(params, x)


def test_output_shape():
  x = jnp.zeros((2, 6, 5, 1))
  model = PixelCNN(features=8, num_layers=1, outputs=256)
  params = model.init(jax.random.key(0), x)
  assert jax.jit(model.apply)(params, x).shape == (2, 6, 5, 1, 256)
