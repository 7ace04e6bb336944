"""The one training loop every family uses.

A family supplies a `Task` (pure functions); the loop owns everything else: the mesh and
shardings, the jitted donated step, per-step keys, the data order, the non-finite guard,
checkpoints and resume, logs, sample grids and the final results.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gen_jax import data as data_lib
from gen_jax.training import compiler
from gen_jax.training import outputs
from gen_jax.training import sharding
from gen_jax.training.checkpoint import Checkpointer, CheckpointError

Array = jax.Array
# A module logger: records propagate to whatever the program configured, and nothing is
# added to the root logger.
_LOG = logging.getLogger(__name__)

# Stream names for `jax.random.fold_in(root_key, stream)`: each consumer of randomness has
# its own stream, so adding one never shifts another's numbers.
INIT_STREAM, STEP_STREAM, DATA_STREAM, EVAL_STREAM, SAMPLE_STREAM = 0, 1, 2, 3, 4
# Per-step draws of stochastic sources (dynamic binarization): key of data step t is
# fold_in(fold_in(root, DATA_DRAW_STREAM), t).
DATA_DRAW_STREAM = 5
# Batches read ahead by a source's background threads (its `read_threads`, when > 0).
PREFETCH_BATCHES = 2

# Config keys that may change between a run and its resumption (they do not alter the
# trajectory up to the resumed step).
RESUMABLE_CHANGES = frozenset({"num_steps", "log_every", "eval_every", "checkpoint_every",
                               "keep_checkpoints", "final_eval_samples"})


class NonFiniteError(FloatingPointError):
  """The loss, gradients or state became NaN/inf; training stopped without saving it."""


@dataclasses.dataclass(frozen=True)
class Task:
  """What a model family plugs into the loop; all functions are pure.

  Attributes:
    init: key -> state (a pytree with an int `step` field), jitted by the loop.
    step: (state, batch, key) -> (state, metrics); metrics must hold a scalar 'loss'.
      The batch is the training source's dict of arrays, one leading example axis each:
      {key: [B, ...]} with the keys of `data_keys` (all of the source's when None), e.g.
      {'image': [B, H, W, C] float32 in [0, 1], 'label': [B] int32} or {'x': [B, 2]}; with
      a leading [batches_per_step] axis when that is > 1 (e.g. k discriminator steps).
    evaluate: (state, key, *, final) -> dict of host floats; called at each eval and, with
      final=True (where a task may spend more, e.g. 1,000 importance samples), at the end.
    sample: (state, key) -> [N, H, W, C] images in [0, 1] for the sample grid.
    batches_per_step: fresh batches consumed by one step.
    plot_keys: metrics drawn in loss_curve.png.
    data_keys: the data keys the step reads (only these are read and sent to the devices);
      None: every key of the source. A key the source lacks stops `train` with a ValueError
      naming it and the keys available, before anything is compiled.
  """
  init: Callable[[Array], Any]
  step: Callable[[Any, Any, Array], tuple[Any, Mapping[str, Array]]]
  evaluate: Callable[..., Mapping[str, float]] | None = None
  sample: Callable[[Any, Array], Array] | None = None
  batches_per_step: int = 1
  plot_keys: tuple[str, ...] = ("loss",)
  data_keys: tuple[str, ...] | None = None


def _all_finite(tree: Any) -> Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _is_watched(name: str) -> bool:
  return name.endswith("loss") or name.endswith("grad_norm")


def guard_non_finite(step_fn):
  """Wraps a step to also report whether it stayed finite.

  `ok` is the finiteness of the scalar metrics the step returns named '*loss' and
  '*grad_norm'. A gradient with a NaN or inf anywhere has a non-finite global norm, so on
  the steps that compute norms this watches every gradient at O(1) cost; checking each
  state leaf and selecting the old state instead read and wrote the whole state a second
  time, 25 % of an MLP-VAE step on CPU. On steps that return only the loss (see
  `without_metrics`), and for an update that turns finite gradients into a non-finite state,
  the non-finite values reach the next step's loss, which is reported; and the loop checks
  the whole state before every save, so no checkpoint ever holds a non-finite state.

  Returns step(state, batch, key) -> (state, metrics, ok); the caller stops on ok == False
  and discards that state.
  """

  def guarded(state, batch, key):
    new_state, metrics = step_fn(state, batch, key)
    watched = [v for k, v in metrics.items() if _is_watched(k) and jnp.ndim(v) == 0]
    if not watched:
      raise ValueError(f"a step's metrics must include a scalar 'loss'; got {sorted(metrics)}")
    ok = jnp.all(jnp.isfinite(jnp.stack([jnp.asarray(v, jnp.float32) for v in watched])))
    return new_state, metrics, ok

  return guarded


def without_metrics(step_fn):
  """The same step returning only metrics['loss']: XLA then drops the work of the others.

  Gradient norms read every gradient once more; on an MLP VAE on CPU the metrics were 10 %
  of a step. The loop runs this form on steps it does not log.
  """

  def lean(state, batch, key):
    new_state, metrics = step_fn(state, batch, key)
    return new_state, {"loss": metrics["loss"]}

  return lean


def _shardings(task: Task, mesh) -> tuple[Any, Any]:
  """(replicated, batch) shardings: state and keys on every device, examples split."""
  return (sharding.replicated(mesh),
          sharding.batch_sharding(mesh, leading_axes=int(task.batches_per_step > 1)))


def compile_steps(task: Task, mesh) -> tuple[Callable, Callable]:
  """The jitted, donated, sharded steps the loop runs: (lean, full).

  Both are `guard_non_finite` steps (state, batch, key) -> (state, metrics, ok) over `mesh`:
  `full` returns all of the task's metrics (for log steps), `lean` only the loss (the
  rest of the time). They are compiled with `compiler.step_compiler_options` for the
  mesh's platform. Benchmarks time these, so they measure what training runs.
  """
  rep, batch_shard = _shardings(task, mesh)
  options = compiler.step_compiler_options(mesh.devices.flat[0].platform)

  def jit(fn):
    return jax.jit(guard_non_finite(fn), donate_argnums=0,
                   in_shardings=(rep, batch_shard, rep), out_shardings=(rep, rep, rep),
                   compiler_options=options)

  return jit(without_metrics(task.step)), jit(task.step)


def _cpu_convolutions() -> str:
  """The CPU convolution kernels the run's convs were traced with ('xla' or 'onednn', see
  `gen_jax.nets.set_cpu_convolutions`): recorded in results.json, since the two sum in
  different float32 orders. Read from the loaded module: the substrate does not import nets."""
  module = sys.modules.get("gen_jax.nets.onednn")
  return module.cpu_convolutions() if module is not None else "xla"


def _config_dict(config: ml_collections.ConfigDict) -> dict[str, Any]:
  return json.loads(config.to_json_best_effort())


def _config_path(workdir: str) -> str:
  return os.path.join(workdir, "config.json")


def _check_resumable_config(workdir: str, config: ml_collections.ConfigDict) -> None:
  path = _config_path(workdir)
  new = _config_dict(config)
  if os.path.exists(path):
    with open(path) as f:
      old = json.load(f)
    changed = sorted(k for k in set(old) | set(new)
                     if old.get(k) != new.get(k) and k not in RESUMABLE_CHANGES)
    if changed:
      detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:8])
      raise CheckpointError(
          f"workdir {workdir} holds a run with a different config ({detail}); resuming it "
          "with this config would mix two experiments. Use a fresh --workdir.")


def _write_config(workdir: str, config: ml_collections.ConfigDict) -> None:
  # Atomic: the other processes of a multi-host run may be reading it.
  tmp = _config_path(workdir) + ".tmp"
  with open(tmp, "w") as f:
    json.dump(_config_dict(config), f, indent=2, sort_keys=True)
  os.replace(tmp, _config_path(workdir))


class _NoWriter:
  """The metrics writer of the processes other than 0: the workdir is process 0's to write."""

  def write(self, step: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {"step": int(step), **outputs.to_python(metrics)}

  def close(self) -> None:
    pass


def _check_data(task: Task, train_data: Any, batch_size: int) -> tuple[str, ...]:
  for attr in ("gather", "element_spec", "__len__"):
    if not hasattr(train_data, attr):
      raise TypeError(f"train_data must be a gen_jax.data.DataSource (with `{attr}`), got "
                      f"{type(train_data).__name__}")
  keys = data_lib.check_data_keys(train_data, task.data_keys)
  if not 0 < batch_size <= len(train_data):
    raise ValueError(f"batch_size ({batch_size}) must be in [1, {len(train_data)}] (the "
                     f"number of examples of {getattr(train_data, 'name', 'train_data')!r})")
  return keys


def train(task: Task, config: ml_collections.ConfigDict, workdir: str,
          train_data: data_lib.DataSource, *, devices=None) -> dict[str, Any]:
  """Trains `task` to `config.num_steps`, resuming from `workdir` when it holds a checkpoint.

  Required config keys: seed, num_steps, batch_size, log_every, eval_every,
  checkpoint_every; optional: keep_checkpoints (default 3).

  Leaves the process's malloc settings alone: the experiment command line applies
  `allocator.keep_freed_host_memory`, which a program calling `train` may call first.

  Args:
    task: the family's pure functions.
    config: run config.
    workdir: output directory; resumed when it holds a checkpoint.
    train_data: any `gen_jax.data.DataSource` (in memory, binarized, toy, streaming). The
      batch of step s is a pure function of (seed, s) (`gen_jax.data.step_batch`), so a
      resumed run reads exactly the batches of an uninterrupted one. With several processes
      (`sharding.maybe_initialize_distributed`), each reads only its own rows of each global
      batch.
    devices: devices to shard the batch over (default: all of `jax.devices()`).
  Returns:
    The final evaluation plus `train_seconds` (the wall time of this call's training loop),
    `num_params` (trainable parameters, all groups) and, with a `sample` function,
    `samples_per_second` (one compiled call of it, timed after the grid's),
    also written to workdir/results.json. A workdir whose run already finished at
    num_steps returns its results.json unchanged.
  Raises:
    ValueError: before compiling anything, when the task needs a data key the source lacks,
      or batch_size is not divisible by the number of devices or exceeds the dataset.
    NonFiniteError: if a step produced a non-finite loss or state; the message names the
      step and the checkpoints on disk are those of earlier, finite steps.
    CheckpointError: if workdir holds a checkpoint this config cannot restore.
  """
  sharding.maybe_initialize_distributed()
  os.makedirs(workdir, exist_ok=True)
  _check_resumable_config(workdir, config)
  mesh = sharding.data_mesh(devices)
  sharding.check_divisible(config.batch_size, mesh)
  data_keys = _check_data(task, train_data, config.batch_size)
  rep, batch_shard = _shardings(task, mesh)
  rows = sharding.process_rows(batch_shard, config.batch_size)

  root = jax.random.key(config.seed)
  init_key, step_key, data_key, eval_key, sample_key, draw_key = (
      jax.random.fold_in(root, s)
      for s in (INIT_STREAM, STEP_STREAM, DATA_STREAM, EVAL_STREAM, SAMPLE_STREAM,
                DATA_DRAW_STREAM))

  init = jax.jit(task.init, out_shardings=rep)
  abstract = jax.eval_shape(task.init, init_key)
  abstract = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=rep),
                          abstract)
  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"),
                      max_to_keep=config.get("keep_checkpoints", 3))
  latest = ckpt.latest_step()
  if latest is None:
    state = init(init_key)
    start = 0
  else:
    state = ckpt.restore(latest, abstract)
    start = int(state.step)
    if start != latest:
      raise CheckpointError(f"checkpoint {ckpt.directory}/{latest} holds step {start}")
    _LOG.info("resumed from %s at step %d", ckpt.directory, start)
  # Written only once the state is known to fit it, so a refused resume leaves it intact.
  # With several processes, process 0 alone writes the workdir's files (checkpoints are
  # written by all of them together).
  primary = jax.process_index() == 0
  if primary:
    _write_config(workdir, config)
  results_path = os.path.join(workdir, "results.json")
  if start >= config.num_steps and os.path.exists(results_path):
    with open(results_path) as f:
      finished = json.load(f)
    if finished.get("step") == start:
      # Re-running a finished command: report its results, append nothing. (Delete
      # results.json to evaluate again, or raise num_steps to train on.)
      _LOG.info("%s already finished at step %d", workdir, start)
      ckpt.close()
      return finished

  lean_step, full_step = compile_steps(task, mesh)
  writer = outputs.MetricsWriter(workdir, resume_step=start) if primary else _NoWriter()
  progress = outputs.Progress(start, config.num_steps)
  samples_dir = os.path.join(workdir, "samples")

  def evaluate_and_sample(state, step, final=False):
    result = {}
    if task.evaluate is not None:
      result = {f"eval_{k}": v for k, v in task.evaluate(state, eval_key, final=final).items()}
    if task.sample is not None:
      images = np.asarray(task.sample(state, jax.random.fold_in(sample_key, step)))
      if primary:
        outputs.save_image_grid(os.path.join(samples_dir, f"step_{step:07d}.png"), images)
    return result

  def samples_per_second(state, step) -> dict[str, float]:
    """Images per second of the task's (by now compiled) sampler: one call, end to end."""
    if task.sample is None:
      return {}
    t = time.perf_counter()
    n = len(jax.block_until_ready(task.sample(state, jax.random.fold_in(sample_key, step + 1))))
    return {"samples_per_second": n / max(time.perf_counter() - t, 1e-9)}

  state_finite = jax.jit(_all_finite)

  def check(ok, step, what="loss or gradients"):
    if not bool(ok):
      raise NonFiniteError(
          f"non-finite {what} at step {step}; training stopped and that step's state was "
          f"discarded. Last good checkpoint: step {ckpt.latest_step()} in {ckpt.directory}.")

  def host_batch(step):
    return data_lib.step_batch(train_data, data_key, step, batch_size=config.batch_size,
                               batches_per_step=task.batches_per_step, rows=rows,
                               keys=data_keys, draw_key=draw_key)

  host_batches = data_lib.prefetched(host_batch, start, config.num_steps,
                                     num_threads=getattr(train_data, "read_threads", 0),
                                     buffer_size=PREFETCH_BATCHES)
  t0, last_log_step = time.perf_counter(), start
  loop_start = time.perf_counter()
  pending = None  # (ok, step) of the last step, checked one step late to keep dispatch async
  try:
    for step, local_batch in zip(range(start, config.num_steps), host_batches):
      batch = sharding.put_process_batch(local_batch, batch_shard, config.batch_size)
      done = step + 1
      log_now = done % config.log_every == 0 or done == config.num_steps
      save_now = done % config.checkpoint_every == 0 or done == config.num_steps
      eval_now = done % config.eval_every == 0 and done != config.num_steps
      step_fn = full_step if log_now else lean_step
      state, metrics, ok = step_fn(state, batch, jax.random.fold_in(step_key, step))
      if pending is not None:
        check(*pending)
      pending = (ok, done)
      if log_now or save_now or eval_now:
        check(ok, done)
        pending = None
      if log_now:
        elapsed = time.perf_counter() - t0
        record = dict(metrics)
        record["steps_per_sec"] = (done - last_log_step) / max(elapsed, 1e-9)
        writer.write(done, record)
        progress.update(done - last_log_step, loss=float(metrics["loss"]))
        t0, last_log_step = time.perf_counter(), done
      if save_now:
        check(state_finite(state), done, what="state (parameters or optimizer state)")
        ckpt.save(done, state)
      if eval_now:
        writer.write(done, evaluate_and_sample(state, done))
    if pending is not None:
      check(*pending)
  except KeyboardInterrupt:
    # Keep what was trained: save the current state unless it is mid-donation or unchecked.
    leaves = jax.tree.leaves(state)
    if not any(getattr(x, "is_deleted", lambda: False)() for x in leaves):
      if bool(_all_finite(state)) and int(state.step) != ckpt.latest_step():
        ckpt.save(int(state.step), state)
        _LOG.warning("interrupted: saved step %d to %s", int(state.step), ckpt.directory)
    raise
  finally:
    progress.close()
    ckpt.close()

  train_seconds = time.perf_counter() - loop_start
  final_step = int(state.step)
  results = {"step": final_step, **{k[len("eval_"):]: v for k, v in
                                    evaluate_and_sample(state, final_step, final=True).items()}}
  writer.write(final_step, {f"final_{k}": v for k, v in results.items() if k != "step"})
  writer.close()
  # Wall time of this invocation's training loop (a resumed run counts its own part only).
  num_params = sum(int(np.size(x)) for x in jax.tree.leaves(state.params))
  # Timings stay out of metrics.jsonl, which reads the same for a resumed run.
  results = outputs.to_python({**results, "train_seconds": round(train_seconds, 3),
                               "num_params": num_params, **samples_per_second(state, final_step),
                               "cpu_convolutions": _cpu_convolutions()})
  if primary:
    with open(results_path, "w") as f:
      json.dump(results, f, indent=2, sort_keys=True)
    outputs.plot_curves(workdir, task.plot_keys)
  return results
