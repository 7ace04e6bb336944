"""VAE train step: gen_jax (jitted, donated) vs PyTorch eager, same architecture, one run.

784-400-20 MLP VAE, Bernoulli likelihood, Adam, batch 128, dynamic binarization inside the
step in both. Prints ms/step (median of interleaved timed blocks) and the speed ratio.

  python benchmarks/bench_vae.py [--steps 300] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def setup_jax(steps: int, batch: int):
  import jax
  import numpy as np

  from experiments.vae_mnist.config import get_config
  from gen_jax import data, training, vae

  config = get_config()
  config.batch_size = batch
  train, test = data.load_dataset("mnist", "train"), data.load_dataset("mnist", "test")
  task = vae.make_vae_task(config, train, test)
  mesh = training.data_mesh()
  shard = training.batch_sharding(mesh)
  state = jax.jit(task.init)(jax.random.key(0))
  step = jax.jit(task.step, donate_argnums=0)
  x = training.put_batch({"image": train.images[:batch], "label": train.labels[:batch]}, shard)
  key = jax.random.key(1)
  for i in range(10):
    state, m = step(state, x, jax.random.fold_in(key, i))
  jax.block_until_ready(state)
  holder = [state]

  def block():
    st = holder[0]
    t = time.perf_counter()
    for i in range(steps):
      st, _ = step(st, x, jax.random.fold_in(key, i))
    jax.block_until_ready(st)
    holder[0] = st
    return (time.perf_counter() - t) / steps
  return block


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
  parser.add_argument("--steps", type=int, default=200)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--threads", type=int, default=os.cpu_count())
  args = parser.parse_args()
  jax_block = setup_jax(args.steps, args.batch)
  torch_block = setup_torch(args.steps, args.batch, args.threads)
  # Interleaved blocks: both frameworks see the same machine load.
  jax_times, torch_times = [], []
  for _ in range(args.repeats):
    jax_times.append(jax_block())
    torch_times.append(torch_block())
  t_jax, t_torch = statistics.median(jax_times), statistics.median(torch_times)
  import jax
  import torch
  result = {"device": str(jax.devices()[0].device_kind), "batch": args.batch,
            "jax_ms_per_step": 1e3 * t_jax, "torch_eager_ms_per_step": 1e3 * t_torch,
            "speedup_vs_torch_eager": t_torch / t_jax, "torch_threads": torch.get_num_threads(),
            "jax": jax.__version__, "torch": torch.__version__}
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
