"""gen_jax.nets.UNet: shapes, the timestep embedding and attention against NumPy, conditioning,
dropout, and the DDPM paper's parameter count."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import nets
from gen_jax.nets import unet as unet_lib

TINY = dict(base_channels=8, channel_mults=(1, 2), num_res_blocks=1,
            attention_resolutions=(4,), dropout=0.0, num_groups=4)


def _randomize(params, seed=0):
  """Non-zero weights everywhere (the DDPM init zeroes the last convs: output 0 at init)."""
  leaves, tree = jax.tree_util.tree_flatten(params)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  return jax.tree_util.tree_unflatten(
      tree, [0.2 * jax.random.normal(k, p.shape, p.dtype) for k, p in zip(keys, leaves)])


def _init(model, x, t, labels=None):
  return model.init(jax.random.key(0), x, t, labels)["params"]


def test_timestep_embedding_matches_numpy():
  t = np.array([0, 1, 7, 999], np.int32)
  dim = 10
  got = jax.jit(unet_lib.ddpm_timestep_embedding, static_argnums=1)(jnp.asarray(t), dim)
  half = dim // 2
  freqs = np.exp(-np.log(10000.0) * np.arange(half, dtype=np.float64) / (half - 1))
  args = t[:, None].astype(np.float64) * freqs[None]
  want = np.concatenate([np.sin(args), np.cos(args)], axis=1)
  np.testing.assert_allclose(np.asarray(got), want, atol=2e-4)
  odd = unet_lib.ddpm_timestep_embedding(jnp.asarray(t), 7)
  assert odd.shape == (4, 7) and np.all(np.asarray(odd[:, 6]) == 0)


@pytest.mark.parametrize("out_channels,num_classes", [(None, None), (2, 3)])
def test_output_shape(out_channels, num_classes):
  model = nets.UNet(**TINY, out_channels=out_channels, num_classes=num_classes)
  x = jnp.ones((2, 8, 8, 1))
  t = jnp.array([0, 5])
  labels = None if num_classes is None else jnp.array([0, 3])
  params = _init(model, x, t, labels)
  out = jax.jit(lambda p: model.apply({"params": p}, x, t, labels))(params)
  assert out.shape == (2, 8, 8, out_channels or 1)
  # DDPM's zero init of the output conv: the untrained model predicts ε = 0.
  np.testing.assert_array_equal(np.asarray(out), 0.0)


def test_depends_on_t_and_labels_and_is_per_example():
  model = nets.UNet(**TINY, num_classes=3)
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 1))
  x = jnp.concatenate([x[:1], x[:1]])  # the same image twice
  params = _randomize(_init(model, x, jnp.zeros(2, jnp.int32), jnp.zeros(2, jnp.int32)))
  f = jax.jit(lambda t, y: model.apply({"params": params}, x, t, y))
  same = f(jnp.array([3, 3]), jnp.array([1, 1]))
  np.testing.assert_allclose(np.asarray(same[0]), np.asarray(same[1]), atol=1e-5)
  by_t = f(jnp.array([3, 50]), jnp.array([1, 1]))
  by_label = f(jnp.array([3, 3]), jnp.array([1, 3]))
  for out in (by_t, by_label):
    np.testing.assert_allclose(np.asarray(out[0]), np.asarray(same[0]), atol=1e-5)
    assert float(jnp.max(jnp.abs(out[1] - out[0]))) > 1e-3
  # labels=None is the null class num_classes.
  null = model.apply({"params": params}, x, jnp.array([3, 3]))
  explicit = f(jnp.array([3, 3]), jnp.array([3, 3]))
  np.testing.assert_allclose(np.asarray(null), np.asarray(explicit), atol=1e-6)


def test_dropout_only_in_training():
  model = nets.UNet(**{**TINY, "dropout": 0.5})
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 1))
  t = jnp.array([1, 2])
  params = _randomize(_init(model, x, t))
  apply = jax.jit(lambda p, key, train: model.apply(
      {"params": p}, x, t, train=train, rngs={"dropout": key}), static_argnums=2)
  e1 = apply(params, jax.random.key(1), False)
  e2 = apply(params, jax.random.key(2), False)
  np.testing.assert_array_equal(np.asarray(e1), np.asarray(e2))
  t1 = apply(params, jax.random.key(1), True)
  t1b = apply(params, jax.random.key(1), True)
  t2 = apply(params, jax.random.key(2), True)
  np.testing.assert_array_equal(np.asarray(t1), np.asarray(t1b))
  assert float(jnp.max(jnp.abs(t1 - t2))) > 1e-3
  assert float(jnp.max(jnp.abs(t1 - e1))) > 1e-3


def test_training_with_our_dropout_equals_training_with_flax_dropout(monkeypatch):
  # gen_jax.nets.Dropout draws Flax's masks without JAX's CPU while loop: a UNet trained with
  # either is the same model, bit for bit (outputs and parameter gradients).
  model = nets.UNet(**{**TINY, "dropout": 0.3})
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 1))
  t = jnp.array([1, 2])
  params = _randomize(_init(model, x, t))

  def grads():
    loss = lambda p: jnp.sum(jnp.sin(model.apply({"params": p}, x, t, train=True,
                                                 rngs={"dropout": jax.random.key(5)})))
    return jax.jit(jax.value_and_grad(loss))(params)

  ours = grads()
  monkeypatch.setattr(unet_lib, "Dropout", nn.Dropout)
  flax = grads()
  for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(flax)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_ddpm_cifar10_has_the_papers_parameter_count():
  model = nets.UNet.ddpm_cifar10()
  shapes = jax.eval_shape(lambda: model.init(
      jax.random.key(0), jnp.zeros((1, 32, 32, 3)), jnp.zeros((1,), jnp.int32)))
  # DDPM (Ho et al. 2020), appendix B: 35.7M parameters (35,746,307 in the released code).
  assert unet_lib.count_params(shapes["params"]) == 35_746_307
  # Learned variances double the output channels: 2 · (3·3·128 + 1) · 3 more parameters.
  wide = jax.eval_shape(lambda: nets.UNet.ddpm_cifar10(out_channels=6).init(
      jax.random.key(0), jnp.zeros((1, 32, 32, 3)), jnp.zeros((1,), jnp.int32)))
  assert unet_lib.count_params(wide["params"]) == 35_746_307 + 9 * 128 * 3 + 3


def test_attention_matches_numpy():
  rng = np.random.default_rng(0)
  q, k, v = (rng.normal(size=(2, 5, 4)) for _ in range(3))
  got = jax.jit(unet_lib.attention)(*(jnp.asarray(a, jnp.float32) for a in (q, k, v)))
  w = np.einsum("bqc,bkc->bqk", q, k) / np.sqrt(4)
  w = np.exp(w - w.max(-1, keepdims=True))
  w /= w.sum(-1, keepdims=True)
  np.testing.assert_allclose(np.asarray(got), np.einsum("bqk,bkc->bqc", w, v), atol=1e-5)


def test_attention_block_is_permutation_equivariant():
  block = unet_lib.AttentionBlock(num_groups=2)
  x = jax.random.normal(jax.random.key(3), (2, 4, 4, 6))
  params = _randomize(block.init(jax.random.key(0), x)["params"], seed=1)
  f = jax.jit(lambda x: block.apply({"params": params}, x))
  perm = np.random.default_rng(0).permutation(16)
  xp = x.reshape(2, 16, 6)[:, perm].reshape(2, 4, 4, 6)
  out, out_p = f(x), f(xp)
  np.testing.assert_allclose(np.asarray(out.reshape(2, 16, 6)[:, perm]),
                             np.asarray(out_p.reshape(2, 16, 6)), atol=1e-5)
  assert float(jnp.max(jnp.abs(out - x))) > 1e-3  # the block does something


def test_bad_inputs_raise_clear_errors():
  model = nets.UNet(**TINY)
  x = jnp.ones((2, 8, 8, 1))
  params = _init(model, x, jnp.zeros(2, jnp.int32))
  with pytest.raises(ValueError, match="t must have shape"):
    model.apply({"params": params}, x, jnp.zeros(3, jnp.int32))
  with pytest.raises(ValueError, match="divisible by 2"):
    model.apply({"params": params}, jnp.ones((2, 7, 7, 1)), jnp.zeros(2, jnp.int32))
  with pytest.raises(ValueError, match="num_classes=None"):
    model.apply({"params": params}, x, jnp.zeros(2, jnp.int32), jnp.zeros(2, jnp.int32))


def test_fast_attention_equals_the_plain_form_in_all_derivatives():
  rng = np.random.default_rng(1)
  q, k, v, w = (jnp.asarray(rng.normal(size=(2, 6, 4)), jnp.float32) for _ in range(4))
  fast = lambda q, k, v: jnp.sum(w * unet_lib.attention(q, k, v) ** 2)
  plain = lambda q, k, v: jnp.sum(w * unet_lib.attention_reference(q, k, v) ** 2)
  close = lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-5,
                                                  rtol=2e-5)
  for got, want in zip(jax.jit(jax.grad(fast, argnums=(0, 1, 2)))(q, k, v),
                       jax.grad(plain, argnums=(0, 1, 2))(q, k, v)):
    close(got, want)
  # Forward mode and second order (a Hessian-vector product in all three inputs).
  tangents = tuple(jnp.asarray(rng.normal(size=(2, 6, 4)), jnp.float32) for _ in range(3))
  close(jax.jit(lambda *a: jax.jvp(fast, a, tangents)[1])(q, k, v),
        jax.jvp(plain, (q, k, v), tangents)[1])
  hvp = lambda f: jax.jvp(jax.grad(f, argnums=(0, 1, 2)), (q, k, v), tangents)[1]
  for got, want in zip(jax.jit(lambda: hvp(fast))(), hvp(plain)):
    close(got, want)
