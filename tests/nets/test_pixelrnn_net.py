"""Row LSTM PixelRNN: autoregressive property by Jacobians, the layer against a NumPy loop."""

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.nets.pixelrnn import PixelRNN
from gen_jax.nets.pixelrnn import RowLSTM


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
