"""gen_jax.random's threefry draws against jax.random itself: bitwise equality, under jit and vmap.

Bitwise on any CPU: bits, fold_in and split are uint32 arithmetic (exact), and normal applies
the same elementwise float32 operations as jax.random.normal to those bits (mantissa trick,
scale, erf_inv), with no reduction whose summation order a kernel could choose.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import random as prng

SEEDS = (0, 1, 12345, 2**31 + 7)
SHAPES = ((), (1,), (7,), (3, 5), (128, 20), (2, 28, 28, 1))


def _key_bits(keys):
  return np.asarray(jax.random.key_data(keys))


@pytest.mark.parametrize("seed", SEEDS)
def test_bits_and_normal_equal_jax_random(seed):
  key = jax.random.key(seed)
  bits = jax.jit(prng.bits, static_argnums=1)
  normal = jax.jit(prng.normal, static_argnums=1)
  for shape in SHAPES:
    np.testing.assert_array_equal(bits(key, shape), jax.random.bits(key, shape, jnp.uint32))
    np.testing.assert_array_equal(normal(key, shape), jax.random.normal(key, shape))


@pytest.mark.parametrize("seed", SEEDS)
def test_uniform_and_gumbel_equal_jax_random(seed):
  key = jax.random.key(seed)
  uniform = jax.jit(prng.uniform, static_argnums=(1, 2))
  for shape in SHAPES:
    np.testing.assert_array_equal(uniform(key, shape), jax.random.uniform(key, shape))
    np.testing.assert_array_equal(uniform(key, shape, jnp.float32, -2.5, 3.0),
                                  jax.random.uniform(key, shape, jnp.float32, -2.5, 3.0))
  legacy = jax.random.PRNGKey(seed)
  np.testing.assert_array_equal(prng.uniform(legacy, (4, 3)), jax.random.uniform(legacy, (4, 3)))
  gumbel = jax.jit(prng.gumbel, static_argnums=(1, 2))
  for shape in SHAPES:
    np.testing.assert_array_equal(gumbel(key, shape), jax.random.gumbel(key, shape))
  # Other dtypes go through jax.random itself.
  np.testing.assert_array_equal(prng.uniform(key, (5,), jnp.bfloat16),
                                jax.random.uniform(key, (5,), jnp.bfloat16))


@pytest.mark.parametrize("seed", SEEDS)
def test_fold_in_and_split_equal_jax_random(seed):
  key = jax.random.key(seed)
  for data in (0, 1, 5, 2**31, jnp.int32(-3)):
    np.testing.assert_array_equal(_key_bits(prng.fold_in(key, data)),
                                  _key_bits(jax.random.fold_in(key, data)))
  many = jax.jit(prng.fold_in)(key, jnp.arange(6))
  np.testing.assert_array_equal(
      _key_bits(many), _key_bits(jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(6))))
  np.testing.assert_array_equal(_key_bits(jax.jit(prng.split, static_argnums=1)(key, 5)),
                                _key_bits(jax.random.split(key, 5)))


def test_per_example_keys_under_vmap():
  keys = jax.random.split(jax.random.key(3), 4)
  np.testing.assert_array_equal(
      jax.jit(jax.vmap(lambda k: prng.normal(k, (3, 2))))(keys),
      jax.vmap(lambda k: jax.random.normal(k, (3, 2)))(keys))
  np.testing.assert_array_equal(
      _key_bits(jax.vmap(lambda k: prng.split(k, 3))(keys)),
      _key_bits(jax.vmap(lambda k: jax.random.split(k, 3))(keys)))


def test_straight_line_lowering_has_no_while_loop():
  # The point of the module: JAX's CPU lowering of threefry is a 5-step while loop.
  hlo = jax.jit(lambda k: prng.bits(k, (64,))).lower(jax.random.key(0)).as_text()
  assert "while" not in hlo
  assert "while" in jax.jit(lambda k: jax.random.bits(k, (64,))).lower(
      jax.random.key(0)).as_text()


def test_other_key_types_fall_back_to_jax_random():
  key = jax.random.key(0, impl="rbg")
  np.testing.assert_array_equal(prng.bits(key, (5,)), jax.random.bits(key, (5,), jnp.uint32))
  np.testing.assert_array_equal(prng.normal(key, (5,)), jax.random.normal(key, (5,)))


def test_bad_arguments_name_themselves():
  with pytest.raises(ValueError, match="single key"):
    prng.bits(jax.random.split(jax.random.key(0), 2), (3,))
  with pytest.raises(ValueError, match="data must be integers"):
    prng.fold_in(jax.random.key(0), jnp.ones(3))
