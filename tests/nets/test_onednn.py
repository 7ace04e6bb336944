"""Tests for gen_jax/nets/onednn: oneDNN's convolutions inside jitted JAX code.

References: XLA's own convolutions (`lax.conv_general_dilated`, its linear transposes) and
flax.linen's Conv / ConvTranspose; both sides are float32 sums of the same products in
different orders, so they agree to 1e-5 × the reference's magnitude (≈ 80 ulps).
"""

import os
import platform
import shutil
import subprocess
import sys
import textwrap

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gen_jax import nets
from gen_jax.nets import onednn
from gen_jax.nets import pixelcnn

TOLERANCE = 1e-5
DIMENSIONS = ("NHWC", "HWIO", "NHWC")
_BUILDABLE = (sys.platform.startswith("linux") and platform.machine() == "x86_64" and
              (os.environ.get("CXX") or shutil.which("g++")) is not None)

needs_onednn = pytest.mark.skipif(not onednn.available(),
                                  reason=f"oneDNN extension: {onednn.unavailable_reason()}")


def _close(got, want, name=""):
  scale = float(jnp.max(jnp.abs(want)))
  np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE * scale, err_msg=name)


def _ref(x, w, strides, pads):
  return lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=DIMENSIONS)


def test_the_extension_builds_where_its_wheels_exist():
  """On Linux x86-64 with a C++ compiler (CI, the README's machine) the backend must build:
  a failure here is a broken install, not a skip."""
  if not _BUILDABLE:
    pytest.skip("the oneDNN wheels and build are for Linux x86-64 with a C++ compiler")
  assert onednn.available(), onednn.unavailable_reason()
  assert onednn.unavailable_reason() is None


# (N, H, W, C, F, kh, kw, strides, pads): batches below and off the chunk count (4),
# 1-channel image layers, few outputs, PixelCNN's cropped causal kernel, strides.
GEOMETRIES = [
    (5, 9, 7, 3, 4, 3, 3, (1, 1), ((1, 1), (1, 1))),
    (1, 8, 8, 1, 2, 2, 3, (1, 1), ((1, 0), (1, 1))),
    (3, 10, 10, 2, 3, 4, 4, (2, 2), ((1, 2), (1, 2))),
    (8, 12, 11, 16, 8, 4, 4, (2, 2), ((1, 1), (1, 1))),
    (4, 7, 7, 8, 2, 3, 3, (1, 1), ((1, 1), (1, 1))),
    (2, 9, 8, 1, 16, 4, 7, (1, 1), ((3, 0), (3, 3))),
    (6, 6, 6, 4, 4, 1, 1, (1, 1), ((0, 0), (0, 0))),
    (2, 11, 9, 3, 5, 3, 2, (3, 2), ((2, 0), (0, 1))),
]


@needs_onednn
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_the_three_kernels_match_xla(geometry):
  n, h, w_, c, f, kh, kw, strides, pads = geometry
  rng = np.random.default_rng(sum(geometry[:7]))
  x = jnp.asarray(rng.normal(size=(n, h, w_, c)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(kh, kw, c, f)), jnp.float32)
  y_ref = _ref(x, w, strides, pads)
  ct = jnp.asarray(rng.normal(size=y_ref.shape), jnp.float32)

  @jax.jit
  def ours(x, w, ct):
    y, pull = jax.vjp(lambda x, w: onednn.conv2d(x, w, strides, pads), x, w)
    return (y, *pull(ct))

  @jax.jit
  def xla(x, w, ct):
    y, pull = jax.vjp(lambda x, w: _ref(x, w, strides, pads), x, w)
    return (y, *pull(ct))

  for got, want, name in zip(ours(x, w, ct), xla(x, w, ct), ("y", "dx", "dw")):
    assert got.shape == want.shape, name
    _close(got, want, name)
  hlo = ours.lower(x, w, ct).compile().as_text()
  assert "GenJaxOnednnConvWeights" in hlo and " convolution(" not in hlo


