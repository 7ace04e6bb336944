"""PixelRNN (Row LSTM, Diagonal BiLSTM): autoregressive property by Jacobians, the layers
against NumPy loops of their definitions."""

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.nets.pixelrnn import PixelRNN
from gen_jax.nets.pixelrnn import DiagonalBiLSTM
from gen_jax.nets.pixelrnn import RowLSTM
from gen_jax.nets.pixelrnn import skew
from gen_jax.nets.pixelrnn import unskew


def dependencies(model, params, h, w, n=3):
  """[H*W, H*W] bool: out[i] depends on in[j] (raster order), from jax.jacfwd."""
  def f(x):
    return model.apply(params, x[None]).sum(-1)[0, ..., 0]
  xs = jax.random.uniform(jax.random.key(1), (n, h, w, 1))
  j = np.abs(np.asarray(jax.jit(jax.vmap(jax.jacfwd(f)))(xs))).sum(0)
  return j.reshape(h * w, h * w) > 0


def preceding(d):
  return np.tril(np.ones((d, d), bool), -1)


def _sigmoid(z):
  return 1.0 / (1.0 + np.exp(-z))


def test_row_lstm_matches_a_numpy_loop():
  b, h, w, fin, f, k = 2, 4, 5, 3, 4, 3
  x = jax.random.normal(jax.random.key(0), (b, h, w, fin))
  layer = RowLSTM(f, kernel=k, mask_type="A")
  params = layer.init(jax.random.key(1), x)
  out = np.asarray(jax.jit(layer.apply)(params, x), np.float64)
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"])
  kin = p["input_to_state"]["kernel"][0]       # [k, fin, 4f]
  bias = p["input_to_state"]["bias"]
  kss = p["state_to_state"]                    # [k, f, 4f]
  xn = np.asarray(x, np.float64)
  hp, cp = np.zeros((b, w, f)), np.zeros((b, w, f))
  ref = np.zeros((b, h, w, f))
  for r in range(h):
    hn, cn = np.zeros_like(hp), np.zeros_like(cp)
    for c in range(w):
      g = bias.copy()[None].repeat(b, 0)
      for t in range(k):
        cc = c + t - k // 2
        if 0 <= cc < w:
          if cc < c:                           # type A: strictly left of the pixel
            g = g + xn[:, r, cc] @ kin[t]
          g = g + hp[:, cc] @ kss[t]
      o, fg, i, gg = np.split(g, 4, axis=-1)
      cn[:, c] = _sigmoid(fg) * cp[:, c] + _sigmoid(i) * np.tanh(gg)
      hn[:, c] = _sigmoid(o) * np.tanh(cn[:, c])
    hp, cp = hn, cn
    ref[:, r] = hn
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_pixelrnn_is_autoregressive_and_sees_the_upper_right():
  h, w = 6, 7
  model = PixelRNN(features=8, num_layers=2, first_kernel=3, kernel=3, outputs=2)
  params = model.init(jax.random.key(0), jnp.zeros((1, h, w, 1)))
  dep = dependencies(model, params, h, w)
  assert not (dep & ~preceding(h * w)).any()
  # pixel (4, 1) sees (1, 4) through the recurrence: the triangle above it, which a
  # plain PixelCNN's blind spot misses
  assert dep[4 * w + 1, 1 * w + 4]
  assert dep[4 * w + 1, 4 * w + 0]


def _diagonal_lstm_reference(x, p, f):
  """The Diagonal LSTM's definition, pixel by pixel in raster order, in float64."""
  b, h, w, _ = x.shape
  kin, bias = p["input_to_state"]["kernel"], p["input_to_state"]["bias"]
  k_above, k_left = p["state_to_state"]
  hs, cs = np.zeros((b, h, w, f)), np.zeros((b, h, w, f))
  for r in range(h):
    for c in range(w):
      g = x[:, r, c] @ kin + bias
      if r > 0:
        g = g + hs[:, r - 1, c] @ k_above
      c_left = cs[:, r, c - 1] if c > 0 else np.zeros((b, f))
      if c > 0:
        g = g + hs[:, r, c - 1] @ k_left
      o, fg, i, gg = np.split(g, 4, axis=-1)
      cs[:, r, c] = _sigmoid(fg) * c_left + _sigmoid(i) * np.tanh(gg)
      hs[:, r, c] = _sigmoid(o) * np.tanh(cs[:, r, c])
  return hs


def test_skew_round_trips_and_shifts_row_r_by_r():
  x = jax.random.normal(jax.random.key(0), (2, 4, 5, 3))
  s = np.asarray(jax.jit(skew)(x))
  assert s.shape == (2, 4, 8, 3)
  for r in range(4):
    np.testing.assert_array_equal(s[:, r, r:r + 5], np.asarray(x[:, r]))
    assert not s[:, r, :r].any() and not s[:, r, r + 5:].any()
  np.testing.assert_array_equal(np.asarray(jax.jit(unskew, static_argnums=1)(s, 5)), x)


def test_diagonal_bilstm_matches_its_definition():
  b, h, w, fin, f = 2, 4, 5, 3, 4
  x = jax.random.normal(jax.random.key(0), (b, h, w, fin))
  layer = DiagonalBiLSTM(f)
  params = layer.init(jax.random.key(1), x)
  params = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(jax.random.key(2), a.shape),
                        params)
  out = np.asarray(jax.jit(layer.apply)(params, x), np.float64)
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"])
  xn = np.asarray(x, np.float64)
  forward = _diagonal_lstm_reference(xn, p["left_to_right"], f)
  backward = _diagonal_lstm_reference(xn[:, :, ::-1], p["right_to_left"], f)[:, :, ::-1]
  ref = forward.copy()
  ref[:, 1:] += backward[:, :-1]            # the right-to-left half, one row down
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_diagonal_pixelrnn_is_autoregressive_and_one_layer_sees_all_rows_above():
  h, w = 5, 9
  kw = dict(features=8, num_layers=1, first_kernel=3, outputs=2)
  deps = {}
  for layer in ("diagonal", "row"):
    model = PixelRNN(layer=layer, **kw)
    params = model.init(jax.random.key(0), jnp.zeros((1, h, w, 1)))
    params = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(jax.random.key(2), a.shape),
                          params)
    deps[layer] = dependencies(model, params, h, w)
  dep = deps["diagonal"]
  assert not (dep & ~preceding(h * w)).any()
  # One Diagonal BiLSTM layer: every output sees every pixel two or more rows above it,
  # whatever its column, and its own row to its left; one Row LSTM layer (a triangle) does
  # not: pixel (4, 0) misses (0, 8).
  for r in range(h):
    for c in range(w):
      seen = dep[r * w + c].reshape(h, w)
      assert seen[:max(r - 1, 0)].all() and seen[r, :c].all(), (r, c)
  assert dep[4 * w, 8] and not deps["row"][4 * w, 8]
