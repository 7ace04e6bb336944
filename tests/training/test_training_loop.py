"""The shared loop: sharding, pmap equivalence, resume, non-finite guard, checkpoint errors."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments.vae_mnist import config as vae_config
from experiments.vae_mnist import main as vae_main
from gen_jax import data
from gen_jax import training
from gen_jax import vae


def tiny_config(**overrides):
  c = vae_config.get_config()
  c.dataset = "digits"
  c.hidden = 16
  c.latent_dim = 3
  c.batch_size = 16
  c.num_steps = 6
  c.log_every = 2
  c.eval_every = 4
  c.checkpoint_every = 3
  c.eval_samples = 4
  c.final_eval_samples = 4
  c.eval_batch_size = 120
  c.num_sample_images = 8
  c.update(overrides)
  return c


def vae_task(config, train_data, test_data, **kw):
  return vae.make_task(vae_main.vae_spec(config), train_data=train_data, test_data=test_data,
                       **kw)


@pytest.fixture(scope="module")
def digits():
  return data.load_dataset("digits", "train"), data.load_dataset("digits", "test")


def _run(config, workdir, digits, **kw):
  task = vae_task(config, *digits)
  return training.train(task, config, str(workdir), digits[0], **kw)


def _params(workdir, config, digits):
  task = vae_task(config, *digits)
  ckpt = training.Checkpointer(os.path.join(workdir, "checkpoints"))
  abstract = jax.eval_shape(task.init, jax.random.key(0))
  state = ckpt.restore(ckpt.latest_step(), abstract)
  ckpt.close()
  return state


def test_outputs_and_result_signs(tmp_path, digits):
  config = tiny_config()
  results = _run(config, tmp_path, digits)
  for name in ("metrics.jsonl", "config.json", "results.json", "loss_curve.png"):
    assert (tmp_path / name).exists(), name
  assert list((tmp_path / "samples").glob("*.png"))
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
  records = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert all("step" in r for r in records)
  assert [r["step"] for r in records if "loss" in r] == [2, 4, 6]
  assert results["step"] == 6
  assert results["test_elbo"] < 0 and results["kl"] > 0 and results["reconstruction"] > 0
  np.testing.assert_allclose(results["test_elbo"], -(results["reconstruction"] + results["kl"]),
                             rtol=1e-6)
  assert 0 <= results["active_units"] <= 3
  saved = json.loads((tmp_path / "results.json").read_text())
  assert saved["test_log_likelihood"] == pytest.approx(results["test_log_likelihood"])


def test_four_devices_match_one_device(tmp_path, digits):
  config = tiny_config(num_steps=4)
  r4 = _run(config, tmp_path / "four", digits)
  r1 = _run(config, tmp_path / "one", digits, devices=jax.devices()[:1])
  p4 = _params(tmp_path / "four", config, digits).params
  p1 = _params(tmp_path / "one", config, digits).params
  # Not bitwise: 4 devices sum each gradient as 4 partial sums plus an all-reduce, and XLA
  # picks its dot kernels (so their summation order) per shape, device count and CPU. A
  # float32 sum of n terms reordered moves by <= (n-1)·eps·sum|x| (eps = 2^-24 = 6e-8); the
  # longest sums here (64 pixels x 16 examples, n ~ 1e3) agree to 6e-5 relative at worst,
  # ~sqrt(n)·eps = 2e-6 typically. Adam's m/sqrt(v) turns a relative gradient error d into
  # <= d·lr (lr = 1e-3) per update: after 4 steps the parameters (|p| <= 1.2) differ by
  # <= 4·6e-5·1e-3 = 2.4e-7 (measured: 1.5e-8), within atol=1e-6. (Only a gradient component
  # within rounding of 0 could flip Adam's normalized step; the fixed data has none.)
  chex.assert_trees_all_close(p4, p1, rtol=1e-5, atol=1e-6)
  assert r4["test_elbo"] == pytest.approx(r1["test_elbo"], rel=1e-5)


def test_resume_is_bitwise_identical(tmp_path, digits):
  config = tiny_config()
  _run(config, tmp_path / "straight", digits)
  _run(tiny_config(num_steps=3), tmp_path / "resumed", digits)
  _run(config, tmp_path / "resumed", digits)
  a = _params(tmp_path / "straight", config, digits)
  b = _params(tmp_path / "resumed", config, digits)
  # The same programs on the same devices, so bitwise on any machine. Leaves, not trees:
  # each task instance carries its own optimizer objects (static fields).
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(x, y)
  def records(d):
    lines = (tmp_path / d / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(l).items() if k != "steps_per_sec"} for l in lines]
  straight, resumed = records("straight"), records("resumed")
  # The resumed run also logged its planned stop at step 3; everything else is identical.
  assert [r for r in resumed if r["step"] != 3] == straight


def test_rerunning_a_finished_run_reports_it_and_appends_nothing(tmp_path, digits):
  config = tiny_config(num_steps=3)
  first = _run(config, tmp_path, digits)
  assert first["train_seconds"] > 0
  lines = (tmp_path / "metrics.jsonl").read_text()
  again = _run(config, tmp_path, digits)
  assert again == json.loads((tmp_path / "results.json").read_text())
  assert again["test_elbo"] == pytest.approx(first["test_elbo"])
  assert (tmp_path / "metrics.jsonl").read_text() == lines


def test_step_is_traced_once_per_form(tmp_path, digits):
  # Two forms, each traced once over the whole run: the full step (log steps) and the one
  # returning only the loss (all other steps); no recompiles.
  config = tiny_config()
  task = vae_task(config, *digits)
  counted = training.Task(init=task.init, step=chex.assert_max_traces(task.step, n=2),
                          evaluate=task.evaluate, sample=task.sample)
  training.train(counted, config, str(tmp_path), digits[0])


def _nan_task(nan_at: int):
  opt = optax.sgd(0.1)

  def init(key):
    return training.TrainState.create({"model": {"w": jax.random.normal(key, (3,))}},
                                     {"model": opt})

  def loss_fn(params, state, batch, key):
    loss = jnp.sum(params["w"]**2) + batch["image"].mean()
    loss = jnp.where(state.step + 1 == nan_at, jnp.nan, loss)
    return loss, ({}, state.extra)

  return training.Task(init=init, step=training.make_train_step(loss_fn))


def test_non_finite_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, digits):
  config = tiny_config(num_steps=10, checkpoint_every=2)
  with pytest.raises(training.NonFiniteError, match=r"non-finite.*step 5"):
    training.train(_nan_task(5), config, str(tmp_path), digits[0])
  ckpt = training.Checkpointer(str(tmp_path / "checkpoints"))
  assert ckpt.latest_step() == 4
  state = ckpt.restore(4, jax.eval_shape(_nan_task(5).init, jax.random.key(0)))
  assert int(state.step) == 4 and np.all(np.isfinite(state.params["model"]["w"]))
  ckpt.close()


def test_non_finite_state_from_finite_gradients_is_never_saved(tmp_path, digits):
  # An update that turns finite gradients into NaN parameters: loss and gradient norm of the
  # step are finite, so only the state check before the save can catch it.
  opt = optax.scale(jnp.nan)

  def init(key):
    return training.TrainState.create({"model": {"w": jax.random.normal(key, (3,))}},
                                     {"model": opt})

  def loss_fn(params, state, batch, key):
    return jnp.sum(params["w"]**2) + batch["image"].mean(), ({}, state.extra)

  task = training.Task(init=init, step=training.make_train_step(loss_fn))
  config = tiny_config(num_steps=4, checkpoint_every=1)
  with pytest.raises(training.NonFiniteError, match=r"non-finite state.*step 1"):
    training.train(task, config, str(tmp_path), digits[0])
  ckpt = training.Checkpointer(str(tmp_path / "checkpoints"))
  assert ckpt.latest_step() is None
  ckpt.close()


def test_mismatched_and_corrupt_checkpoints_raise_clear_errors(tmp_path, digits):
  _run(tiny_config(num_steps=3), tmp_path, digits)
  with pytest.raises(training.CheckpointError, match=r"different config.*hidden"):
    _run(tiny_config(num_steps=3, hidden=8), tmp_path, digits)
  os.remove(tmp_path / "config.json")  # bypass the config check: the tree check must catch it
  with pytest.raises(training.CheckpointError, match=r"checkpoints/3.*shape mismatch"):
    _run(tiny_config(num_steps=6, hidden=8), tmp_path, digits)
  for root, _, files in os.walk(tmp_path / "checkpoints" / "3"):
    for f in files:
      with open(os.path.join(root, f), "wb") as fh:
        fh.write(b"garbage")
  with pytest.raises(training.CheckpointError, match=r"checkpoints/3"):
    _run(tiny_config(num_steps=6), tmp_path, digits)


def test_pmapped_step_matches_sharded_jit(digits):
  config = tiny_config()
  train_data, test_data = digits
  batch = {"image": train_data.images[:16], "label": train_data.labels[:16]}
  key = jax.random.key(4)
  jit_task = vae_task(config, train_data, test_data)
  state = jit_task.init(jax.random.key(0))
  mesh = training.data_mesh()
  sharded = training.put_batch(batch, training.batch_sharding(mesh))
  jit_state, jit_metrics = jax.jit(jit_task.step)(state, sharded, key)

  pmap_task = vae_task(config, train_data, test_data, axis_name="batch")
  n = jax.device_count()
  split = jax.tree.map(lambda x: x.reshape(n, -1, *x.shape[1:]), batch)
  replicate = lambda t: jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *jnp.shape(x))), t)
  p_state, p_metrics = jax.pmap(pmap_task.step, axis_name="batch")(
      replicate(state), split, replicate(key))
  first = jax.tree.map(lambda x: x[0], p_state)
  # Different programs, so a different summation order: one Adam step, bounded as in
  # test_four_devices_match_one_device.
  chex.assert_trees_all_close(first.params, jit_state.params, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(p_metrics["loss"][0], jit_metrics["loss"], rtol=1e-5)


def _lean_and_full_states(task, batch):
  mesh = training.data_mesh()
  lean, full = training.compile_steps(task, mesh)
  init = jax.jit(task.init)
  batch = training.put_batch(batch, training.batch_sharding(
      mesh, leading_axes=int(task.batches_per_step > 1)))
  out = []
  for step in (lean, full):
    state = init(jax.random.key(0))
    for i in range(2):
      state, metrics, ok = step(state, batch, jax.random.key(i))
      assert bool(ok)
    out.append((jax.device_get(state), set(metrics)))
  return out


def test_lean_and_full_steps_give_bitwise_identical_states(digits):
  # The loop alternates the two forms by step number; resume and reproducibility need them
  # to agree bit for bit, not just closely.
  from gen_jax import gan
  from gen_jax.nets.dcgan import DCGANDiscriminator, DCGANGenerator
  train_digits = digits[0]
  vae_tiny = vae_task(tiny_config(), *digits)
  vae_batch = {"image": train_digits.images[:16], "label": train_digits.labels[:16]}
  g_opt, d_opt = gan.gan_optimizers("wgan_gp", learning_rate=1e-3)
  game = gan.GANGame(DCGANGenerator(base_features=4), DCGANDiscriminator(base_features=4,
                                                                         batch_norm=False),
                     g_opt, d_opt, loss="wgan_gp", latent_dim=4, data_shape=(28, 28, 1),
                     d_steps=2, preprocess=lambda x: 2 * x - 1)
  rng = np.random.default_rng(0)
  gan_batch = {"image": rng.uniform(size=(2, 8, 28, 28, 1)).astype(np.float32),
               "label": np.zeros((2, 8), np.int32)}
  for task, batch in ((vae_tiny, vae_batch), (gan.make_task(game), gan_batch)):
    (lean_state, lean_keys), (full_state, full_keys) = _lean_and_full_states(task, batch)
    assert lean_keys == {"loss"} and any(k.endswith("grad_norm") for k in full_keys)
    for x, y in zip(jax.tree.leaves(lean_state), jax.tree.leaves(full_state), strict=True):
      np.testing.assert_array_equal(x, y)


def _linear_task(key_name, dim, *, init=None):
  """Least squares of flatten(batch[key_name]) · w against 1: any source, any data shape."""
  opt = optax.sgd(0.05)

  def default_init(key):
    return training.TrainState.create({"model": {"w": 0.1 * jax.random.normal(key, (dim,))}},
                                      {"model": opt})

  def loss_fn(params, state, batch, key):
    x = batch[key_name].reshape(batch[key_name].shape[0], -1)
    return jnp.mean((x @ params["w"] - 1.0)**2), ({}, state.extra)

  return training.Task(init=init or default_init, step=training.make_train_step(loss_fn),
                       data_keys=(key_name,))


def _final_params(workdir, task):
  ckpt = training.Checkpointer(os.path.join(workdir, "checkpoints"))
  state = ckpt.restore(ckpt.latest_step(), jax.eval_shape(task.init, jax.random.key(0)))
  ckpt.close()
  return jax.device_get(state.params)


def test_trains_on_a_toy_source_with_the_declared_keys(tmp_path):
  moons = data.load_dataset("moons", "test")
  task = _linear_task("x", 2)
  seen = []
  step = task.step

  def recording_step(state, batch, key):
    seen.append({k: v.shape for k, v in batch.items()})
    return step(state, batch, key)

  task = training.Task(init=task.init, step=recording_step, data_keys=("x",))
  results = training.train(task, tiny_config(num_steps=4), str(tmp_path), moons)
  assert results["step"] == 4
  assert seen and all(s == {"x": (16, 2)} for s in seen)  # 'label' is not read


def test_missing_data_key_fails_before_compiling(tmp_path):
  def init(key):
    raise AssertionError("init must not be traced before the data keys are checked")

  task = _linear_task("image", 4, init=init)
  with pytest.raises(ValueError, match=r"data key 'image'.*'ring:test'.*\['label', 'x'\]"):
    training.train(task, tiny_config(), str(tmp_path), data.load_dataset("ring", "test"))


def test_batch_size_not_divisible_by_devices_is_one_clear_error(tmp_path):
  with pytest.raises(ValueError, match=r"batch_size \(6\).*divisible.*devices \(4\)"):
    training.train(_linear_task("x", 2), tiny_config(batch_size=6), str(tmp_path),
                   data.load_dataset("moons", "test"))


def test_streaming_source_trains_exactly_like_in_memory(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  config = tiny_config(num_steps=5, checkpoint_every=5, batch_size=8)
  task = _linear_task("image", 28 * 28)
  with tfds.testing.mock_data(num_examples=24, policy=tfds.testing.MockPolicy.USE_CODE):
    stream = data.load_dataset("tfds:mnist", "train", streaming=True)
    assert stream.read_threads > 0  # the loop prefetches its batches in grain threads
    training.train(task, config, str(tmp_path / "stream"), stream)
    training.train(task, config, str(tmp_path / "memory"),
                   data.load_dataset("tfds:mnist", "train"))
  jax.tree.map(np.testing.assert_array_equal, _final_params(tmp_path / "stream", task),
               _final_params(tmp_path / "memory", task))


def test_dynamic_binarization_in_the_loop_is_device_count_independent(tmp_path, digits):
  source = data.DynamicallyBinarized(digits[0])
  config = tiny_config(num_steps=3, checkpoint_every=3)
  task = _linear_task("image", 64)
  training.train(task, config, str(tmp_path / "four"), source)
  training.train(task, config, str(tmp_path / "one"), source, devices=jax.devices()[:1])
  chex.assert_trees_all_close(_final_params(tmp_path / "four", task),
                              _final_params(tmp_path / "one", task), rtol=1e-6, atol=1e-7)
  # The bits are a pure function of (seed, step, example): example 0 of step 2's batch.
  from gen_jax.training import loop  # pylint: disable=g-import-not-at-top
  root = jax.random.key(config.seed)
  order = jax.random.fold_in(root, loop.DATA_STREAM)
  draw = jax.random.fold_in(root, loop.DATA_DRAW_STREAM)
  batch = data.step_batch(source, order, 2, batch_size=16, draw_key=draw)
  first = int(data.batch_indices(order, 2, num_examples=len(source), batch_size=16)[0])
  expected = data.dynamic_binarize(jax.random.fold_in(jax.random.fold_in(draw, 2), first),
                                   jnp.asarray(digits[0].images[first]))
  np.testing.assert_array_equal(batch["image"][0], expected)
