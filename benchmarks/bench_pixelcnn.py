"""PixelCNN: train step gen_jax vs PyTorch eager (same architecture), and fast vs naive
sampling, one run.

The model is experiments.ar_mnist's default PixelCNN: a 7x7 type-A masked conv to F = 32
channels, 5 residual 3x3 type-B masked convs (h + ReLU(conv(h))), ReLU, a 1x1 to F, ReLU,
a 1x1 to one Bernoulli logit per pixel; batch 128 of 28x28 digits binarized afresh each
step (Bernoulli(intensity)), loss the mean over images of the exact NLL (the sum over
pixels of the logits' binary cross-entropy), Adam(1e-3). PyTorch runs the same
architecture with masked convs written here (weight * mask in the forward pass).

gen_jax is timed as `gen_jax.training.train` runs it: the lean form of the guarded,
donated, sharded step of `training.compile_steps`. Timed blocks alternate with a pause
before each; a ratio is the median over rounds of the per-round ratio.

Sampling: gen_jax.autoregressive.conv_sample (per-pixel caches) vs conv_sample_naive (784
full forward passes), each compiled once, `--sample-images` images per call, interleaved
rounds; the two return identical images (checked here too).

  python benchmarks/bench_pixelcnn.py [--steps 5] [--rounds 7] [--threads 2]
                                      [--sample-rounds 2] [--sample-images 16]
                                      [--baselines] [--single-core]

--baselines adds gen_jax with flax.linen's Conv instead of gen_jax.nets.Conv's fast path.
Where the oneDNN extension builds (`gen_jax.nets.onednn`), gen_jax is also timed with
`nets.set_cpu_convolutions("onednn")` ("gen_jax, oneDNN convs").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BATCH, SIDE, FEATURES, LAYERS = 128, 28, 32, 5


def _config():
  from experiments.ar_mnist.config import get_config
  config = get_config()
  config.batch_size, config.features, config.num_layers = BATCH, FEATURES, LAYERS
  config.model, config.first_kernel, config.kernel = "pixelcnn", 7, 3
  return config


class _Data:
  """A minimal in-memory source for the task builder: random intensities."""

  def __init__(self, n):
    rng = np.random.default_rng(0)
    self.images = rng.uniform(size=(n, SIDE, SIDE, 1)).astype(np.float32)
    self.labels = np.zeros((n,), np.int32)
    self.image_shape = (SIDE, SIDE, 1)


def setup_jax(steps: int, *, fast_conv: bool = True):
  if not fast_conv:
    from gen_jax.nets import convolution
    with convolution._xla_convolutions():  # pylint: disable=protected-access
      return setup_jax(steps)
  import jax

  from experiments.ar_mnist import main as ar_main
  from gen_jax import autoregressive as ar
  from gen_jax import training

  spec = ar_main.conv_spec(_config())
  task = ar.make_conv_task(spec, train_data=_Data(8), test_data=_Data(8))
  mesh = training.data_mesh()
  step, _ = training.compile_steps(task, mesh)
  batch = training.put_batch({"image": _Data(BATCH).images}, training.batch_sharding(mesh))
  from _timing import step_timer  # imports jax: after the thread settings
  return step_timer(step, task.init, batch, steps=steps, warmup=3)


def setup_torch(steps: int):
  import torch
  from torch import nn
  import torch.nn.functional as F

  class MaskedConv2d(nn.Conv2d):

    def __init__(self, cin, cout, k, mask_type):
      super().__init__(cin, cout, k, padding=k // 2)
      mask = torch.ones_like(self.weight)          # [out, in, kh, kw]
      mask[:, :, k // 2, k // 2 + (mask_type == "B"):] = 0
      mask[:, :, k // 2 + 1:] = 0
      self.register_buffer("mask", mask)

    def forward(self, x):
      return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

  class PixelCNN(nn.Module):

    def __init__(self):
      super().__init__()
      self.conv_in = MaskedConv2d(1, FEATURES, 7, "A")
      self.convs = nn.ModuleList([MaskedConv2d(FEATURES, FEATURES, 3, "B")
                                  for _ in range(LAYERS)])
      self.hidden = nn.Conv2d(FEATURES, FEATURES, 1)
      self.out = nn.Conv2d(FEATURES, 1, 1)

    def forward(self, x):
      h = F.relu(self.conv_in(x))
      for conv in self.convs:
        h = h + F.relu(conv(h))
      h = F.relu(self.hidden(F.relu(h)))
      return self.out(F.relu(h))

  model = PixelCNN()
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  intensities = torch.from_numpy(_Data(BATCH).images.transpose(0, 3, 1, 2).copy())

  def one_step():
    x = torch.bernoulli(intensities)
    opt.zero_grad(set_to_none=True)
    logits = model(x)
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
    loss = nll.mean()
    loss.backward()
    opt.step()
    return loss.item()

  for _ in range(3):
    one_step()

  def block():
    t = time.perf_counter()
    for _ in range(steps):
      one_step()
    return (time.perf_counter() - t) / steps
  return block


def setup_sampling(n: int):
  import jax

  from experiments.ar_mnist import main as ar_main
  from gen_jax import autoregressive as ar

  model = ar_main.conv_spec(_config()).module()
  params = model.init(jax.random.key(0), np.zeros((1, SIDE, SIDE, 1), np.float32))
  shape = (n, SIDE, SIDE, 1)
  key = jax.random.key(3)
  fast = jax.jit(lambda k: ar.conv_sample(k, model, params, shape)).lower(key).compile()
  naive = jax.jit(lambda k: ar.conv_sample_naive(k, model, params, shape)).lower(
      key).compile()
  same = bool(np.array_equal(np.asarray(fast(key)), np.asarray(naive(key))))

  def timer(fn):
    def block():
      t = time.perf_counter()
      jax.block_until_ready(fn(key))
      return n / (time.perf_counter() - t)        # images per second
    return block
  return {"fast": timer(fast), "naive": timer(naive)}, same


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=5, help="train steps per timed block")
  parser.add_argument("--rounds", type=int, default=7, help="interleaved train rounds")
  parser.add_argument("--sample-rounds", type=int, default=2)
  parser.add_argument("--sample-images", type=int, default=16)
  parser.add_argument("--pause", type=float, default=0.2)
  parser.add_argument("--threads", type=int, default=os.cpu_count(),
                      help="torch intra-op threads")
  parser.add_argument("--baselines", action="store_true",
                      help="also time gen_jax with flax.linen convolutions")
  parser.add_argument("--single-core", action="store_true",
                      help="pin the process to one core, torch on one thread")
  args = parser.parse_args()
  if args.single_core:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    args.threads = 1

  import jax
  import torch

  from gen_jax import training
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
    blocks["gen_jax, flax.linen convs"] = setup_jax(args.steps, fast_conv=False)
  blocks["torch eager"] = setup_torch(args.steps)
  times = {name: [] for name in blocks}
  for _ in range(args.rounds):
    for name, block in blocks.items():
      time.sleep(args.pause)
      times[name].append(block())
  t = {k: np.asarray(v) for k, v in times.items()}

  samplers, identical = setup_sampling(args.sample_images)
  rates = {name: [] for name in samplers}
  for _ in range(args.sample_rounds):
    for name, block in samplers.items():
      time.sleep(args.pause)
      rates[name].append(block())
  r = {k: np.asarray(v) for k, v in rates.items()}

  result = {
      "device": jax.devices()[0].device_kind, "platform": jax.devices()[0].platform,
      "cores_used": len(os.sched_getaffinity(0)), "torch_threads": torch.get_num_threads(),
      "batch": BATCH, "features": FEATURES, "layers": LAYERS, "rounds": args.rounds,
      "steps_per_block": args.steps, "jax": jax.__version__, "torch": torch.__version__,
      "train_ms_per_step": {k: round(1e3 * float(np.median(v)), 1) for k, v in t.items()},
      "train_speedup_vs_torch": {k: round(float(np.median(t["torch eager"] / v)), 3)
                                 for k, v in t.items() if k.startswith("gen_jax")},
      "sample_images_per_second": {k: round(float(np.median(v)), 2) for k, v in r.items()},
      "sampling_speedup_fast_vs_naive": round(float(np.median(r["fast"] / r["naive"])), 2),
      "samplers_identical": identical,
      "onednn_unavailable": onednn.unavailable_reason(),
  }
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