@needs_onednn
def test_derivatives_of_every_order_and_vmap_match_xla():
  """Reverse mode (first and second order), forward mode and vmap, on a strided conv."""
  rng = np.random.default_rng(0)
  strides, pads = (2, 1), ((1, 1), (0, 2))
  x = jnp.asarray(rng.normal(size=(3, 8, 7, 3)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(3, 3, 3, 4)), jnp.float32)

  def loss(conv):
    return lambda x, w: jnp.sum(jnp.sin(conv(x, w, strides, pads)))

  ours, xla = loss(onednn.conv2d), loss(_ref)
  for g_ours, g_xla in zip(jax.jit(jax.grad(ours, (0, 1)))(x, w), jax.grad(xla, (0, 1))(x, w)):
    _close(g_ours, g_xla)
  second = lambda f: jax.grad(lambda x, w: jnp.sum(jax.grad(f, 1)(x, w) ** 2), (0, 1))
  for h_ours, h_xla in zip(jax.jit(second(ours))(x, w), second(xla)(x, w)):
    _close(h_ours, h_xla)
  tangents = (jnp.asarray(rng.normal(size=x.shape), jnp.float32),
              jnp.asarray(rng.normal(size=w.shape), jnp.float32))
  (_, t_ours), (_, t_xla) = (jax.jit(lambda: jax.jvp(ours, (x, w), tangents))(),
                             jax.jvp(xla, (x, w), tangents))
  np.testing.assert_allclose(t_ours, t_xla, rtol=1e-5)
  jac_ours = jax.jit(jax.jacfwd(lambda w: onednn.conv2d(x[:1], w, strides, pads)))(w)
  _close(jac_ours, jax.jacfwd(lambda w: _ref(x[:1], w, strides, pads))(w))
  xs = jnp.stack([x, 2 * x])
  batched = jax.jit(jax.vmap(lambda x: onednn.conv2d(x, w, strides, pads)))(xs)
  _close(batched[1], _ref(2 * x, w, strides, pads))


@needs_onednn
def test_results_are_bitwise_reproducible_and_independent_of_the_thread_count(tmp_path):
  """The batch is split into a fixed number of chunks (convolutions) or per-example items
  (GroupNorm, its scale / bias gradients summed in example order; attention), so one thread
  (a process with XLA's intra-op pool off, pinned to one core) gives the same bits as the
  default pool."""
  script = textwrap.dedent("""
      import os, sys
      if sys.argv[2] == "one":
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
      import jax, jax.numpy as jnp, numpy as np
      from gen_jax.nets import onednn
      rng = np.random.default_rng(7)
      x = jnp.asarray(rng.normal(size=(13, 12, 12, 8)), jnp.float32)
      w = jnp.asarray(rng.normal(size=(3, 3, 8, 16)), jnp.float32)
      f = jax.jit(jax.value_and_grad(
          lambda x, w: jnp.sum(jnp.tanh(onednn.conv2d(x, w, (1, 1), ((1, 1), (1, 1))))),
          (0, 1)))
      value, (dx, dw) = f(x, w)
      again = f(x, w)
      assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(again),
                                                      jax.tree.leaves((value, (dx, dw)))))
      from gen_jax.nets.onednn import group_norm
      s = jnp.asarray(rng.normal(size=8), jnp.float32)
      gn_value, (gn_dx, gn_ds, gn_db) = jax.jit(jax.value_and_grad(
          lambda x, s, b: jnp.sum(jnp.tanh(group_norm.group_norm(
              x, s, b, num_groups=2, activation="swish"))), (0, 1, 2)))(x, s, -s)
      from gen_jax.nets.onednn import attention
      qkv = jnp.asarray(rng.normal(size=(13, 30, 24)), jnp.float32)
      at_value, at_dqkv = jax.jit(jax.value_and_grad(
          lambda q: jnp.sum(jnp.tanh(attention.attention(q)))))(qkv)
      np.savez(sys.argv[1], value=value, dx=dx, dw=dw, gn_value=gn_value, gn_dx=gn_dx,
               gn_ds=gn_ds, gn_db=gn_db, at_value=at_value, at_dqkv=at_dqkv)
  """)
  outputs = []
  for name, flags, cores in (("pool", "", "all"),
                             ("single", "--xla_cpu_multi_thread_eigen=false", "one")):
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    out = str(tmp_path / f"{name}.npz")
    subprocess.run([sys.executable, "-c", script, out, cores], env=env, check=True)
    outputs.append(np.load(out))
  for key in ("value", "dx", "dw", "gn_value", "gn_dx", "gn_ds", "gn_db", "at_value",
              "at_dqkv"):
    np.testing.assert_array_equal(outputs[0][key], outputs[1][key], err_msg=key)


