"""The timing loop the benchmarks share: a compiled substrate step run on one batch."""

from __future__ import annotations

import time
from typing import Callable

import jax


def step_timer(step, init, batch, *, steps: int, warmup: int,
               clock: Callable[[], float] = time.perf_counter) -> Callable[[], float]:
  """Returns block() -> seconds per step of `steps` calls of `step(state, batch, key)`.

  `step` is what `training.compile_steps` returns (state, metrics, extra); `init(key)` makes
  the first state. The state carries over between blocks (the step donates it), the step
  keys are fold_in(key(1), i) with i counting every step run, and `warmup` steps (compile
  included) run once before the first block.
  """
  key = jax.random.key(1)
  holder = [jax.jit(init)(jax.random.key(0)), 0]

  def run(n):
    state, i = holder
    for j in range(n):
      state, _, _ = step(state, batch, jax.random.fold_in(key, i + j))
    jax.block_until_ready(state)
    holder[:] = [state, i + n]

  run(warmup)

  def block():
    t = clock()
    run(steps)
    return (clock() - t) / steps
  return block
