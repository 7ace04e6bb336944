"""The family entry point: DiffusionSpec's checks, make_task's step (classifier-free label
dropout reaches the model as the null label), model_eps_fn's guidance."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import diffusion
from gen_jax import nets
from gen_jax import validation


def _spec(**kw):
  base = dict(num_timesteps=10, decoder="gaussian", data_key="x", data_transform="identity",
              ema_decay=0.9, learning_rate=1e-2)
  return diffusion.DiffusionSpec(**{**base, **kw})


@pytest.mark.parametrize("dropout,real_rows_move,null_row_moves", [(0.0, True, False),
                                                                   (1.0, False, True)])
def test_label_dropout_feeds_the_null_label(dropout, real_rows_move, null_row_moves):
  spec = _spec(num_classes=3, label_dropout=dropout)
  model = nets.TimeMLP(out_features=2, features=(8,), num_classes=3)
  task = diffusion.make_task(spec, model, data_shape=(2,))
  state = jax.jit(task.init)(jax.random.key(0))
  batch = {"x": jnp.ones((16, 2)), "label": jnp.arange(16) % 3}
  new, metrics = jax.jit(task.step)(state, batch, jax.random.key(1))
  assert np.isfinite(float(metrics["loss"])) and int(new.step) == 1
  moved = np.abs(np.asarray(new.params["model"]["label"]["embedding"])
                 - np.asarray(state.params["model"]["label"]["embedding"])).sum(1) > 0
  assert (moved[:3] == real_rows_move).all(), moved
  assert moved[3] == null_row_moves
  # The EMA moved towards the new parameters.
  assert not np.allclose(new.ema["model"]["out"]["bias"], new.params["model"]["out"]["bias"])


def test_model_eps_fn_guidance_and_prediction_conversion():
  spec = _spec(num_classes=2, prediction="x0")
  model = nets.TimeMLP(out_features=2, features=(8,), num_classes=2)
  params = model.init(jax.random.key(0), jnp.zeros((1, 2)), jnp.zeros((1,), jnp.int32))
  params = params["params"]
  x = jax.random.normal(jax.random.key(1), (4, 2))
  t = jnp.array([0, 3, 6, 9], jnp.int32)
  labels = jnp.array([0, 1, 1, 0])
  schedule = spec.make_schedule()
  raw = lambda lab: model.apply({"params": params}, x, t, lab)
  to_eps = lambda x0_hat: diffusion.predict_eps_from_x0(x, t, x0_hat, schedule)
  got = diffusion.model_eps_fn(spec, model, params, labels=labels, guidance_scale=2.5)(x, t)
  cond, uncond = to_eps(raw(labels)), to_eps(raw(jnp.full((4,), 2)))
  np.testing.assert_allclose(got, uncond + 2.5 * (cond - uncond), rtol=1e-4, atol=1e-5)


def test_spec_checks():
  with pytest.raises(validation.ArgumentError, match="prediction must be 'eps'"):
    _spec(loss="hybrid", prediction="v")
  with pytest.raises(validation.ArgumentError, match="schedule"):
    _spec(schedule="quadratic")
  with pytest.raises(validation.ArgumentError, match="label_dropout"):
    _spec(label_dropout=1.5)
  spec = _spec()
  assert spec.check_schedule(diffusion.linear_schedule(10)).num_timesteps == 10
  with pytest.raises(validation.ArgumentError, match="num_timesteps = 10 steps, got a "
                                                     "schedule of T = 1000"):
    spec.check_schedule(diffusion.linear_schedule(1000))
  assert spec.variance == "beta" and _spec(loss="hybrid").variance == "learned"
