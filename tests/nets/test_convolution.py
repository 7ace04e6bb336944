"""Tests for gen_jax/nets/convolution.py: `nets.Conv` / `nets.ConvTranspose` equal
flax.linen's layers (parameters, outputs, first- and second-order gradients, forward mode)
on the fast path and on each fallback, and pick the path they should."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import nets
from gen_jax.nets import convolution
from gen_jax.nets import fast_conv
from gen_jax.nets import pixelcnn


def _close(got, want, rtol, name):
  want = np.asarray(want, np.float32)
  np.testing.assert_allclose(np.asarray(got, np.float32), want, rtol=0,
                             atol=rtol * float(np.max(np.abs(want))) + 1e-7, err_msg=name)


def _fast(module, variables, x) -> bool:
  """Whether the layer took the fast path (its platform choice is in the jaxpr)."""
  return "platform_index" in str(jax.make_jaxpr(module.apply)(variables, x))


def _compare(kind, kwargs, x_shape, *, fast, seed=0, rtol=1e-5, dtype=jnp.float32):
  ref_cls, cls = (nn.Conv, nets.Conv) if kind == "conv" else (nn.ConvTranspose,
                                                             nets.ConvTranspose)
  ref, module = ref_cls(**kwargs), cls(**kwargs)
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.normal(size=x_shape), dtype)
  variables = ref.init(jax.random.key(seed), x)
  variables = jax.tree.map(lambda v: v + jnp.asarray(0.1, v.dtype), variables)
  ours = module.init(jax.random.key(seed), x)
  # Same tree, shapes, dtypes and initial values as flax.linen's.
  assert jax.tree.structure(ours) == jax.tree.structure(variables)
  for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref.init(jax.random.key(seed), x))):
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)
  assert _fast(module, variables, x) == fast

  @jax.jit
  def both(variables, x, ct, tangent_x):
    out = []
    for m in (module, ref):
      f = lambda v, inp, m=m: m.apply(v, inp)
      y, vjp = jax.vjp(f, variables, x)
      _, jvp = jax.jvp(lambda inp: f(variables, inp), (x,), (tangent_x,))
      out.append((y, vjp(ct), jvp))
    return out

  y_shape = jax.eval_shape(ref.apply, variables, x)
  ct = jnp.asarray(rng.normal(size=y_shape.shape), y_shape.dtype)
  tangent_x = jnp.asarray(rng.normal(size=x_shape), dtype)
  got, want = both(variables, x, ct, tangent_x)
  assert jax.tree.structure(got) == jax.tree.structure(want)
  for g, w, name in zip(jax.tree.leaves(got), jax.tree.leaves(want),
                        ("y", "bias grad", "kernel grad", "x grad", "jvp")):
    assert g.shape == w.shape and g.dtype == w.dtype, name
    _close(g, w, rtol, name)


FAST_CASES = [
    ("conv", dict(features=16, kernel_size=(3, 3), strides=2, padding="VALID"), (2, 11, 10, 16)),
    ("conv", dict(features=16, kernel_size=(4, 3), strides=(2, 3),
                  padding=((2, 0), (1, 3))), (2, 9, 11, 8)),
    ("conv", dict(features=8, kernel_size=(3, 3), padding=1), (2, 7, 7, 16)),
    ("conv", dict(features=8, kernel_size=(3, 3), strides=2, padding=((0, 3), (-1, 1))),
     (2, 9, 8, 4)),                                           # small patches: im2col
    ("transpose", dict(features=16, kernel_size=(4, 4), strides=2, padding="VALID"),
     (2, 5, 6, 8)),
    ("transpose", dict(features=16, kernel_size=(3, 4), strides=(2, 3),
                       padding=((1, 2), (3, 0))), (2, 5, 4, 8)),
    ("transpose", dict(features=2, kernel_size=(4, 4), strides=2, padding="VALID"),
     (2, 5, 6, 8)),                                           # im2col of the adjoint
    ("transpose", dict(features=16, kernel_size=(4, 4), strides=2, transpose_kernel=True),
     (2, 5, 6, 8)),
]


@pytest.mark.parametrize("kind,kwargs,x_shape", FAST_CASES)
def test_fast_path_matches_flax(kind, kwargs, x_shape):
  _compare(kind, kwargs, x_shape, fast=True)


def _mask(shape, seed=1):
  return jnp.asarray(np.random.default_rng(seed).integers(0, 2, size=shape), jnp.float32)


@pytest.mark.parametrize("kind,kwargs,x_shape", [
    ("conv", dict(features=16, kernel_size=(3, 3), strides=2,
                  mask=_mask((3, 3, 16, 16))), (2, 9, 9, 16)),
    ("transpose", dict(features=16, kernel_size=(4, 4), strides=2,
                       mask=_mask((4, 4, 8, 16))), (2, 5, 5, 8)),
])
def test_masked_kernels_take_the_fast_path(kind, kwargs, x_shape):
  _compare(kind, kwargs, x_shape, fast=True)


def _causal(kh, kw, cin, cout, kind):
  return jnp.asarray(pixelcnn.causal_mask((kh, kw), cin, cout, mask_type=kind))


def _edge_zero_mask(shape):
  """A random 0/1 mask with its first column and last two rows zero."""
  mask = np.array(_mask(shape, seed=3))
  mask[:, 0] = 0.0
  mask[-2:] = 0.0
  return jnp.asarray(mask)


CROPPED_CASES = [  # (kwargs, x_shape, cropped kernel [kh, kw])
    (dict(features=16, kernel_size=(7, 7), mask=_causal(7, 7, 8, 16, "A")), (2, 9, 8, 8),
     (4, 7)),
    (dict(features=16, kernel_size=(7, 7), mask=_causal(7, 7, 1, 16, "A")), (2, 9, 8, 1),
     (4, 7)),                                                 # small patches: im2col
    (dict(features=8, kernel_size=(3, 3), mask=_causal(3, 3, 8, 8, "B")), (2, 6, 7, 8),
     (2, 3)),
    (dict(features=8, kernel_size=(1, 5), mask=_causal(1, 5, 8, 8, "A")), (2, 5, 6, 8),
     (1, 2)),
    (dict(features=8, kernel_size=(5, 4), strides=(2, 3), padding=((2, 1), (0, 2)),
          mask=_edge_zero_mask((5, 4, 8, 8))), (2, 11, 10, 8), (3, 3)),
    (dict(features=8, kernel_size=(5, 4), padding="VALID",
          mask=_edge_zero_mask((5, 4, 8, 8))), (2, 9, 8, 8), (3, 3)),
]


@pytest.mark.parametrize("kwargs,x_shape,cropped", CROPPED_CASES)
def test_masks_with_zero_edges_crop_the_kernel_exactly(kwargs, x_shape, cropped):
  """A concrete mask whose outer rows / columns are zero is applied as the conv with the
  kernel cropped to its support: flax's full masked conv in value and every derivative."""
  _compare("conv", kwargs, x_shape, fast=True)
  module = nets.Conv(**kwargs)
  x = jnp.zeros(x_shape)
  jaxpr = str(jax.make_jaxpr(module.apply)(module.init(jax.random.key(0), x), x))
  c_in, c_out = x_shape[-1], kwargs["features"]
  assert f"f32[{cropped[0]},{cropped[1]},{c_in},{c_out}]" in jaxpr, jaxpr
  with fast_conv._forced_form("xla"):  # pylint: disable=protected-access
    # The accelerators' form (XLA's own conv of the cropped kernel; no platform choice).
    _compare("conv", kwargs, x_shape, fast=False)


