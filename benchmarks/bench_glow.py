"""Glow / RealNVP train step: gen_jax (the trainer's jitted, donated step) vs a PyTorch eager
port of the same architecture, interleaved in one run; and the cost of the log-det.

The model is experiments.flow_mnist's (`flows.ImageFlowSpec` with the sizes below) on 28x28x1
MNIST with uniform dequantization and RealNVP's logit pre-processing: per level a squeeze,
`steps` flow steps (Glow: ActNorm, LU 1x1 conv, affine channel coupling; RealNVP:
checkerboard couplings before the squeeze, channel couplings after, each with ActNorm),
coupling ResNets (3x3 conv, residual blocks of 3x3 + 1x1 convs, zero-initialized 3x3 out)
and, for Glow, split priors from a zero-initialized 3x3 conv. The PyTorch port below has the
same layers, parameter shapes and masks (NCHW), Adam, the same batch.

gen_jax is timed as `training.train` runs it: the guarded lean step of
`training.compile_steps`. Timed blocks alternate with a pause before each; the ratio is the
median over rounds of torch / jax. Also: the jitted forward pass x -> z alone vs x -> (z,
log-det): the log-det is accumulated during the same pass (no second pass over the data).
Where the oneDNN extension builds, the step is also timed with
`nets.set_cpu_convolutions("onednn")` (jax_onednn_ms_per_step).

  python benchmarks/bench_glow.py [--model glow|realnvp] [--steps 5] [--rounds 7]
      [--threads 2] [--batch 32] [--channels 32] [--steps-per-level 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def spec_of(args):
  from gen_jax import flows
  return flows.ImageFlowSpec(model=args.model, num_levels=2,
                             steps_per_level=args.steps_per_level, channels=args.channels,
                             num_blocks=1, grad_clip=0.0)


def setup_jax(args, images):
  import jax

  from gen_jax import data, flows, training

  train, test = data.load_dataset("mnist", "train"), data.load_dataset("mnist", "test")
  task = flows.make_task(spec_of(args), train_data=train, test_data=test,
                         init_examples=args.batch)
  mesh = training.data_mesh()
  lean, _ = training.compile_steps(task, mesh)
  x = training.put_batch({"image": images}, training.batch_sharding(mesh))
  key = jax.random.key(1)
  holder = [jax.jit(task.init)(jax.random.key(0))]
  for i in range(3):
    holder[0], _, _ = lean(holder[0], x, jax.random.fold_in(key, i))
  jax.block_until_ready(holder[0])

  def step_block():
    st = holder[0]
    t = time.perf_counter()
    for i in range(args.steps):
      st, _, _ = lean(st, x, jax.random.fold_in(key, i))
    jax.block_until_ready(st)
    holder[0] = st
    return (time.perf_counter() - t) / args.steps

  flow = spec_of(args).build(images.shape[1:])
  # A copy: the step donates (deletes) the state's buffers.
  params = jax.tree.map(lambda a: jax.numpy.array(a, copy=True),
                        holder[0].params["model"]["flow"])
  u = flows.uniform_dequantize(jax.random.key(2), jax.numpy.asarray(images))
  both = jax.jit(lambda p, v: flow.apply(p, v, method="forward_and_log_det"))
  only = jax.jit(lambda p, v: flow.apply(p, v, method="forward_and_log_det")[0])

  def timed(fn):
    jax.block_until_ready(fn(params, u))

    def block():
      t = time.perf_counter()
      for _ in range(args.steps):
        out = fn(params, u)
      jax.block_until_ready(out)
      return (time.perf_counter() - t) / args.steps
    return block
  return step_block, timed(only), timed(both)


def setup_torch(args, images):
  import torch
  from torch import nn
  import torch.nn.functional as F

  torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  ch = args.channels

  class ResNet(nn.Module):
    def __init__(self, c_in, c_out):
      super().__init__()
      self.inp = nn.Conv2d(c_in, ch, 3, padding=1)
      self.b0 = nn.Conv2d(ch, ch, 3, padding=1)
      self.b1 = nn.Conv2d(ch, ch, 1)
      self.out = nn.Conv2d(ch, c_out, 3, padding=1)
      nn.init.zeros_(self.out.weight)
      nn.init.zeros_(self.out.bias)

    def forward(self, x):
      h = self.inp(x)
      h = h + self.b1(torch.relu(self.b0(torch.relu(h))))
      return self.out(torch.relu(h))

  class ActNorm(nn.Module):
    def __init__(self, c):
      super().__init__()
      self.bias = nn.Parameter(torch.zeros(1, c, 1, 1))
      self.logs = nn.Parameter(torch.zeros(1, c, 1, 1))
      self.ready = False

    def forward(self, x):
      if not self.ready:
        with torch.no_grad():
          self.bias.copy_(-x.mean((0, 2, 3), keepdim=True))
          self.logs.copy_(-torch.log(x.std((0, 2, 3), keepdim=True, unbiased=False) + 1e-6))
        self.ready = True
      return (x + self.bias) * torch.exp(self.logs), x.shape[2] * x.shape[3] * self.logs.sum()

  class Conv1x1(nn.Module):
    def __init__(self, c):
      super().__init__()
      self.lower = nn.Parameter(torch.zeros(c, c))
      self.upper = nn.Parameter(torch.zeros(c, c))
      self.log_diag = nn.Parameter(torch.zeros(c))
      self.register_buffer("eye", torch.eye(c))
      self.perm = list(range(c))[::-1]

    def forward(self, x):
      l = torch.tril(self.lower, -1) + self.eye
      u = torch.triu(self.upper, 1) + torch.diag(torch.exp(self.log_diag))
      w = (l @ u)[self.perm]
      return (F.conv2d(x, w[:, :, None, None]),
              x.shape[2] * x.shape[3] * self.log_diag.sum())

  class Coupling(nn.Module):
    def __init__(self, mask):                   # mask [1, C, H, W]
      super().__init__()
      c = mask.shape[1]
      self.register_buffer("mask", mask)
      self.net = ResNet(c, 2 * c)
      self.scale = nn.Parameter(torch.ones(1, c, 1, 1))

    def forward(self, x):
      b, c, h, w = x.shape
      out = self.net(x * self.mask).view(b, c, 2, h, w)
      s = (1 - self.mask) * self.scale * torch.tanh(out[:, :, 0])
      t = (1 - self.mask) * out[:, :, 1]
      return x * torch.exp(s) + t, s.flatten(1).sum(1)

  class ZeroConv(nn.Module):
    def __init__(self, c_in, c_out):
      super().__init__()
      self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
      nn.init.zeros_(self.conv.weight)
      nn.init.zeros_(self.conv.bias)
      self.logs = nn.Parameter(torch.zeros(1, c_out, 1, 1))

    def forward(self, x):
      return self.conv(x) * torch.exp(3 * self.logs)

  def squeeze(x):
    b, c, h, w = x.shape
    x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(b, 4 * c, h // 2, w // 2)

  def checker(c, h, w, parity):
    g = (torch.arange(h)[:, None] + torch.arange(w)[None] + parity) % 2 == 0
    return g[None, None].expand(1, c, h, w).float()

  def channel(c, h, w, parity):
    first = torch.arange(c) < c // 2
    keep = first if parity == 0 else ~first
    return keep[None, :, None, None].expand(1, c, h, w).float()

  class Flow(nn.Module):
    def __init__(self, glow):
      super().__init__()
      self.glow = glow
      self.pre, self.post, self.priors = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
      c, h, w = 1, 28, 28
      for level in range(2):
        pre = nn.ModuleList()
        if not glow:
          for i in range(args.steps_per_level):
            pre.extend([Coupling(checker(c, h, w, i % 2)), ActNorm(c)])
        c, h, w = 4 * c, h // 2, w // 2
        post = nn.ModuleList()
        for i in range(args.steps_per_level):
          if glow:
            post.extend([ActNorm(c), Conv1x1(c), Coupling(channel(c, h, w, 0))])
          else:
            post.extend([Coupling(channel(c, h, w, i % 2)), ActNorm(c)])
        self.pre.append(pre)
        self.post.append(post)
        if level == 0:
          if glow:
            self.priors.append(ZeroConv(c // 2, c))
          c = c // 2

    def log_prob(self, x, alpha=1e-5):
      p = alpha + (1 - 2 * alpha) * x
      y = torch.log(p) - torch.log1p(-p)
      total = (math.log(1 - 2 * alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
      zs = []
      for level in range(2):
        for layer in self.pre[level]:
          y, ld = layer(y)
          total = total + ld
        y = squeeze(y)
        for layer in self.post[level]:
          y, ld = layer(y)
          total = total + ld
        if level == 0:
          c = y.shape[1] // 2
          y, f = y[:, :c], y[:, c:]
          if self.glow:
            out = self.priors[0](y)
            mean, ls = out[:, 0::2], out[:, 1::2]
            f = (f - mean) * torch.exp(-ls)
            total = total - ls.flatten(1).sum(1)
          zs.append(f.flatten(1))
      zs.append(y.flatten(1))
      z = torch.cat(zs, 1)
      return -0.5 * (z * z + math.log(2 * math.pi)).sum(1) + total

  model = Flow(args.model == "glow")
  x_levels = torch.from_numpy(np.round(np.asarray(images) * 255).transpose(0, 3, 1, 2).copy())
  with torch.no_grad():
    model.log_prob((x_levels + torch.rand_like(x_levels)) / 256)   # ActNorm's data init
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  dims = 784

  def step():
    u = (x_levels + torch.rand_like(x_levels)) / 256
    opt.zero_grad(set_to_none=True)
    loss = ((-model.log_prob(u) + dims * math.log(256)) / (dims * math.log(2))).mean()
    loss.backward()
    opt.step()

  for _ in range(3):
    step()

  def block():
    t = time.perf_counter()
    for _ in range(args.steps):
      step()
    return (time.perf_counter() - t) / args.steps
  return block


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--model", default="glow", choices=("glow", "realnvp"))
  parser.add_argument("--steps", type=int, default=5)
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--pause", type=float, default=0.2)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--channels", type=int, default=32)
  parser.add_argument("--steps-per-level", type=int, default=2)
  parser.add_argument("--threads", type=int, default=os.cpu_count())
  args = parser.parse_args()
  from gen_jax import data, training
  training.keep_freed_host_memory()
  images = np.asarray(data.load_dataset("mnist", "train").images[:args.batch], np.float32)
  from gen_jax import nets
  from gen_jax.nets import onednn
  jax_step, jax_forward, jax_forward_log_det = setup_jax(args, images)
  blocks = {"jax": jax_step}
  if onednn.available():
    with nets.using_cpu_convolutions("onednn"):
      blocks["jax_onednn"] = setup_jax(args, images)[0]
  blocks.update(torch=setup_torch(args, images), forward=jax_forward,
                forward_log_det=jax_forward_log_det)
  times = {k: [] for k in blocks}
  for _ in range(args.rounds):
    for name, block in blocks.items():
      time.sleep(args.pause)
      times[name].append(block())
  t = {k: np.asarray(v) for k, v in times.items()}
  import jax
  import torch
  result = {"model": args.model, "device": str(jax.devices()[0].device_kind),
            "batch": args.batch, "channels": args.channels,
            "steps_per_level": args.steps_per_level,
            "jax_ms_per_step": 1e3 * float(np.median(t["jax"])),
            "torch_eager_ms_per_step": 1e3 * float(np.median(t["torch"])),
            "speedup_vs_torch_eager": float(np.median(t["torch"] / t["jax"])),
            "jax_onednn_ms_per_step": (1e3 * float(np.median(t["jax_onednn"]))
                                       if "jax_onednn" in t else None),
            "onednn_speedup_vs_torch_eager": (float(np.median(t["torch"] / t["jax_onednn"]))
                                              if "jax_onednn" in t else None),
            "onednn_unavailable": onednn.unavailable_reason(),
            "jax_forward_ms": 1e3 * float(np.median(t["forward"])),
            "jax_forward_and_log_det_ms": 1e3 * float(np.median(t["forward_log_det"])),
            "log_det_overhead": float(np.median(t["forward_log_det"] / t["forward"])),
            "rounds": args.rounds, "steps_per_block": args.steps,
            "torch_threads": torch.get_num_threads(), "jax": jax.__version__,
            "torch": torch.__version__}
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
