"""VAE train step: gen_jax (the trainer's jitted, donated step) vs PyTorch eager, one run.

784-400-20 MLP VAE, Bernoulli likelihood, Adam, batch 128, dynamic binarization inside the
step in both. gen_jax is timed as `gen_jax.training.train` runs it: the guarded step of
`training.compile_steps`, in its lean form (loss only; what runs on all but the log steps)
and its full form (every metric, incl. the gradient norm; the log steps), in a process with
the trainer's allocator settings (`training.keep_freed_host_memory`). Timed blocks of
the two frameworks alternate, with a pause before each so neither runs while the other's
idle worker threads still spin; the ratio is the median over rounds of torch/jax.

  python benchmarks/bench_vae.py [--steps 50] [--rounds 21] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def setup_jax(steps: int, batch: int):
  import jax

  from gen_jax import data, training, vae

  train, test = data.load_dataset("mnist", "train"), data.load_dataset("mnist", "test")
  # experiments.vae_mnist's default model (the spec's defaults).
  task = vae.make_task(vae.VAESpec(), train_data=train, test_data=test)
  mesh = training.data_mesh()
  lean, full = training.compile_steps(task, mesh)
  x = training.put_batch({"image": train.images[:batch], "label": train.labels[:batch]},
                         training.batch_sharding(mesh))
  key = jax.random.key(1)

  def make_block(step):
    holder = [jax.jit(task.init)(jax.random.key(0))]
    for i in range(10):
      holder[0], _, _ = step(holder[0], x, jax.random.fold_in(key, i))
    jax.block_until_ready(holder[0])

    def block():
      st = holder[0]
      t = time.perf_counter()
      for i in range(steps):
        st, _, _ = step(st, x, jax.random.fold_in(key, i))
      jax.block_until_ready(st)
      holder[0] = st
      return (time.perf_counter() - t) / steps
    return block
  return make_block(lean), make_block(full)


def setup_torch(steps: int, batch: int, threads: int):
  import numpy as np
  import torch
  from torch import nn

  from gen_jax import data

  torch.set_num_threads(threads)
  torch.manual_seed(0)

  class VAE(nn.Module):

    def __init__(self):
      super().__init__()
      self.enc = nn.Linear(784, 400)
      self.post = nn.Linear(400, 40)
      self.dec1 = nn.Linear(20, 400)
      self.dec2 = nn.Linear(400, 784)

    def forward(self, x):
      mean, log_var = self.post(torch.relu(self.enc(x))).chunk(2, -1)
      z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
      logits = self.dec2(torch.relu(self.dec1(z)))
      rec = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
      kl = 0.5 * (log_var.exp() + mean**2 - 1 - log_var).sum(-1)
      return (rec + kl).mean()

  model = VAE()
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  images = torch.from_numpy(np.asarray(data.load_dataset("mnist").images[:batch]).reshape(
      batch, -1))

  def step():
    x = torch.bernoulli(images)
    opt.zero_grad(set_to_none=True)
    loss = model(x)
    loss.backward()
    opt.step()

  for _ in range(10):
    step()

  def block():
    t = time.perf_counter()
    for _ in range(steps):
      step()
    return (time.perf_counter() - t) / steps
  return block


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--steps", type=int, default=50)
  parser.add_argument("--rounds", type=int, default=21)
  parser.add_argument("--pause", type=float, default=0.2)
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--threads", type=int, default=os.cpu_count())
  args = parser.parse_args()
  from gen_jax import training
  # What training.train does first; process-wide, so PyTorch runs with it too.
  training.keep_freed_host_memory()
  lean_block, full_block = setup_jax(args.steps, args.batch)
  torch_block = setup_torch(args.steps, args.batch, args.threads)
  times = {"lean": [], "full": [], "torch": []}
  blocks = {"lean": lean_block, "full": full_block, "torch": torch_block}
  for _ in range(args.rounds):
    for name, block in blocks.items():
      time.sleep(args.pause)
      times[name].append(block())
  t = {k: np.asarray(v) for k, v in times.items()}
  import jax
  import torch
  result = {"device": str(jax.devices()[0].device_kind), "batch": args.batch,
            "jax_ms_per_step": 1e3 * float(np.median(t["lean"])),
            "jax_full_metrics_ms_per_step": 1e3 * float(np.median(t["full"])),
            "torch_eager_ms_per_step": 1e3 * float(np.median(t["torch"])),
            "speedup_vs_torch_eager": float(np.median(t["torch"] / t["lean"])),
            "speedup_full_metrics_vs_torch_eager": float(np.median(t["torch"] / t["full"])),
            "rounds": args.rounds, "steps_per_block": args.steps,
            "torch_threads": torch.get_num_threads(), "jax": jax.__version__,
            "torch": torch.__version__}
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
