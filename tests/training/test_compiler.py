"""Tests for gen_jax/training/compiler.py: the CPU step options route convolutions to
XLA's Eigen kernels, keep YNNPACK for dots, change no result, and reach compile_steps."""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gen_jax import training

DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _conv_and_dot(x, w, m):
  y = lax.conv_general_dilated(x, w, (2, 2), "SAME", dimension_numbers=DIMENSIONS)
  return y, y.reshape(y.shape[0], -1) @ m


def _compiled(options, *args):
  return jax.jit(_conv_and_dot, compiler_options=options).lower(*args).compile()


def test_cpu_options_move_convolutions_off_ynnpack_and_keep_results():
  rng = np.random.default_rng(0)
  args = (jnp.asarray(rng.normal(size=(4, 8, 8, 16)), jnp.float32),
          jnp.asarray(rng.normal(size=(4, 4, 16, 32)), jnp.float32),
          jnp.asarray(rng.normal(size=(4 * 4 * 32, 8)), jnp.float32))
  default, ours = _compiled({}, *args), _compiled(training.step_compiler_options("cpu"),
                                                  *args)
  ynn_fusions = [line for line in ours.as_text().splitlines()
                 if "__ynn_fusion" in line and "fusion(" in line]
  assert ynn_fusions, "dots should still run through YNNPACK"
  assert not any("conv_general_dilated" in line for line in ynn_fusions)
  assert any("conv_general_dilated" in line and "__ynn_fusion" in line
             for line in default.as_text().splitlines()), (
                 "XLA's default changed: revisit compiler.CPU_YNN_FUSIONS")
  for got, want in zip(ours(*args), default(*args)):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_options_are_cpu_only():
  assert training.step_compiler_options("gpu") == {}
  assert training.step_compiler_options("tpu") == {}


def test_compile_steps_uses_the_options():
  def step(state, batch, key):
    del key
    y, z = _conv_and_dot(batch["image"], state["w"], state["m"])
    return state, {"loss": jnp.mean(z) + jnp.mean(y)}

  task = training.Task(init=lambda key: {"w": jnp.ones((4, 4, 1, 32)),
                                         "m": jnp.ones((14 * 14 * 32, 2))}, step=step)
  mesh = training.data_mesh(jax.devices()[:1])
  lean, _ = training.compile_steps(task, mesh)
  state = task.init(jax.random.key(0))
  batch = {"image": jnp.ones((4, 28, 28, 1)), "label": jnp.zeros((4,), jnp.int32)}
  text = lean.lower(state, batch, jax.random.key(1)).compile().as_text()
  assert "convolution(" in text  # XLA's own convolution, not a YNNPACK fusion
  want = jax.jit(step)(state, batch, jax.random.key(1))[1]["loss"]  # default options
  _, metrics, ok = lean(state, batch, jax.random.key(1))
  assert bool(ok)
  np.testing.assert_allclose(metrics["loss"], want, rtol=1e-5)
