"""Gibbs sampling on a small discrete table P(X, Y), the seed notes' 2×2 example.

Samples the joint from its two conditionals only and shows the chains' frequencies
converging to P.

  python -m experiments.gibbs_table --workdir=/tmp/gibbs_table
  python -m experiments.gibbs_table --workdir=/tmp/gibbs3 --config.table="0.45,0.05;0.05,0.45"

results.json: the table, the empirical joint (all chains, all sweeps), and the total
variation distance to P of (a) the running average of the first n sweeps pooled over the
chains, and (b) the chains' state distribution at sweep n — against the exact value
‖δ_init Kⁿ − P‖_TV from the enumerated one-sweep kernel K. gibbs_table.png: chain 0's trace
and both distances against sweeps.
"""

from __future__ import annotations

import itertools
import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.gibbs_table.config import get_config
from gen_jax import energy
from gen_jax import training
from gen_jax import validation


def parse_table(config: ml_collections.ConfigDict) -> np.ndarray:
  """The config's table as a normalized float64 array [n_x, n_y]."""
  try:
    rows = [[float(x) for x in row.split(",")] for row in config.table.split(";")]
    table = np.array(rows, np.float64)
    if table.ndim != 2:
      raise ValueError
  except ValueError:
    raise validation.ArgumentError(
        "--config.table", f"--config.table must be rows of equal length, numbers split by ',' "
        f"and rows by ';' (e.g. '0.1,0.4;0.3,0.2'), got {config.table!r}") from None
  with validation.config_keys():
    try:
      energy.log_probs_from_table(table)
    except validation.ArgumentError as e:
      raise validation.ArgumentError("table", str(e).replace("probs", "table", 1)) from None
  return table / table.sum()


def parse_init(config: ml_collections.ConfigDict, shape: tuple[int, ...]) -> np.ndarray:
  try:
    init = np.array([int(x) for x in config.init.split(",")], np.int32)
  except ValueError:
    init = None
  if init is None or init.shape != (len(shape),) or (init < 0).any() or (init >= shape).any():
    raise validation.ArgumentError(
        "--config.init", f"--config.init must be {len(shape)} integers split by ',' within "
        f"the table's shape {shape}, got {config.init!r}")
  return init


def validate(config: ml_collections.ConfigDict) -> None:
  with validation.config_keys():
    validation.check_int("num_steps", config.num_steps, low=1)
    validation.check_int("num_chains", config.num_chains, low=1)
    validation.check_int("num_trace_steps", config.num_trace_steps, low=1)
  parse_init(config, parse_table(config).shape)


def sweep_kernel(table: np.ndarray) -> np.ndarray:
  """The exact one-sweep kernel of systematic Gibbs (variable 0 first) over the table's
  states in row-major order."""
  states = list(itertools.product(*(range(n) for n in table.shape)))
  kernel = np.eye(len(states))
  for d in range(table.ndim):
    site = np.zeros_like(kernel)
    for i, s in enumerate(states):
      column = np.array([table[s[:d] + (x,) + s[d + 1:]] for x in range(table.shape[d])])
      for x, w in enumerate(column / column.sum()):
        site[i, np.ravel_multi_index(s[:d] + (x,) + s[d + 1:], table.shape)] = w
    kernel = kernel @ site
  return kernel


def plot(path: str, table: np.ndarray, trace: np.ndarray, steps: np.ndarray,
         tv_running: np.ndarray, tv_at: np.ndarray, tv_exact: np.ndarray,
         noise_floor: float) -> None:
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(11, 4))
  ax = fig.add_subplot(1, 2, 1)
  flat = np.ravel_multi_index(trace.T, table.shape)
  ax.step(np.arange(1, len(flat) + 1), flat, where="post", lw=0.8)
  ax.set_yticks(range(table.size),
                [str(s) for s in itertools.product(*(range(n) for n in table.shape))])
  ax.set_xlabel("sweep")
  ax.set_title("chain 0: state (x, y) after each sweep")
  ax = fig.add_subplot(1, 2, 2)
  ax.loglog(steps, tv_running, label="running average, all chains")
  ax.loglog(steps, tv_at, ".", label="chains' states at sweep n")
  ax.loglog(steps, np.maximum(tv_exact, 1e-12), "--", label="exact ‖δ_init Kⁿ − P‖_TV")
  ax.axhline(noise_floor, color="C1", lw=0.8, ls=":", label="≈ E TV of num_chains exact draws")
  ax.set_ylim(bottom=max(1e-5, 0.3 * tv_running.min()))
  ax.set_xlabel("sweeps n")
  ax.set_ylabel("total variation to P")
  ax.legend(fontsize=8)
  ax.grid(alpha=0.3, which="both")
  fig.tight_layout()
  fig.savefig(path, dpi=100)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  table = parse_table(config)
  init = jnp.asarray(parse_init(config, table.shape))
  start = time.perf_counter()
  log_probs = jnp.log(jnp.asarray(table, jnp.float32))
  keys = jax.random.split(jax.random.key(config.seed), config.num_chains)
  run = jax.jit(jax.vmap(lambda key: energy.gibbs_discrete(
      key, log_probs, num_steps=config.num_steps, init=init)))
  samples = np.asarray(run(keys))                               # [chains, steps, D]
  seconds = time.perf_counter() - start
  flat = np.ravel_multi_index(np.moveaxis(samples, -1, 0), table.shape)   # [chains, steps]
  onehot = np.eye(table.size)[flat]                              # [chains, steps, cells]
  running = np.cumsum(onehot.sum(0), 0) / (config.num_chains * np.arange(1, config.num_steps + 1))[:, None]
  at_step = onehot.mean(0)
  target = table.reshape(-1)
  steps = np.unique(np.geomspace(1, config.num_steps, 40).astype(int))
  tv_running = 0.5 * np.abs(running[steps - 1] - target).sum(-1)
  tv_at = 0.5 * np.abs(at_step[steps - 1] - target).sum(-1)
  kernel = sweep_kernel(table)
  start_dist = np.eye(table.size)[np.ravel_multi_index(tuple(np.asarray(init)), table.shape)]
  tv_exact = np.array([0.5 * np.abs(start_dist @ np.linalg.matrix_power(kernel, n) - target).sum()
                       for n in steps])
  # E|p̂ − p| ≈ √(2/π)·√(p(1 − p)/M) per cell for M draws (normal approximation).
  noise_floor = float(0.5 * np.sqrt(2 / np.pi)
                      * np.sqrt(target * (1 - target) / config.num_chains).sum())
  empirical = running[-1].reshape(table.shape)
  os.makedirs(workdir, exist_ok=True)
  plot(os.path.join(workdir, "gibbs_table.png"), table, samples[0, :config.num_trace_steps],
       steps, tv_running, tv_at, tv_exact, noise_floor)
  results = {
      "table": table.tolist(),
      "empirical_joint": empirical.tolist(),
      "tv_distance": float(tv_running[-1]),
      "tv_by_sweeps": {"num_sweeps": steps.tolist(), "running_average": tv_running.tolist(),
                       "state_at_sweep": tv_at.tolist(), "state_at_sweep_exact": tv_exact.tolist(),
                       "state_at_sweep_noise_floor": noise_floor},
      "num_chains": config.num_chains,
      "sample_seconds": seconds,
  }
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(results, f, indent=1)
  return results


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
