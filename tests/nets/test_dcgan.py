"""Tests for gen_jax/nets/dcgan.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nets import convolution
from gen_jax.nets import dcgan

B, LATENT, BASE = 4, 8, 8


@pytest.mark.parametrize("side,plan", [(28, (7, 2)), (32, (4, 3)), (64, (4, 4))])
def test_spatial_plan(side, plan):
  assert dcgan.spatial_plan(side) == plan


def test_spatial_plan_rejects_odd_sides():
  with pytest.raises(ValueError, match="halved"):
    dcgan.spatial_plan(7)


@pytest.mark.parametrize("side,channels,base", [(28, 1, BASE), (32, 3, 16)])
def test_fast_and_flax_paths_are_the_same_function(side, channels, base):
  # base 16: the hidden layers take fast_conv's phase path (≥ 16 output channels).
  z = jax.random.normal(jax.random.key(0), (B, LATENT))
  gen = dcgan.DCGANGenerator(image_shape=(side, side, channels), base_features=base)
  disc = dcgan.DCGANDiscriminator(base_features=base)
  g_vars = gen.init(jax.random.key(1), z, train=False)
  x = jax.random.uniform(jax.random.key(2), (B, side, side, channels)) * 2 - 1
  d_vars = disc.init(jax.random.key(3), x, train=False)

  def loss(g_params, d_params):
    images, g_upd = gen.apply({**g_vars, "params": g_params}, z, train=True,
                              mutable=["batch_stats"])
    logits, d_upd = disc.apply({**d_vars, "params": d_params}, images, train=True,
                               mutable=["batch_stats"])
    return jnp.mean(logits), (images, logits, g_upd, d_upd)

  @jax.jit
  def run(g_vars, d_vars):
    outs = [jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
        g_vars["params"], d_vars["params"])]
    with convolution._xla_convolutions():  # flax.linen's convolutions
      outs.append(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
          g_vars["params"], d_vars["params"]))
    return outs

  (fast_out, fast_grads), (flax_out, flax_grads) = run(g_vars, d_vars)
  images, logits = fast_out[1][0], fast_out[1][1]
  assert images.shape == (B, side, side, channels)
  assert logits.shape == (B,)
  assert float(jnp.max(jnp.abs(images))) <= 1.0  # tanh output
  for got, want in zip(jax.tree.leaves((fast_out, fast_grads)),
                       jax.tree.leaves((flax_out, flax_grads))):
    np.testing.assert_allclose(got, want, rtol=1e-4,
                               atol=1e-4 * float(jnp.max(jnp.abs(want))) + 1e-7)


def test_dcgan_layers_take_the_cpu_rewrites():
  """G's hidden transposed conv by phases (no input-dilated convolution anywhere in the
  training gradient), D's image layer by im2col; XLA's own forms under the hook."""
  gen = dcgan.DCGANGenerator(base_features=16)
  disc = dcgan.DCGANDiscriminator(base_features=16)
  z = jnp.zeros((B, LATENT))
  g_vars = gen.init(jax.random.key(0), z, train=False)
  d_vars = disc.init(jax.random.key(1), jnp.zeros((B, 28, 28, 1)), train=False)

  def loss(g_params, d_params):
    images, _ = gen.apply({**g_vars, "params": g_params}, z, train=True,
                          mutable=["batch_stats"])
    logits, _ = disc.apply({**d_vars, "params": d_params}, images, train=True,
                           mutable=["batch_stats"])
    return jnp.mean(logits)

  def convolutions():
    step = jax.jit(jax.grad(loss, argnums=(0, 1)))
    text = step.lower(g_vars["params"], d_vars["params"]).as_text()
    return [l for l in text.splitlines() if "stablehlo.convolution" in l]

  fast = convolutions()
  assert not any("lhs_dilate = [2, 2]" in op for op in fast), fast
  # deconv0 (7×7×32 → 14×14×16): 4 phases forward, a strided conv (dx) and the adjoint's
  # kernel gradient; deconv1 (→ 28×28×1) and conv0 (28×28×1 →) by im2col (dots);
  # conv1 (14×14×16 → 7×7×32): forward, 4 phases for dx, kernel gradient.
  assert len(fast) == 6 + 6
  with convolution._xla_convolutions():
    plain = convolutions()
  assert sum("lhs_dilate = [2, 2]" in op for op in plain) >= 3
def test_architecture_follows_the_dcgan_guidelines():
  gen = dcgan.DCGANGenerator(image_shape=(32, 32, 3), base_features=BASE)
  disc = dcgan.DCGANDiscriminator(base_features=BASE)
  g_vars = jax.eval_shape(lambda: gen.init(jax.random.key(0), jnp.zeros((B, LATENT)),
                                           train=False))
  d_vars = jax.eval_shape(lambda: disc.init(jax.random.key(0),
                                            jnp.zeros((B, 32, 32, 3)), train=False))
  g_params, d_params = g_vars["params"], d_vars["params"]
  # G: projection to 4×4×(4·base), three stride-2 transposed convs; no BN at the output.
  assert g_params["project"]["kernel"].shape == (LATENT, 4 * 4 * 4 * BASE)
  assert [g_params[f"deconv{i}"]["kernel"].shape for i in range(3)] == [
      (4, 4, 4 * BASE, 2 * BASE), (4, 4, 2 * BASE, BASE), (4, 4, BASE, 3)]
  assert set(g_vars["batch_stats"]) == {"project_bn", "deconv0_bn", "deconv1_bn"}
  # D: three stride-2 convs, no BN on the input layer, one logit.
  assert [d_params[f"conv{i}"]["kernel"].shape for i in range(3)] == [
      (4, 4, 3, BASE), (4, 4, BASE, 2 * BASE), (4, 4, 2 * BASE, 4 * BASE)]
  assert set(d_vars["batch_stats"]) == {"conv1_bn", "conv2_bn"}
  assert d_params["logit"]["kernel"].shape == (4 * 4 * 4 * BASE, 1)


def _example_zero_logit(disc, variables, x, train):
  kwargs = {"mutable": ["batch_stats"]} if train and "batch_stats" in variables else {}
  out = disc.apply(variables, x, train=train, **kwargs)
  return (out[0] if kwargs else out)[0]


def test_discriminator_without_batch_norm_treats_examples_independently():
  x = jax.random.normal(jax.random.key(0), (B, 28, 28, 1))
  x_other = x.at[1:].set(-x[1:] * 3)
  for batch_norm, independent in ((False, True), (True, False)):
    disc = dcgan.DCGANDiscriminator(base_features=BASE, batch_norm=batch_norm)
    variables = disc.init(jax.random.key(1), x, train=False)
    assert ("batch_stats" in variables) == batch_norm
    first = jax.jit(lambda v, x: _example_zero_logit(disc, v, x, True))
    same = np.isclose(first(variables, x), first(variables, x_other), rtol=1e-5)
    assert same == independent, batch_norm


@pytest.mark.parametrize("option", ["minibatch_stddev", "minibatch_discrimination"])
def test_minibatch_features_look_across_the_batch(option):
  disc = dcgan.DCGANDiscriminator(base_features=BASE, batch_norm=False, mbd_kernels=6,
                                  **{option: True})
  x = jax.random.normal(jax.random.key(0), (B, 28, 28, 1))
  variables = disc.init(jax.random.key(1), x, train=False)
  assert option in variables["params"] or option == "minibatch_stddev"
  first = jax.jit(lambda v, x: disc.apply(v, x, train=False)[0])
  assert not np.isclose(first(variables, x), first(variables, x.at[1:].multiply(-3.0)),
                        rtol=1e-5)
  extra = 6 if option == "minibatch_discrimination" else 7 * 7
  assert variables["params"]["logit"]["kernel"].shape[0] == 7 * 7 * 2 * BASE + extra


def test_conditional_players_use_labels():
  gen = dcgan.DCGANGenerator(base_features=BASE, num_classes=10)
  disc = dcgan.DCGANDiscriminator(base_features=BASE, num_classes=10)
  z = jax.random.normal(jax.random.key(0), (B, LATENT))
  labels = jnp.asarray([0, 1, 2, 3])
  g_vars = gen.init(jax.random.key(1), z, labels, train=False)
  images = gen.apply(g_vars, z, labels, train=False)
  other = gen.apply(g_vars, z, (labels + 5) % 10, train=False)
  assert not np.allclose(images, other)
  d_vars = disc.init(jax.random.key(2), images, labels, train=False)
  d_vars = jax.tree.map(lambda p: p * 10, d_vars)  # make the projection term visible
  logits = disc.apply(d_vars, images, labels, train=False)
  assert logits.shape == (B,)
  assert not np.allclose(logits, disc.apply(d_vars, images, (labels + 5) % 10,
                                            train=False))
  with pytest.raises(ValueError, match="needs labels"):
    gen.apply(g_vars, z, train=False)
  with pytest.raises(ValueError, match="num_classes is None"):
    dcgan.DCGANDiscriminator(base_features=BASE).init(jax.random.key(0), images, labels,
                                                      train=False)


def test_train_flag_updates_batch_stats_and_eval_uses_them():
  gen = dcgan.DCGANGenerator(base_features=BASE)
  z = jax.random.normal(jax.random.key(0), (B, LATENT))
  variables = gen.init(jax.random.key(1), z, train=False)
  _, updates = gen.apply(variables, z, train=True, mutable=["batch_stats"])
  before = variables["batch_stats"]["project_bn"]["mean"]
  after = updates["batch_stats"]["project_bn"]["mean"]
  assert not np.allclose(before, after)
  # Eval mode: example 0's output does not depend on the rest of the batch.
  a = gen.apply(variables, z, train=False)[0]
  b = gen.apply(variables, z.at[1:].set(0.0), train=False)[0]
  np.testing.assert_allclose(a, b, rtol=1e-6)