FALLBACK_CASES = [
    ("conv", dict(features=8, kernel_size=(3, 3), kernel_dilation=2), (2, 9, 9, 4)),
    ("conv", dict(features=8, kernel_size=(3, 3), input_dilation=2, padding=1),
     (2, 5, 5, 4)),
    ("conv", dict(features=8, kernel_size=(3, 3), feature_group_count=2), (2, 7, 7, 4)),
    ("conv", dict(features=8, kernel_size=(3, 3), padding="CIRCULAR"), (2, 7, 7, 4)),
    ("conv", dict(features=8, kernel_size=(3,), padding="CAUSAL"), (2, 7, 4)),
    ("conv", dict(features=8, kernel_size=(3, 3)), (7, 7, 4)),           # no batch axis
    ("conv", dict(features=8, kernel_size=(3, 3)), (2, 3, 7, 7, 4)),     # two batch axes
    ("transpose", dict(features=8, kernel_size=(3, 3), strides=2, kernel_dilation=2),
     (2, 5, 5, 4)),
    ("transpose", dict(features=8, kernel_size=(3, 3), strides=2, padding="CIRCULAR"),
     (2, 5, 5, 4)),
]


@pytest.mark.parametrize("kind,kwargs,x_shape", FALLBACK_CASES)
def test_fallbacks_are_flax(kind, kwargs, x_shape):
  _compare(kind, kwargs, x_shape, fast=False)


