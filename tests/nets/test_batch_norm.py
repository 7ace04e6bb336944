"""Tests for gen_jax/nets/batch_norm.py: the same function, statistics and gradients as
flax.linen.BatchNorm, and the closed-form VJP against finite differences."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nets import batch_norm

KW = dict(momentum=0.9, epsilon=1e-5)


def _modules():
  return nn.BatchNorm(**KW), batch_norm.BatchNorm(**KW)


@pytest.mark.parametrize("shape", [(6, 5), (4, 3, 3, 8)])
def test_matches_flax_in_train_and_eval_mode(shape):
  rng = np.random.default_rng(len(shape))
  x = jnp.asarray(rng.normal(size=shape) * 3 + 1, jnp.float32)
  ref, ours = _modules()
  variables = ref.init(jax.random.key(0), x, use_running_average=False)
  assert jax.tree.map(jnp.shape, ours.init(jax.random.key(0), x, use_running_average=False)
                      ) == jax.tree.map(jnp.shape, variables)
  variables = {"params": {"scale": jnp.asarray(rng.normal(size=shape[-1:]), jnp.float32),
                          "bias": jnp.asarray(rng.normal(size=shape[-1:]), jnp.float32)},
               "batch_stats": variables["batch_stats"]}

  @jax.jit
  def run(variables, x):
    outs = []
    for module in (ref, ours):
      v = variables
      for _ in range(3):  # three train steps advance the running averages
        y_train, upd = module.apply(v, x, use_running_average=False, mutable=["batch_stats"])
        v = {**v, **upd}
      outs.append((y_train, v["batch_stats"], module.apply(v, x, use_running_average=True)))
    return outs

  (y_ref, stats_ref, eval_ref), (y, stats, eval_ours) = run(variables, x)
  np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(eval_ours, eval_ref, rtol=1e-6, atol=1e-6)
  for key in ("mean", "var"):
    np.testing.assert_allclose(stats[key], stats_ref[key], rtol=1e-6, atol=1e-7)
  # Normalized per feature: zero mean, unit variance before the affine map.
  x_hat = (y - variables["params"]["bias"]) / variables["params"]["scale"]
  axes = tuple(range(len(shape) - 1))
  np.testing.assert_allclose(x_hat.mean(axes), 0.0, atol=1e-5)
  np.testing.assert_allclose(x_hat.var(axes), 1.0, rtol=1e-3)


def test_init_does_not_update_running_statistics():
  x = jnp.full((4, 3), 5.0)
  variables = batch_norm.BatchNorm(**KW).init(jax.random.key(0), x, use_running_average=False)
  np.testing.assert_array_equal(variables["batch_stats"]["mean"], 0.0)
  np.testing.assert_array_equal(variables["batch_stats"]["var"], 1.0)


def test_gradients_match_flax_including_the_statistics_cotangents():
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=(5, 2, 2, 6)) * 2 - 1, jnp.float32)
  ct = jnp.asarray(rng.normal(size=x.shape), jnp.float32)
  ref, ours = _modules()
  variables = ref.init(jax.random.key(0), x, use_running_average=False)
  params = {"scale": jnp.linspace(0.5, 2.0, 6), "bias": jnp.linspace(-1.0, 1.0, 6)}

  def loss(module, params, x):
    y, upd = module.apply({"params": params, "batch_stats": variables["batch_stats"]}, x,
                          use_running_average=False, mutable=["batch_stats"])
    # The new running statistics depend on the batch's mean and variance: a loss on
    # them sends cotangents through those outputs too.
    stats = upd["batch_stats"]
    return jnp.sum(jnp.tanh(y) * ct) + jnp.sum(stats["mean"] ** 2) + jnp.sum(stats["var"])

  grads = [jax.jit(jax.grad(lambda p, x, m=m: loss(m, p, x), argnums=(0, 1)))(params, x)
           for m in (ref, ours)]
  for got, want in zip(jax.tree.leaves(grads[1]), jax.tree.leaves(grads[0])):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_vjp_against_finite_differences():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(7, 3)).astype(np.float64)
  scale, bias = np.array([0.5, 1.5, -2.0]), np.array([0.1, 0.0, -0.3])
  ct_y = rng.normal(size=x.shape)
  ct_mean, ct_var = rng.normal(size=3), rng.normal(size=3)

  def objective(x):
    # Reference forward in float64 NumPy (population variance, as in batch norm).
    mean, var = x.mean(0), x.var(0)
    y = (x - mean) / np.sqrt(var + 1e-5) * scale + bias
    return np.sum(y * ct_y) + np.sum(mean * ct_mean) + np.sum(var * ct_var)

  h, numeric = 1e-6, np.zeros_like(x)
  for idx in np.ndindex(x.shape):
    e = np.zeros_like(x)
    e[idx] = h
    numeric[idx] = (objective(x + e) - objective(x - e)) / (2 * h)

  @jax.jit
  def vjp(x):
    _, pullback = jax.vjp(lambda x: batch_norm.batch_norm_train(x, jnp.asarray(
        scale, jnp.float32), jnp.asarray(bias, jnp.float32), 1e-5), x)
    return pullback(tuple(jnp.asarray(c, jnp.float32) for c in (ct_y, ct_mean, ct_var)))[0]

  np.testing.assert_allclose(vjp(jnp.asarray(x, jnp.float32)), numeric, rtol=1e-3, atol=1e-4)


def test_rejects_non_float32():
  with pytest.raises(ValueError, match="float32"):
    batch_norm.BatchNorm(**KW).init(jax.random.key(0), jnp.zeros((2, 3), jnp.bfloat16),
                                    use_running_average=False)