@needs_onednn
def test_the_callers_openmp_thread_count_is_left_alone():
  """The kernels run single-threaded on XLA's pool; a call made from this (Python) thread
  must not leave its OpenMP setting at 1: PyTorch in the same process reads it."""
  import ctypes
  gomp = ctypes.CDLL("libgomp.so.1")  # the runtime libdnnl loaded (one per process)
  gomp.omp_set_num_threads(3)
  x, w = jnp.ones((5, 6, 6, 4)), jnp.ones((3, 3, 4, 2))
  for _ in range(3):  # small programs run on the calling thread
    jax.block_until_ready(jax.jit(jax.grad(
        lambda w: jnp.sum(onednn.conv2d(x, w, (1, 1), ((1, 1), (1, 1))))))(w))
  assert gomp.omp_get_max_threads() == 3


@needs_onednn
def test_a_batch_sharded_jit_gives_the_one_device_result():
  """On a mesh of CPU devices (conftest: 4) XLA gathers the custom calls' operands."""
  devices = jax.devices()
  if len(devices) < 2:
    pytest.skip("needs several (emulated) CPU devices")
  mesh = jax.sharding.Mesh(np.array(devices), ("data",))
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.normal(size=(4 * len(devices), 8, 8, 4)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(3, 3, 4, 8)), jnp.float32)
  grad = jax.jit(jax.grad(
      lambda w, x: jnp.sum(onednn.conv2d(x, w, (1, 1), ((1, 1), (1, 1))) ** 2)))
  sharded = jax.device_put(x, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(
      "data")))
  np.testing.assert_array_equal(grad(w, sharded), grad(w, x))


def _compare_modules(ref_module, our_module, x_shape, seed):
  """nets.Conv / ConvTranspose on the oneDNN backend vs flax.linen: outputs and gradients."""
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.normal(size=x_shape), jnp.float32)
  variables = jax.tree.map(lambda v: v + 0.1, ref_module.init(jax.random.key(seed), x))

  def run(module):
    @jax.jit
    def f(variables, x, ct):
      y, pull = jax.vjp(lambda v, inp: module.apply(v, inp), variables, x)
      return y, pull(ct)
    return f

  y_shape = jax.eval_shape(ref_module.apply, variables, x).shape
  ct = jnp.asarray(rng.normal(size=y_shape), jnp.float32)
  want = run(ref_module)(variables, x, ct)
  with nets.using_cpu_convolutions("onednn"):
    ours = run(our_module)
    got = ours(variables, x, ct)
    hlo = ours.lower(variables, x, ct).compile().as_text()
  assert "GenJaxOnednn" in hlo
  for g, w_ in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    assert g.shape == w_.shape
    _close(g, w_)


def _causal(kh, kw, cin, cout, kind):
  return jnp.asarray(pixelcnn.causal_mask((kh, kw), cin, cout, mask_type=kind))


@needs_onednn
@pytest.mark.parametrize("kwargs,x_shape", [
    (dict(features=8, kernel_size=(3, 3)), (3, 9, 8, 4)),
    (dict(features=6, kernel_size=(4, 4), strides=(2, 2)), (2, 11, 10, 3)),
    (dict(features=16, kernel_size=(7, 7), mask=_causal(7, 7, 1, 16, "A")), (2, 9, 8, 1)),
    (dict(features=8, kernel_size=(3, 3), mask=_causal(3, 3, 8, 8, "B")), (5, 6, 7, 8)),
    (dict(features=4, kernel_size=(3, 3), padding="VALID", use_bias=False), (2, 7, 7, 5)),
])
def test_conv_on_onednn_matches_flax(kwargs, x_shape):
  _compare_modules(nn.Conv(**kwargs), nets.Conv(**kwargs), x_shape, seed=len(x_shape) +
                   x_shape[-1])


@needs_onednn
@pytest.mark.parametrize("kernel,stride,features", [(4, 2, 16), (3, 2, 5), (4, 2, 1),
                                                    (3, 1, 8)])