@pytest.mark.parametrize("kind", ["conv", "transpose"])
@pytest.mark.parametrize("dtype,param_dtype", [(jnp.bfloat16, jnp.float32),
                                               (None, jnp.bfloat16),
                                               (jnp.float32, jnp.bfloat16)])
def test_dtype_policy_follows_flax(kind, dtype, param_dtype):
  """dtype = compute, param_dtype = storage, Flax's promotion (float32 x and bfloat16
  params compute in float32); bfloat16 compute falls back to Flax (the fast path is
  measured for float32 only); float32 compute stays fast."""
  kwargs = dict(features=16, kernel_size=(4, 4), strides=2, dtype=dtype,
                param_dtype=param_dtype)
  # bfloat16 values or gradients: a bfloat16 ulp (2^-8) of the largest.
  exact = dtype != jnp.bfloat16 and param_dtype != jnp.bfloat16
  _compare(kind, kwargs, (2, 6, 6, 16), fast=dtype != jnp.bfloat16,
           rtol=1e-5 if exact else 1e-2)


def test_bfloat16_inputs_promote_with_float32_params():
  _compare("conv", dict(features=16, kernel_size=(4, 4), strides=2), (2, 6, 6, 16),
           fast=True, dtype=jnp.bfloat16)


@pytest.mark.parametrize("cls", [nets.Conv, nets.ConvTranspose])
def test_jacfwd_and_second_order_match_flax(cls):
  ref_cls = nn.Conv if cls is nets.Conv else nn.ConvTranspose
  kwargs = dict(features=16, kernel_size=(4, 4), strides=2)
  x = jax.random.normal(jax.random.key(0), (1, 4, 4, 16))
  variables = ref_cls(**kwargs).init(jax.random.key(1), x)
  jac = [jax.jit(jax.jacfwd(lambda v, m=m: jnp.tanh(m.apply(v, x))))(variables)
         for m in (cls(**kwargs), ref_cls(**kwargs))]
  for g, w in zip(jax.tree.leaves(jac[0]), jax.tree.leaves(jac[1])):
    _close(g, w, 1e-5, "jacfwd")
  # Hessian-vector product: forward over reverse.
  loss = lambda m: lambda inp: jnp.sum(jnp.tanh(m.apply(variables, inp))**2)
  hvp = [jax.jit(lambda t, m=m: jax.jvp(jax.grad(loss(m)), (x,), (t,))[1])(jnp.cos(x))
         for m in (cls(**kwargs), ref_cls(**kwargs))]
  _close(hvp[0], hvp[1], 1e-5, "hvp")


def test_vmap_through_the_fast_path():
  module = nets.ConvTranspose(16, (4, 4), strides=2)
  x = jax.random.normal(jax.random.key(0), (3, 2, 4, 4, 16))
  variables = module.init(jax.random.key(1), x[0])
  per_example = jax.vmap(jax.grad(lambda inp: jnp.sum(module.apply(variables, inp)**2)))
  want = jax.vmap(jax.grad(lambda inp: jnp.sum(
      nn.ConvTranspose(16, (4, 4), strides=2).apply(variables, inp)**2)))(x)
  _close(jax.jit(per_example)(x), want, 1e-5, "vmap of grad")


