"""DCGAN train step: gen_jax (the trainer's jitted, donated step) vs PyTorch eager, one run.

The step is the PyTorch DCGAN example's: z once and G(z) once; a D update on a real batch
and the detached fake batch (separate batch-norm statistics, cross-entropy); a G update
through D(G(z)) at the updated D (non-saturating loss); Adam(2e-4, β₁=0.5) for both.
Batch 128, 28×28×1, z ∈ R^100, width 64 (G: 7×7×128 → 14×14×64 → 28×28×1; D: the mirror
image), i.e. `experiments.gan_mnist` with --config.base_features=64 --config.latent_dim=100.

gen_jax is timed as `gen_jax.training.train` runs it: the lean form of the guarded,
donated, sharded step of `training.compile_steps` (what runs on all but the log steps).
PyTorch runs the same algorithm; its G update leaves D's weight gradients uncomputed
(requires_grad off), which the PyTorch example does not do.

Timed blocks of all variants alternate, with a pause before each so that no framework
runs while another's idle worker threads still spin; a ratio is the median over rounds of
the per-round ratio, so that slow drifts of a shared machine cancel.

  python benchmarks/bench_dcgan.py [--steps 10] [--rounds 15] [--threads 2] [--baselines]
                                   [--single-core]

--baselines adds gen_jax with XLA's default CPU convolution library (YNNPACK) and with
flax.linen's Conv/ConvTranspose instead of gen_jax.nets.Conv's fast path (forced by the
private hook `gen_jax.nets.convolution._xla_convolutions`, which applies while the step is
traced). --single-core pins the
process (both frameworks' threads) to one core and runs torch on one thread: a per-core
comparison, robust when other processes share the machine. Where the oneDNN extension
builds, gen_jax is also timed with `nets.set_cpu_convolutions("onednn")`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BATCH, LATENT, SIDE, BASE = 128, 100, 28, 64


def setup_jax(steps: int, *, fast_conv: bool = True, compiler_options: dict | None = None):
  if not fast_conv:  # every trace (init, step, warm-up) with flax.linen's convolutions
    from gen_jax.nets import convolution
    with convolution._xla_convolutions():  # pylint: disable=protected-access
      return setup_jax(steps, compiler_options=compiler_options)
  import jax

  from experiments.gan_mnist import main as gan_mnist
  from experiments.gan_mnist.config import get_config
  from gen_jax import gan, training

  config = get_config()
  config.batch_size, config.base_features, config.latent_dim = BATCH, BASE, LATENT
  game = gan_mnist.build_game(config, (SIDE, SIDE, 1), 10)
  task = gan.make_task(game)
  mesh = training.data_mesh()
  if compiler_options is None:
    step, _ = training.compile_steps(task, mesh)
  else:  # the same step, other XLA options
    rep, shard = training.replicated(mesh), training.batch_sharding(mesh)
    step = jax.jit(training.guard_non_finite(training.without_metrics(task.step)),
                   donate_argnums=0, in_shardings=(rep, shard, rep),
                   out_shardings=(rep, rep, rep), compiler_options=compiler_options)
  rng = np.random.default_rng(0)
  batch = training.put_batch(
      {"image": rng.uniform(size=(BATCH, SIDE, SIDE, 1)).astype(np.float32),
       "label": np.zeros((BATCH,), np.int32)}, training.batch_sharding(mesh))
  from _timing import step_timer  # imports jax: after the thread settings
  return step_timer(step, task.init, batch, steps=steps, warmup=5)


def setup_torch(steps: int, *, channels_last: bool):
  import torch
  from torch import nn

  class Generator(nn.Module):

    def __init__(self):
      super().__init__()
      self.project = nn.Linear(LATENT, 7 * 7 * 2 * BASE, bias=False)
      self.body = nn.Sequential(
          nn.BatchNorm2d(2 * BASE), nn.ReLU(),
          nn.ConvTranspose2d(2 * BASE, BASE, 4, 2, 1, bias=False), nn.BatchNorm2d(BASE),
          nn.ReLU(), nn.ConvTranspose2d(BASE, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
      return self.body(self.project(z).view(-1, 2 * BASE, 7, 7))

  discriminator = nn.Sequential(
      nn.Conv2d(1, BASE, 4, 2, 1), nn.LeakyReLU(0.2),
      nn.Conv2d(BASE, 2 * BASE, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * BASE),
      nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2 * BASE * 7 * 7, 1))
  generator = Generator()
  memory_format = torch.channels_last if channels_last else torch.contiguous_format
  generator.to(memory_format=memory_format)
  discriminator.to(memory_format=memory_format)
  opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
  opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
  bce = nn.BCEWithLogitsLoss()
  rng = np.random.default_rng(0)
  real = torch.from_numpy(rng.uniform(size=(BATCH, 1, SIDE, SIDE)).astype(np.float32))
  real = (2 * real - 1).contiguous(memory_format=memory_format)
  ones, zeros = torch.ones(BATCH), torch.zeros(BATCH)
  d_params = list(discriminator.parameters())

  def one_step():
    fake = generator(torch.randn(BATCH, LATENT))
    opt_d.zero_grad(set_to_none=True)
    d_loss = (bce(discriminator(real).view(-1), ones) +
              bce(discriminator(fake.detach()).view(-1), zeros))
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    for p in d_params:
      p.requires_grad_(False)
    g_loss = bce(discriminator(fake).view(-1), ones)
    g_loss.backward()
    for p in d_params:
      p.requires_grad_(True)
    opt_g.step()
    return d_loss.item()

  for _ in range(5):
    one_step()

  def block():
    t = time.perf_counter()
    for _ in range(steps):
      one_step()
    return (time.perf_counter() - t) / steps
  return block


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
  parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
  parser.add_argument("--pause", type=float, default=0.2)
  parser.add_argument("--threads", type=int, default=os.cpu_count(),
                      help="torch intra-op threads")
  parser.add_argument("--baselines", action="store_true",
                      help="also time gen_jax with XLA's default conv library and with "
                      "flax.linen convolutions")
  parser.add_argument("--single-core", action="store_true",
                      help="pin the process to one core, torch on one thread")
  args = parser.parse_args()
  if args.single_core:  # before jax and torch start their thread pools
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    args.threads = 1

  import jax
  import torch

  from gen_jax import training
  # What training.train does first; process-wide, so PyTorch runs with it too.
  training.keep_freed_host_memory()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)

  from gen_jax import nets
  from gen_jax.nets import onednn
  blocks = {"gen_jax": setup_jax(args.steps)}
  if onednn.available():
    with nets.using_cpu_convolutions("onednn"):
      blocks["gen_jax, oneDNN convs"] = setup_jax(args.steps)
  if args.baselines:
    blocks["gen_jax, XLA default conv library"] = setup_jax(args.steps, compiler_options={})
    blocks["gen_jax, flax.linen convs"] = setup_jax(args.steps, fast_conv=False)
  blocks["torch eager NCHW"] = setup_torch(args.steps, channels_last=False)
  blocks["torch eager channels_last"] = setup_torch(args.steps, channels_last=True)

  times = {name: [] for name in blocks}
  for _ in range(args.rounds):
    for name, block in blocks.items():
      time.sleep(args.pause)
      times[name].append(block())
  t = {k: np.asarray(v) for k, v in times.items()}
  torch_best = np.minimum(t["torch eager NCHW"], t["torch eager channels_last"])
  result = {
      "device": jax.devices()[0].device_kind, "platform": jax.devices()[0].platform,
      "cores_used": len(os.sched_getaffinity(0)), "torch_threads": torch.get_num_threads(),
      "batch": BATCH, "rounds": args.rounds, "steps_per_block": args.steps,
      "jax": jax.__version__, "torch": torch.__version__,
      "ms_per_step": {k: round(1e3 * float(np.median(v)), 1) for k, v in t.items()},
      "speedup_vs_faster_torch_layout": {
          k: round(float(np.median(torch_best / v)), 3) for k, v in t.items()
          if k.startswith("gen_jax")},
      "onednn_unavailable": onednn.unavailable_reason(),
  }
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
