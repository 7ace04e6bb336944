"""Unrolled GAN step on the ring (Metz et al. 2017): gen_jax vs PyTorch (torch.func), one run.

The step is `experiments.gan_mixture --config.unroll_steps=K`'s: batch 512 of 2-D points,
z ∈ R^256, G an MLP 256 → 128 → 128 → 2 (ReLU), D an MLP 2 → 128 → 1 (ReLU); z once and
x = G(z) once; D (input scaled by 1/4) takes the first of K unrolled Adam(1e-4, β₁ = 0.5,
eps_root = 1e-8) updates on the real batch against x; G descends f_K = its non-saturating
loss at θ_D^K minus D's real-data loss there, whose gradient w.r.t. x goes back through
all K updates (second order) and then through G; G's Adam(1e-3, β₁ = 0.5).

gen_jax is timed as `gen_jax.training.train` runs it (the lean, guarded, donated step of
`training.compile_steps`), and also through the whole loop (`--loop`: data batching,
dispatch, logging; what the README's run pays per step). PyTorch runs the same algorithm:
`torch.func.functional_call` + nested `torch.func.grad` for the differentiable inner
Adam updates, written out (torch.optim is not differentiable), then `fake.backward(∂f/∂x)`
and torch.optim.Adam for G. Both frameworks also run the plain K = 0 step.

Timed blocks of all variants alternate, with a pause before each; a ratio is the median
over rounds of the per-round ratio, so that slow drifts of a shared machine cancel.

  python benchmarks/bench_unrolled.py [--steps 50] [--rounds 9] [--threads 2] [--unroll 5]
                                      [--single-core] [--cpu-time]

--cpu-time times each block by the process's CPU time (all threads) instead of the wall
clock: on a machine shared with other jobs, CPU-seconds per step are far less disturbed
than wall time (use it with --single-core, where both equal on a quiet core).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

CLOCK = [time.perf_counter]

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BATCH, LATENT, WIDTH = 512, 256, 128


def setup_jax(steps: int, unroll: int):
  import jax

  from experiments.gan_mixture import main as gan_mixture
  from experiments.gan_mixture.config import get_config
  from gen_jax import gan, training

  config = get_config()
  config.unroll_steps = unroll
  game = gan_mixture.build_game(config)
  task = gan.make_task(game)
  mesh = training.data_mesh()
  step, _ = training.compile_steps(task, mesh)
  points = np.asarray(gan_mixture.ring_dataset(config).arrays["x"][:BATCH])
  batch = training.put_batch({"x": points}, training.batch_sharding(mesh))
  from _timing import step_timer  # imports jax: after the thread settings
  return step_timer(step, task.init, batch, steps=steps, warmup=5, clock=lambda: CLOCK[0]())


def setup_torch(steps: int, unroll: int):
  import torch
  from torch import nn
  from torch.func import functional_call, grad

  def mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
      layers.append(nn.Linear(a, b))
      if i < len(sizes) - 2:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)

  generator, discriminator = mlp([LATENT, WIDTH, WIDTH, 2]), mlp([2, WIDTH, 1])
  for m in list(generator) + list(discriminator):
    if isinstance(m, nn.Linear):
      nn.init.orthogonal_(m.weight, 0.8)
      nn.init.zeros_(m.bias)
  opt_g = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
  lr, b1, b2, eps, eps_root = 1e-4, 0.5, 0.999, 1e-8, 1e-8
  d_params = {k: v.detach().clone() for k, v in discriminator.named_parameters()}
  d_state = {"t": 0, "m": {k: torch.zeros_like(v) for k, v in d_params.items()},
             "v": {k: torch.zeros_like(v) for k, v in d_params.items()}}
  rng = np.random.default_rng(0)
  angles = 2 * np.pi * rng.integers(0, 8, BATCH) / 8
  real = torch.from_numpy(np.stack([2 * np.cos(angles), 2 * np.sin(angles)], 1).astype(
      np.float32) + 0.02 * rng.normal(size=(BATCH, 2)).astype(np.float32))
  softplus = torch.nn.functional.softplus

  def d_apply(params, x):  # D scales its input by 1/4 (Metz et al. App. A)
    return functional_call(discriminator, params, (0.25 * x,)).view(-1)

  def d_loss(params, x):
    return (softplus(-d_apply(params, real)) + softplus(d_apply(params, x))).mean()

  def adam(params, grads, m, v, t):
    m = {k: b1 * m[k] + (1 - b1) * grads[k] for k in params}
    v = {k: b2 * v[k] + (1 - b2) * grads[k] * grads[k] for k in params}
    params = {k: params[k] - lr * (m[k] / (1 - b1**t)) /
              (torch.sqrt(v[k] / (1 - b2**t) + eps_root) + eps) for k in params}
    return params, m, v

  def unrolled(x):
    params, m, v, t = d_params, d_state["m"], d_state["v"], d_state["t"]
    first = None
    for _ in range(unroll):
      t += 1
      params, m, v = adam(params, grad(d_loss)(params, x), m, v, t)
      if first is None:
        first = (params, m, v)
    # G's loss at θ_D^K minus D's real-data loss there (gan_mixture's unroll_real_term).
    g_loss = (softplus(-d_apply(params, x)) - softplus(-d_apply(params, real))).mean()
    return g_loss, first

  def one_step():
    fake = generator(torch.randn(BATCH, LATENT))
    x = fake.detach()
    if unroll:
      gx, (params, m, v) = grad(unrolled, has_aux=True)(x)
      d_params.update({k: p.detach() for k, p in params.items()})
      d_state.update(m={k: a.detach() for k, a in m.items()},
                     v={k: a.detach() for k, a in v.items()}, t=d_state["t"] + 1)
    else:
      d_state["t"] += 1
      params, m, v = adam(d_params, grad(d_loss)(d_params, x), d_state["m"], d_state["v"],
                          d_state["t"])
      d_params.update(params)
      d_state.update(m=m, v=v)
      gx = grad(lambda x: softplus(-d_apply(d_params, x)).mean())(x)
    opt_g.zero_grad(set_to_none=True)
    fake.backward(gx)
    opt_g.step()

  for _ in range(5):
    one_step()

  def block():
    t = CLOCK[0]()
    for _ in range(steps):
      one_step()
    return (CLOCK[0]() - t) / steps
  return block


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=50, help="steps per timed block")
  parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds")
  parser.add_argument("--pause", type=float, default=0.2)
  parser.add_argument("--unroll", type=int, default=5, help="K unrolled D updates")
  parser.add_argument("--threads", type=int, default=os.cpu_count(),
                      help="torch intra-op threads")
  parser.add_argument("--single-core", action="store_true",
                      help="pin the process to one core, torch on one thread")
  parser.add_argument("--cpu-time", action="store_true",
                      help="time blocks by process CPU time instead of wall time")
  args = parser.parse_args()
  if args.cpu_time:
    CLOCK[0] = time.process_time
  if args.single_core:  # before jax and torch start their thread pools
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    args.threads = 1

  import jax
  import torch

  from gen_jax import training
  training.keep_freed_host_memory()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)

  k = args.unroll
  blocks = {f"gen_jax K={k}": setup_jax(args.steps, k),
            f"torch.func K={k}": setup_torch(args.steps, k),
            "gen_jax K=0": setup_jax(args.steps, 0),
            "torch.func K=0": setup_torch(args.steps, 0)}
  times = {name: [] for name in blocks}
  for _ in range(args.rounds):
    for name, block in blocks.items():
      time.sleep(args.pause)
      times[name].append(block())
  t = {name: np.asarray(v) for name, v in times.items()}
  result = {
      "device": jax.devices()[0].device_kind, "platform": jax.devices()[0].platform,
      "cores_used": len(os.sched_getaffinity(0)), "torch_threads": torch.get_num_threads(),
      "clock": "process CPU time" if args.cpu_time else "wall", "batch": BATCH,
      "unroll": k, "rounds": args.rounds, "steps_per_block": args.steps,
      "jax": jax.__version__, "torch": torch.__version__,
      "ms_per_step": {name: round(1e3 * float(np.median(v)), 2) for name, v in t.items()},
      "speedup_vs_torch": {
          f"K={k}": round(float(np.median(t[f"torch.func K={k}"] / t[f"gen_jax K={k}"])), 3),
          "K=0": round(float(np.median(t["torch.func K=0"] / t["gen_jax K=0"])), 3)},
  }
  print(f"{'variant':<20} {'ms/step':>9}", flush=True)
  for name, ms in result["ms_per_step"].items():
    print(f"{name:<20} {ms:>9.2f}")
  for name, ratio in result["speedup_vs_torch"].items():
    print(f"gen_jax speed-up over torch.func, {name}: {ratio:.2f}x")
  print(json.dumps(result))


if __name__ == "__main__":
  main()
