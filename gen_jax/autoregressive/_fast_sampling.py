"""Ancestral samplers of the convolutional models: naive and fast, identical samples.

All the randomness of a draw is made up front from the key (`pixel_noise`, indexed by the
flattened dimension d of [H, W, C], the layout of the family's `sampling_noise`), and one
draw rule (`pixel_draw`) turns a dimension's parameters and noise into its value. Both
samplers below use them, so from the same key they return the same images (up to the
float rounding of the two ways of computing the same logits; tested equal).

* `conv_sample_naive`: H·W·C full forward passes of the network in one `lax.fori_loop`
  (D times the cost of a likelihood evaluation).
* `conv_sample` (fast), one `lax.fori_loop` over pixels that computes each layer at the
  current pixel only, reading earlier pixels' activations from per-layer caches — the
  caching of Ramachandran et al. ("Fast Generation for Convolutional Autoregressive
  Models", ICLR 2017 workshop) at single-pixel granularity:
  - PixelCNN: a masked kernel at (r, c) reads its input at rows < r and columns <= c of
    row r only, all final by then, so every layer's value at (r, c) is computed once, from
    the caches, and cached: O(L k^2 F^2) per pixel instead of O(H W L k^2 F^2).
  - Gated PixelCNN: the vertical stack at row r reads row r at columns right of the pixel,
    so it is computed a whole row at a time once row r is complete (one full-width row
    per layer per image row: one forward pass in all); the horizontal stack, which reads
    row r - 1 of the vertical stack and its own row left of the pixel, per pixel.
  - PixelRNN (Row LSTM): conv_in per pixel as in PixelCNN; each LSTM cell at (r, c) from
    its row's input left of c, and the previous row's hidden and cell states (complete).
  - PixelRNN (Diagonal BiLSTM): the left-to-right cell at (r, c) per pixel, from the cached
    states above and to the left; the right-to-left half, which reads the pixel's right
    neighbour, enters (r, c) only through row r - 1, so it is run over a whole row once
    that row is complete (one row-long scan per layer per image row).
  Completions: `given` [B, H, W, C] and `num_given` keep the first num_given dimensions
  (raster order) and sample the rest.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from gen_jax import losses
from gen_jax import random
from gen_jax import validation
from gen_jax.autoregressive._pixelcnn import _ImageAR
from gen_jax.autoregressive._pixelcnn import GatedPixelCNN
from gen_jax.autoregressive._pixelcnn import num_outputs
from gen_jax.autoregressive._pixelcnn import PixelCNN
from gen_jax.autoregressive._pixelcnn import PixelRNN
from gen_jax.nets import pixelcnn as pixelcnn_nets
from gen_jax.nets.pixelcnn import _gate
from gen_jax.nets.pixelcnn import causal_mask
from gen_jax.nets.pixelrnn import lstm_cell


def pixel_noise(key: jax.Array, shape: Sequence[int], *, distribution: str,
                num_levels: int = 256, num_mixtures: int = 5):
  """All the noise of a draw of images [B, H, W, C], per flattened dimension d:
  uniforms [B, D] ('bernoulli'), Gumbels [B, D, L] ('categorical'), (Gumbels [B, D, K],
  uniforms [B, D]) ('logistic_mixture')."""
  key = validation.check_key("key", key)
  b, d = shape[0], math.prod(shape[1:])
  if distribution == "bernoulli":
    return random.uniform(key, (b, d), jnp.float32)
  if distribution == "categorical":
    return random.gumbel(key, (b, d, num_levels), jnp.float32)
  kg, ku = jax.random.split(key)
  return (random.gumbel(kg, (b, d, num_mixtures), jnp.float32),
          random.uniform(ku, (b, d), jnp.float32))


def _noise_at(noise, d):
  return jax.tree.map(lambda n: n[:, d], noise)


def pixel_draw(noise, params: jax.Array, *, distribution: str, num_levels: int = 256):
  """The value of one dimension from its parameters and noise, float32 [B]: Bernoulli
  1[u < sigmoid(l)]; categorical argmax(l + g); logistic mixture via
  `losses.sample_discretized_logistic_mixture`, as a level 0..L-1."""
  if distribution == "bernoulli":
    return (noise < jax.nn.sigmoid(params)).astype(jnp.float32)
  if distribution == "categorical":
    return jnp.argmax(params + noise, axis=-1).astype(jnp.float32)
  gumbel, uniform = noise
  x = losses.sample_discretized_logistic_mixture(gumbel, uniform, params,
                                                 num_levels=num_levels)
  return jnp.round(x * (num_levels - 1))


def _check(model, shape, given, num_given):
  shape = tuple(int(s) for s in shape)
  if len(shape) != 4:
    raise validation.ArgumentError("shape", f"shape must be [B, H, W, C], got {shape}")
  if not isinstance(model, _ImageAR):
    raise validation.ArgumentError("model", "model must be an autoregressive PixelCNN, "
                                   f"GatedPixelCNN or PixelRNN, got {type(model).__name__}")
  d = math.prod(shape[1:])
  validation.check_int("num_given", num_given, low=0, high=d)
  if given is None:
    given = jnp.zeros(shape, jnp.float32)
  validation.check_shape("given", given, shape)
  return shape, jnp.asarray(given, jnp.float32).reshape(shape[0], d)


def conv_sample_naive(key: jax.Array, model: _ImageAR, params, shape: Sequence[int], *,
                      labels: jax.Array | None = None, given: jax.Array | None = None,
                      num_given: int = 0) -> jax.Array:
  """Ancestral sampling by one full forward pass per dimension (one `lax.fori_loop`).

  Args:
    key: PRNG key; all noise drawn up front (`pixel_noise`).
    model: an autoregressive `PixelCNN`, `GatedPixelCNN` or `PixelRNN` module.
    params: its variables ({'params': ...}).
    shape: [B, H, W, C] of the samples.
    labels: [B] class labels of a conditional model.
    given, num_given: keep the first num_given dimensions (raster order, channels
      fastest) of given [B, H, W, C], sample the rest (completions).
  Returns:
    float32 [B, H, W, C]: 0/1 or levels 0..L-1.
  """
  shape, x0 = _check(model, shape, given, num_given)
  b, d = shape[0], math.prod(shape[1:])
  noise = pixel_noise(key, shape, distribution=model.distribution,
                      num_levels=model.num_levels, num_mixtures=model.num_mixtures)
  keep = jnp.arange(d) < num_given
  x0 = jnp.where(keep, x0, 0.0)

  def body(t, x):
    out = model.apply(params, x.reshape(shape), labels)
    out = out.reshape(b, d, -1)[:, t]
    if model.distribution == "bernoulli":
      out = out[:, 0]
    v = pixel_draw(_noise_at(noise, t), out, distribution=model.distribution,
                   num_levels=model.num_levels)
    return x.at[:, t].set(v)

  return jax.lax.fori_loop(num_given, d, body, x0).reshape(shape)


def conv_sample(key: jax.Array, model: _ImageAR, params, shape: Sequence[int], *,
                labels: jax.Array | None = None, given: jax.Array | None = None,
                num_given: int = 0) -> jax.Array:
  """The fast sampler (per-pixel caches, see the module docstring): same arguments, noise
  and samples as `conv_sample_naive`."""
  shape, x0 = _check(model, shape, given, num_given)
  noise = pixel_noise(key, shape, distribution=model.distribution,
                      num_levels=model.num_levels, num_mixtures=model.num_mixtures)
  if isinstance(model, GatedPixelCNN):
    fn = _gated_fast
  elif isinstance(model, PixelRNN):
    fn = _pixelrnn_diagonal_fast if model.layer == "diagonal" else _pixelrnn_fast
  else:
    fn = _pixelcnn_fast
  return fn(noise, model, params["params"]["net"], shape, labels, x0, num_given)


# ---------------------------------------------------------------------------------------
# shared pieces


def _conv_params(p, name, k_shape, cin, cout, kind, groups):
  """(kernel * mask, bias) of a masked conv layer's parameters."""
  kern = p[name]["kernel"]
  if kind is not None:
    kern = kern * causal_mask(k_shape, cin, cout, mask_type=kind, channel_groups=groups)
  return kern, p[name]["bias"]