def test_stored_weights_load():
  """The MNIST classifier's stored weights (saved from flax.linen.Conv layers) load and
  give the same features through nets.Conv as through flax.linen's layers."""
  from gen_jax.metrics import _features  # pylint: disable=import-outside-toplevel
  from gen_jax.nets.mnist_classifier import MNISTClassifier  # pylint: disable=import-outside-toplevel
  params = _features.load_mnist_classifier_params()
  images = jax.random.uniform(jax.random.key(0), (4, 28, 28, 1))
  apply = lambda p, x: MNISTClassifier().apply({"params": p}, x)
  got = jax.jit(apply)(params, images)
  with convolution._xla_convolutions():
    want = jax.jit(lambda p, x: apply(p, x))(params, images)
  for g, w in zip(got, want):
    _close(g, w, 1e-5, "classifier outputs")


@pytest.mark.parametrize("cls,bad", [(nets.Conv, (3, 3, 4, 1)),
                                     (nets.ConvTranspose, (3, 3, 8, 4))])
def test_bad_mask_shape_is_a_clear_error(cls, bad):
  module = cls(8, (3, 3), mask=jnp.ones(bad))
  with pytest.raises(ValueError, match=r"mask must have the kernel's shape \(3, 3, 4, 8\)"):
    module.init(jax.random.key(0), jnp.zeros((1, 5, 5, 4)))


@pytest.mark.parametrize("cls", [nets.Conv, nets.ConvTranspose])
def test_bad_input_rank_is_a_clear_error(cls):
  with pytest.raises(ValueError, match=r"expects x \[batch\.\.\., 2 spatial axes, C\]"):
    cls(8, (3, 3)).init(jax.random.key(0), jnp.zeros((5, 4)))
  with pytest.raises(ValueError, match="strides must be an int or 2 ints"):
    cls(8, (3, 3), strides=(1, 2, 3)).init(jax.random.key(0), jnp.zeros((1, 5, 5, 4)))


def test_groups_must_divide_channels():
  with pytest.raises(ValueError, match="feature_group_count=3"):
    nets.Conv(6, (3, 3), feature_group_count=3).init(jax.random.key(0),
                                                      jnp.zeros((1, 5, 5, 4)))


def test_xla_hook_forces_flax_s_layers():
  module = nets.Conv(16, (3, 3), strides=2)
  x = jnp.zeros((2, 8, 8, 16))
  variables = module.init(jax.random.key(0), x)
  assert _fast(module, variables, x)
  with convolution._xla_convolutions():
    assert not _fast(module, variables, x)
  assert _fast(module, variables, x)


def test_pixelcnn_models_crop_their_masked_kernels_under_jit():
  """The models pass their causal masks as NumPy arrays, so the crop still applies when the
  model is traced inside jit (a mask made by jnp.asarray there would be a tracer)."""
  import re  # pylint: disable=g-import-not-at-top
  for model, expected in ((pixelcnn.PixelCNN(features=8, num_layers=1),
                           {"f32[4,7,1,8]", "f32[2,3,8,8]"}),        # 7x7 A, 3x3 B
                          (pixelcnn.GatedPixelCNN(features=8, num_layers=2),
                           {"f32[1,3,1,16]", "f32[1,2,8,16]"})):     # 1x7 A, 1x3 B rows
    x = jnp.zeros((2, 8, 8, 1))
    variables = model.init(jax.random.key(0), x)
    jaxpr = str(jax.make_jaxpr(jax.jit(model.apply))(variables, x))
    kernels = set(re.findall(r"(f32\[\d+,\d+,\d+,\d+\]) = slice", jaxpr))
    assert expected <= kernels, (type(model).__name__, kernels)