def test_conv_transpose_on_onednn_matches_flax(kernel, stride, features):
  kwargs = dict(features=features, kernel_size=(kernel, kernel), strides=(stride, stride))
  _compare_modules(nn.ConvTranspose(**kwargs), nets.ConvTranspose(**kwargs), (2, 5, 6, 7),
                   seed=kernel + stride)


def test_the_default_backend_is_xla_and_selection_is_scoped():
  assert nets.cpu_convolutions() == "xla"
  module = nets.Conv(4, (3, 3))
  x = jnp.ones((2, 6, 6, 3))
  params = module.init(jax.random.key(0), x)
  hlo = jax.jit(module.apply).lower(params, x).compile().as_text()
  assert "GenJaxOnednn" not in hlo
  if onednn.available():
    with nets.using_cpu_convolutions("onednn"):
      assert nets.cpu_convolutions() == "onednn"
    assert nets.cpu_convolutions() == "xla"


def test_runs_record_the_backend_in_their_results():
  from gen_jax.training import loop
  assert loop._cpu_convolutions() == "xla"  # pylint: disable=protected-access
  if onednn.available():
    with nets.using_cpu_convolutions("onednn"):
      assert loop._cpu_convolutions() == "onednn"  # pylint: disable=protected-access


def test_bad_input_is_named():
  with pytest.raises(ValueError, match="backend must be one of"):
    nets.set_cpu_convolutions("mkl")
  if not onednn.available():
    with pytest.raises(RuntimeError, match="unavailable"):
      nets.set_cpu_convolutions("onednn")
    return
  x = jnp.ones((2, 6, 6, 3))
  with pytest.raises(ValueError, match=r"float32 x \[N, H, W, C\].*float16"):
    onednn.conv2d(x.astype(jnp.float16), jnp.ones((3, 3, 3, 4)), (1, 1), ((1, 1), (1, 1)))
  with pytest.raises(ValueError, match="non-negative padding"):
    onednn.conv2d(x, jnp.ones((3, 3, 3, 4)), (1, 1), ((-1, 1), (1, 1)))
  with pytest.raises(ValueError, match="in-channels 2 != x channels 3"):
    onednn.conv2d(x, jnp.ones((3, 3, 2, 4)), (1, 1), ((1, 1), (1, 1)))
  with pytest.raises(ValueError, match="out_hw"):
    onednn.conv_transpose2d(x, jnp.ones((3, 3, 4, 3)), (2, 2), ((1, 1), (1, 1)), (9, 9))


@pytest.mark.parametrize("x_shape", [(3, 5, 6, 12), (4, 10, 12), (2, 7)])
def test_dense_is_flax_by_default_and_a_1x1_conv_on_onednn(x_shape):
  """nets.Dense: flax.linen.Dense bit for bit by default; on the backend a [B, H, W, C] or
  [B, N, C] input runs as oneDNN's 1×1 conv (value and gradients close to Flax's), other
  ranks stay Flax's dot."""
  x = jnp.asarray(np.random.default_rng(11).normal(size=x_shape), jnp.float32)
  layer, flax_layer = nets.Dense(9), nn.Dense(9)
  variables = layer.init(jax.random.key(0), x)
  assert jax.tree.structure(variables) == jax.tree.structure(
      flax_layer.init(jax.random.key(0), x))
  variables = jax.tree.map(lambda v: v + 0.1, variables)
  np.testing.assert_array_equal(jax.jit(layer.apply)(variables, x),
                                jax.jit(flax_layer.apply)(variables, x))
  if not onednn.available():
    pytest.skip(f"oneDNN extension: {onednn.unavailable_reason()}")
  loss = lambda fn: jax.jit(jax.value_and_grad(lambda v, x: jnp.sum(jnp.sin(fn(v, x))),
                                               (0, 1)))
  with nets.using_cpu_convolutions("onednn"):
    lowered = jax.jit(layer.apply).lower(variables, x).as_text()
    got = loss(layer.apply)(variables, x)
  assert ("GenJaxOnednnConv" in lowered) == (len(x_shape) >= 3)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(loss(flax_layer.apply)(variables, x))):
    _close(g, w)
