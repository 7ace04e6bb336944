"""`vae.make_task(...)`'s init, step, sample and evaluate accept both kinds of PRNG key: a typed
key (`jax.random.key(seed)`) and a legacy uint32 key (`jax.random.PRNGKey(seed)`) of one seed
give bitwise-equal results (one jitted function for both). Tiny models on 4x4 images."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import vae
from gen_jax import validation
from gen_jax.data import ArrayDataset

SEED = 5


def _data(n, seed):
  rng = np.random.default_rng(seed)
  return ArrayDataset(images=rng.uniform(size=(n, 4, 4, 1)).astype(np.float32),
                      labels=rng.integers(0, 3, size=n).astype(np.int32), name="tiny",
                      num_classes=3)


def _assert_bitwise_equal(a, b):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _differs(a, b):
  return any(not np.array_equal(np.asarray(x), np.asarray(y))
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _both_kinds(fn):
  """(typed, legacy, typed with another seed) outputs of fn(key)."""
  return (fn(jax.random.key(SEED)), fn(jax.random.PRNGKey(SEED)),
          fn(jax.random.key(SEED + 1)))


# Dynamic binarization draws per-example Bernoulli keys in the step, the IWAE objective
# splits them, the hierarchical model splits its key per layer and samples through
# `sample_images`; the conditional VAE draws its sample grid's z from the key.
SPECS = {
    "vae_iwae_dynamic_conditional": vae.VAESpec(model="vae", objective="iwae", iwae_samples=2,
                                                conditional=True),
    "hvae": vae.VAESpec(model="hvae"),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_vae_task_accepts_typed_and_legacy_keys(name):
  spec = vae.VAESpec(**{**SPECS[name].__dict__, "latent_dim": 2, "hidden": 8,
                        "eval_samples": 2, "final_eval_samples": 2, "eval_batch_size": 4,
                        "num_sample_images": 4})
  task = vae.make_task(spec, train_data=_data(8, 0), test_data=_data(4, 1))
  init = jax.jit(task.init)
  state, legacy, other = _both_kinds(init)
  _assert_bitwise_equal(state, legacy)
  assert _differs(state, other)

  batch = {"image": jnp.asarray(_data(4, 2).images), "label": jnp.zeros(4, jnp.int32)}
  step = jax.jit(task.step)
  (typed, legacy, other) = _both_kinds(lambda k: step(state, batch, k))
  _assert_bitwise_equal(typed, legacy)
  assert _differs(typed[1], other[1])  # the metrics depend on the key

  typed, legacy, other = _both_kinds(lambda k: task.sample(state, k))
  assert typed.shape == (4, 4, 4, 1)
  _assert_bitwise_equal(typed, legacy)
  assert _differs(typed, other)

  if spec.model == "vae":  # (evaluate's key handling is the same for every model)
    typed, legacy, other = _both_kinds(lambda k: task.evaluate(state, k))
    assert typed == legacy and typed != other


def test_vae_task_rejects_a_non_key_naming_it():
  spec = vae.VAESpec(latent_dim=2, hidden=8)
  task = vae.make_task(spec, train_data=_data(8, 0), test_data=_data(4, 1))
  with pytest.raises(validation.ArgumentError, match=r"key must be a PRNG key.*got dtype "
                     r"int32, shape \(3,\)"):
    task.init(jnp.zeros(3, jnp.int32))


@pytest.mark.parametrize("model_name", ["vae", "hvae"])
def test_models_take_either_kind_of_key_directly(model_name):
  # The modules' own key arguments (not only the task's): elbo_terms' reparameterization,
  # the hierarchical model's per-layer split and its prior sampling.
  model = vae.build_model(vae.VAESpec(model=model_name, latent_dim=2, hidden=8), (4, 4, 1), 3)
  x = jnp.asarray(_data(3, 4).images)
  params = model.init(jax.random.key(0), x, key=jax.random.key(1))
  terms = jax.jit(lambda k: model.apply(params, x, key=k))
  _assert_bitwise_equal(terms(jax.random.key(SEED)), terms(jax.random.PRNGKey(SEED)))
  # Per-example keys: [B] typed or uint32 [B, 2] legacy.
  keys = lambda make: jax.random.split(make(SEED), 3)
  _assert_bitwise_equal(terms(keys(jax.random.key)), terms(keys(jax.random.PRNGKey)))
  if model_name == "hvae":
    sample = jax.jit(lambda k: model.apply(params, k, 2,
                                           method=lambda m, *a: m.sample_images(*a)))
    _assert_bitwise_equal(sample(jax.random.key(SEED)), sample(jax.random.PRNGKey(SEED)))