def _class_bias(p, name, labels, num_classes):
  if not num_classes:
    return 0.0
  return jax.nn.one_hot(labels, num_classes) @ p[f"{name}_class"]["kernel"]


def _finish(model, out_vec, b, channels, ch):
  """Out-layer vector [B, C * outputs] -> channel ch's parameters for pixel_draw."""
  out = out_vec.reshape(b, channels, -1)[:, ch]
  return out[:, 0] if model.distribution == "bernoulli" else out


def _select_draw(model, noise, t, out, x0, num_given):
  v = pixel_draw(_noise_at(noise, t), out, distribution=model.distribution,
                 num_levels=model.num_levels)
  return jnp.where(t < num_given, x0[:, t], v)


# ---------------------------------------------------------------------------------------
# PixelCNN


def _pixelcnn_fast(noise, model: PixelCNN, p, shape, labels, x0, num_given):
  b, h, w, channels = shape
  outputs = num_outputs(model.distribution, num_levels=model.num_levels,
                        num_mixtures=model.num_mixtures)
  layers = pixelcnn_nets.PixelCNN(
      features=model.features, num_layers=model.num_layers, outputs=outputs,
      first_kernel=model.first_kernel, kernel=model.kernel, parent=None).layers(channels)
  pad = max(k // 2 for _, k, *_ in layers)
  weights = [_conv_params(p, name, (k, k), cin, cout, kind, channels)
             for name, k, cin, cout, kind in layers]
  conds = [0.0 if name == "out" else _class_bias(p, name, labels, model.num_classes)
           for name, *_ in layers]
  spatial = [i for i, (_, k, *_) in enumerate(layers) if k > 1]
  # caches[i]: the input of spatial layer i, zero padded (pad rows above, pad columns
  # on both sides); rows below the current one are never read.
  caches0 = {i: jnp.zeros((b, h + pad, w + 2 * pad, layers[i][2]), jnp.float32)
             for i in spatial}

  def at_pixel(caches, r, c):
    """All layers at (r, c) from the caches; returns (caches updated, out vector)."""
    hval = None
    for i, (name, k, cin, _, _) in enumerate(layers):
      kern, bias = weights[i]
      if k > 1:
        q = k // 2
        patch = jax.lax.dynamic_slice(caches[i], (0, r + pad - q, c + pad - q, 0),
                                      (b, q + 1, k, cin))
        pre = jnp.einsum("bhwi,hwio->bo", patch, kern[:q + 1]) + bias + conds[i]
      else:
        pre = jax.nn.relu(hval) @ kern[0, 0] + bias + conds[i]
      if name == "conv_in":
        hval = jax.nn.relu(pre)
      elif name == "hidden":
        hval = jax.nn.relu(pre)
      elif name == "out":
        hval = pre
      else:
        hval = hval + jax.nn.relu(pre)
      if i + 1 in caches:
        caches[i + 1] = jax.lax.dynamic_update_slice(
            caches[i + 1], hval[:, None, None, :], (0, r + pad, c + pad, 0))
    return caches, hval

  def body(t, carry):
    x, caches = carry
    caches = dict(caches)
    r, c = t // w, t % w
    for ch in range(channels):
      caches, out_vec = at_pixel(caches, r, c)
      d = t * channels + ch
      v = _select_draw(model, noise, d, _finish(model, out_vec, b, channels, ch), x0,
                       num_given)
      x = x.at[:, d].set(v)
      caches[0] = jax.lax.dynamic_update_slice(
          caches[0], model.preprocess(v)[:, None, None, None],
          (0, r + pad, c + pad, ch))
    return x, caches

  x = jnp.zeros_like(x0)
  x, _ = jax.lax.fori_loop(0, h * w, body, (x, caches0))
  return x.reshape(shape)


# ---------------------------------------------------------------------------------------
# Gated PixelCNN


def _gated_fast(noise, model: GatedPixelCNN, p, shape, labels, x0, num_given):
  b, h, w, channels = shape
  f, n_layers = model.features, model.num_layers
  ks = [model.first_kernel if l == 0 else model.kernel for l in range(n_layers)]
  pad = max(k // 2 for k in ks)
  cin = [channels] + [f] * (n_layers - 1)
  v_w = [p[f"v_{l}"]["kernel"] for l in range(n_layers)]             # [q+1, k, cin, 2f]
  v_b = [p[f"v_{l}"]["bias"] for l in range(n_layers)]
  h_w = [_conv_params(p, f"h_{l}", (1, ks[l]), cin[l], 2 * f, "A" if l == 0 else "B",
                      channels) for l in range(n_layers)]
  vh = [(p[f"v_to_h_{l}"]["kernel"][0, 0], p[f"v_to_h_{l}"]["bias"]) for l in range(n_layers)]
  res = [_conv_params(p, f"h_res_{l}", (1, 1), f, f, "B", channels) for l in range(n_layers)]
  hid = _conv_params(p, "hidden", (1, 1), f, f, "B", channels)
  outputs = num_outputs(model.distribution, num_levels=model.num_levels,
                        num_mixtures=model.num_mixtures)
  out_w = _conv_params(p, "out", (1, 1), f, channels * outputs, "B", channels)
  conds = [_class_bias(p, f"gate_{l}", labels, model.num_classes) for l in range(n_layers)]
  cond_row = [c if isinstance(c, float) else c[:, None, :] for c in conds]

  def vertical_row(vcache, r):
    """Vertical stack at row r (complete): v_pre of each layer [B, W, 2f]; v written."""
    pres = []
    for l in range(n_layers):
      q = ks[l] // 2
      win = jax.lax.dynamic_slice(vcache[l], (0, r + pad - q, 0, 0),
                                  (b, q + 1, w + 2 * pad, cin[l]))
      pre = v_b[l]
      for dy in range(q + 1):
        for dx in range(ks[l]):
          s = pad - q + dx
          pre = pre + win[:, dy, s:s + w] @ v_w[l][dy, dx]
      pres.append(pre)
      if l + 1 < n_layers:
        v = _gate(pre + cond_row[l], channels)
        vcache[l + 1] = jax.lax.dynamic_update_slice(vcache[l + 1], v[:, None],
                                                     (0, r + pad, pad, 0))
    return vcache, pres

  def at_pixel(hrows, vpre, c):
    hval = None
    for l in range(n_layers):
      q = ks[l] // 2
      kern, bias = h_w[l]
      patch = jax.lax.dynamic_slice(hrows[l], (0, c + pad - q, 0), (b, q + 1, cin[l]))
      pre = jnp.einsum("bwi,wio->bo", patch, kern[0, :q + 1]) + bias
      vrow = jax.lax.dynamic_index_in_dim(vpre[l], c, axis=1, keepdims=False)
      pre = pre + vrow @ vh[l][0] + vh[l][1]
      gated = _gate(pre + conds[l], channels)
      hres = gated @ res[l][0][0, 0] + res[l][1]
      if l == 0:
        hval = hres
      else:
        hval = jax.lax.dynamic_index_in_dim(hrows[l], c + pad, axis=1,
                                            keepdims=False) + hres
      if l + 1 < n_layers:
        hrows[l + 1] = jax.lax.dynamic_update_slice(hrows[l + 1], hval[:, None],
                                                    (0, c + pad, 0))
    hidden = jax.nn.relu(hval) @ hid[0][0, 0] + hid[1]
    return hrows, jax.nn.relu(hidden) @ out_w[0][0, 0] + out_w[1]

  def row_body(r, carry):
    x, vcache, vpre = carry
    hrows = [jnp.zeros((b, w + pad, cin[l]), jnp.float32) for l in range(n_layers)]

    def col_body(c, inner):
      x, hrows, vcache = inner
      hrows, vcache = list(hrows), list(vcache)
      t = r * w + c
      for ch in range(channels):
        hrows, out_vec = at_pixel(hrows, vpre, c)
        d = t * channels + ch
        v = _select_draw(model, noise, d, _finish(model, out_vec, b, channels, ch), x0,
                         num_given)
        x = x.at[:, d].set(v)
        xv = model.preprocess(v)
        hrows[0] = hrows[0].at[:, c + pad, ch].set(xv)
        vcache[0] = jax.lax.dynamic_update_slice(vcache[0], xv[:, None, None, None],
                                                 (0, r + pad, c + pad, ch))
      return x, tuple(hrows), tuple(vcache)

    x, _, vcache = jax.lax.fori_loop(0, w, col_body, (x, tuple(hrows), tuple(vcache)))
    vcache, pres = vertical_row(list(vcache), r)
    return x, tuple(vcache), tuple(pres)

  vcache0 = tuple(jnp.zeros((b, h + pad, w + 2 * pad, cin[l]), jnp.float32)
                  for l in range(n_layers))
  vpre0 = tuple(jnp.zeros((b, w, 2 * f), jnp.float32) for _ in range(n_layers))
  x, _, _ = jax.lax.fori_loop(0, h, row_body, (jnp.zeros_like(x0), vcache0, vpre0))
  return x.reshape(shape)


# ---------------------------------------------------------------------------------------
# PixelRNN (Row LSTM)


def _rnn_head(p):
  """(hidden, out) weights of the PixelRNN's two 1x1 layers, as [F, G] matrices."""
  return ((p["hidden"]["kernel"][0, 0], p["hidden"]["bias"]),
          (p["out"]["kernel"][0, 0], p["out"]["bias"]))


def _rnn_conv_in(xcache, w_in, r, c):
  """conv_in (type A, k0 x k0) at pixel (r, c) from the padded pixel cache: [B, F]."""
  kernel, bias = w_in
  k0, channels = kernel.shape[0], kernel.shape[2]
  q0 = k0 // 2
  patch = jax.lax.dynamic_slice(xcache, (0, r, c, 0), (xcache.shape[0], q0 + 1, k0, channels))
  return jnp.einsum("bhwi,hwio->bo", patch, kernel[:q0 + 1]) + bias


def _rnn_emit(model, a, head, draw_args, x, xcache, r, c):
  """The head (ReLU, 1x1, ReLU, 1x1) on the pixel's features a [B, F], its draw, and the
  sample and pixel caches updated with it."""
  (hid, hid_b), (out_w, out_b) = head
  noise, t, x0, num_given = draw_args
  out = jax.nn.relu(jax.nn.relu(a) @ hid + hid_b) @ out_w + out_b
  out = out[:, 0] if model.distribution == "bernoulli" else out
  v = _select_draw(model, noise, t, out, x0, num_given)
  q0 = model.first_kernel // 2
  xcache = jax.lax.dynamic_update_slice(
      xcache, model.preprocess(v)[:, None, None, None], (0, r + q0, c + q0, 0))
  return x.at[:, t].set(v), xcache


def _pixelrnn_fast(noise, model: PixelRNN, p, shape, labels, x0, num_given):
  del labels
  b, h, w, channels = shape
  f, n_layers, k0, k = model.features, model.num_layers, model.first_kernel, model.kernel
  q0, q = k0 // 2, k // 2
  w_in = _conv_params(p, "conv_in", (k0, k0), channels, f, "A", 1)
  lstm = []
  for l in range(n_layers):
    lp = p[f"row_lstm_{l}"]
    kern, bias = _conv_params(lp, "input_to_state", (1, k), f, 4 * f, "B", 1)
    lstm.append((kern[0, :q + 1], bias, lp["state_to_state"]))
  head = _rnn_head(p)

  def row_body(r, carry):
    x, xcache, hprev, cprev = carry            # hprev/cprev: [L, B, W + 2q, f] row r - 1
    rows_in = [jnp.zeros((b, w + q, f), jnp.float32) for _ in range(n_layers)]
    hcur = jnp.zeros_like(hprev)
    ccur = jnp.zeros_like(cprev)

    def col_body(c, inner):
      x, xcache, rows_in, hcur, ccur = inner
      rows_in = list(rows_in)
      t = r * w + c
      a = _rnn_conv_in(xcache, w_in, r, c)
      for l in range(n_layers):
        kin, bias, kss = lstm[l]
        rows_in[l] = jax.lax.dynamic_update_slice(rows_in[l], a[:, None], (0, c + q, 0))
        pin = jax.lax.dynamic_slice(rows_in[l], (0, c, 0), (b, q + 1, f))
        gates = jnp.einsum("bwi,wio->bo", pin, kin) + bias
        ps = jax.lax.dynamic_slice(hprev[l], (0, c, 0), (b, k, f))
        gates = gates + jnp.einsum("bwi,wio->bo", ps, kss)
        c_old = jax.lax.dynamic_index_in_dim(cprev[l], c + q, axis=1, keepdims=False)
        hh, cell = lstm_cell(gates, c_old)
        hcur = hcur.at[l, :, c + q].set(hh)
        ccur = ccur.at[l, :, c + q].set(cell)
        a = a + hh
      x, xcache = _rnn_emit(model, a, head, (noise, t, x0, num_given), x, xcache, r, c)
      return x, xcache, tuple(rows_in), hcur, ccur

    x, xcache, _, hcur, ccur = jax.lax.fori_loop(
        0, w, col_body, (x, xcache, tuple(rows_in), hcur, ccur))
    return x, xcache, hcur, ccur

  xcache = jnp.zeros((b, h + q0, w + 2 * q0, channels), jnp.float32)
  state = jnp.zeros((n_layers, b, w + 2 * q, f), jnp.float32)
  x, *_ = jax.lax.fori_loop(0, h, row_body, (jnp.zeros_like(x0), xcache, state, state))
  return x.reshape(shape)


# ---------------------------------------------------------------------------------------
# PixelRNN (Diagonal BiLSTM)


def _pixelrnn_diagonal_fast(noise, model: PixelRNN, p, shape, labels, x0, num_given):
  del labels
  b, h, w, channels = shape
  f, n_layers, k0 = model.features, model.num_layers, model.first_kernel
  q0 = k0 // 2
  w_in = _conv_params(p, "conv_in", (k0, k0), channels, f, "A", 1)
  halves = []
  for l in range(n_layers):
    lp = p[f"diagonal_bilstm_{l}"]
    halves.append(tuple((lp[d]["input_to_state"]["kernel"], lp[d]["input_to_state"]["bias"],
                         lp[d]["state_to_state"]) for d in ("left_to_right", "right_to_left")))
  head = _rnn_head(p)
  zeros_row = jnp.zeros((n_layers, b, w + 1, f), jnp.float32)  # column w: the zero border

  def right_to_left(inputs, params, h_above):
    """The right-to-left states of one complete row: inputs [B, W, f], h_above [B, W, f]."""
    kin, bias, kss = params

    def step(carry, xs):
      h_right, c_right = carry
      x, above = xs
      hh, cell = lstm_cell(x @ kin + bias + above @ kss[0] + h_right @ kss[1], c_right)
      return (hh, cell), hh

    zero = jnp.zeros((b, f), jnp.float32)
    _, hs = jax.lax.scan(step, (zero, zero), (jnp.moveaxis(inputs, 1, 0)[::-1],
                                              jnp.moveaxis(h_above, 1, 0)[::-1]))
    return jnp.moveaxis(hs[::-1], 0, 1)

  def row_body(r, carry):
    x, xcache, h_left_prev, h_right_prev = carry    # [L, B, W + 1, f] / [L, B, W, f]: row r - 1

    def col_body(c, inner):
      x, xcache, rows_in, h_cur, c_cur = inner
      t = r * w + c
      a = _rnn_conv_in(xcache, w_in, r, c)
      for l in range(n_layers):
        kin, bias, kss = halves[l][0]
        rows_in = rows_in.at[l, :, c].set(a)
        above = jax.lax.dynamic_index_in_dim(h_left_prev[l], c + 1, axis=1, keepdims=False)
        left = jax.lax.dynamic_index_in_dim(h_cur[l], c, axis=1, keepdims=False)
        c_left = jax.lax.dynamic_index_in_dim(c_cur[l], c, axis=1, keepdims=False)
        hh, cell = lstm_cell(a @ kin + bias + above @ kss[0] + left @ kss[1], c_left)
        h_cur = h_cur.at[l, :, c + 1].set(hh)
        c_cur = c_cur.at[l, :, c + 1].set(cell)
        below_right = jax.lax.dynamic_index_in_dim(h_right_prev[l], c, axis=1, keepdims=False)
        a = a + (hh + below_right)
      x, xcache = _rnn_emit(model, a, head, (noise, t, x0, num_given), x, xcache, r, c)
      return x, xcache, rows_in, h_cur, c_cur

    rows_in = jnp.zeros((n_layers, b, w, f), jnp.float32)
    x, xcache, rows_in, h_cur, _ = jax.lax.fori_loop(
        0, w, col_body, (x, xcache, rows_in, zeros_row, zeros_row))
    h_right = jnp.stack([right_to_left(rows_in[l], halves[l][1], h_right_prev[l])
                         for l in range(n_layers)])
    return x, xcache, h_cur, h_right

  xcache = jnp.zeros((b, h + q0, w + 2 * q0, channels), jnp.float32)
  state = (zeros_row, jnp.zeros((n_layers, b, w, f), jnp.float32))
  x, *_ = jax.lax.fori_loop(0, h, row_body, (jnp.zeros_like(x0), xcache) + state)
  return x.reshape(shape)
