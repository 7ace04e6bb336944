"""DDPM UNet train step: gen_jax (jitted, donated) vs PyTorch eager on the same UNet, one run.

The step is DDPM's (Ho et al. 2020, algorithm 1): t ~ U{0 … T−1}, ε ~ N(0, I),
x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε, loss = mean ‖ε − ε_θ(x_t, t)‖², Adam(2e-4), the parameter
EMA, on a batch of 28×28×1 images with the UNet of `experiments.ddpm_mnist`'s default config
(`gen_jax.nets.UNet`; the PyTorch module below has the same layers and parameter count,
asserted). Dropout is on in both (rate from the config).

gen_jax is timed as a jitted, donated step with the trainer's CPU compiler options
(`training.step_compiler_options`). Timed blocks of all variants alternate, with a pause
before each; a ratio is the median over rounds of the per-round ratio, so that slow drifts
of a shared machine cancel.

  python benchmarks/bench_unet.py [--batch 128] [--steps 3] [--rounds 7] [--threads 2]
                                  [--baselines] [--single-core]

--baselines adds gen_jax with flax.linen's convolutions instead of gen_jax.nets.Conv's fast
path (the private hook `gen_jax.nets.convolution._xla_convolutions`, applied at trace time).
Where the oneDNN extension builds, gen_jax is also timed with
`nets.set_cpu_convolutions("onednn")` ("gen_jax, oneDNN convs"): the UNet's convolutions,
GroupNorm + swish, 1×1 Dense layers and attention then all run on that backend's kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIDE, T = 28, 1000


def _model_config():
  from experiments.ddpm_mnist.config import get_config
  c = get_config()
  return dict(base_channels=c.base_channels, channel_mults=tuple(c.channel_mults),
              num_res_blocks=c.num_res_blocks,
              attention_resolutions=tuple(c.attention_resolutions), dropout=c.dropout,
              num_groups=c.num_groups)


def _alphas_cumprod():
  betas = np.linspace(1e-4, 0.02, T, dtype=np.float64)
  return np.cumprod(1.0 - betas).astype(np.float32)


def setup_jax(batch: int, steps: int, *, fast_conv: bool = True):
  if not fast_conv:
    from gen_jax.nets import convolution
    with convolution._xla_convolutions():  # pylint: disable=protected-access
      return setup_jax(batch, steps)
  import jax
  import jax.numpy as jnp
  import optax

  from gen_jax import nets, training
  from gen_jax.nets.unet import count_params

  model = nets.UNet(**_model_config())
  abar = jnp.asarray(_alphas_cumprod())
  x = jnp.zeros((batch, SIDE, SIDE, 1))
  params = model.init(jax.random.key(0), x, jnp.zeros((batch,), jnp.int32))["params"]
  state = training.TrainState.create(params={"model": params},
                                     optimizers={"model": optax.adam(2e-4)}, ema_decay=0.999)

  def loss_fn(p, state, batch, key):
    k_t, k_eps, k_drop = jax.random.split(key, 3)
    x0 = batch["image"]
    t = jax.random.randint(k_t, (x0.shape[0],), 0, T)
    eps = jax.random.normal(k_eps, x0.shape)
    a = abar[t][:, None, None, None]
    x_t = jnp.sqrt(a) * x0 + jnp.sqrt(1 - a) * eps
    pred = model.apply({"params": p}, x_t, t, train=True, rngs={"dropout": k_drop})
    return jnp.mean((pred - eps) ** 2), ({}, state.extra)

  step = jax.jit(training.make_train_step(loss_fn), donate_argnums=0,
                 compiler_options=training.step_compiler_options("cpu"))
  rng = np.random.default_rng(0)
  data = {"image": jnp.asarray(rng.uniform(-1, 1, (batch, SIDE, SIDE, 1)), jnp.float32)}
  key = jax.random.key(1)
  holder = [state, 0]

  def run(n):
    state, i = holder
    for j in range(n):
      state, metrics = step(state, data, jax.random.fold_in(key, i + j))
    jax.block_until_ready(state)
    holder[:] = [state, i + n]

  run(2)

  def block():
    t0 = time.perf_counter()
    run(steps)
    return (time.perf_counter() - t0) / steps
  return block, count_params(params)


def torch_unet(base_channels, channel_mults, num_res_blocks, attention_resolutions, dropout,
               num_groups, in_channels=1, side=SIDE):
  """The same UNet as gen_jax.nets.UNet, in PyTorch (NCHW)."""
  import math

  import torch
  from torch import nn
  import torch.nn.functional as F

  def norm(c):
    return nn.GroupNorm(min(num_groups, c), c, eps=1e-6)

  class ResBlock(nn.Module):

    def __init__(self, cin, cout):
      super().__init__()
      self.norm_0, self.conv_0 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
      self.temb_proj = nn.Linear(4 * base_channels, cout)
      self.norm_1, self.drop = norm(cout), nn.Dropout(dropout)
      self.conv_1 = nn.Conv2d(cout, cout, 3, padding=1)
      self.shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
      h = self.conv_0(F.silu(self.norm_0(x)))
      h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
      h = self.conv_1(self.drop(F.silu(self.norm_1(h))))
      return (x if self.shortcut is None else self.shortcut(x)) + h

  class Attention(nn.Module):

    def __init__(self, c):
      super().__init__()
      self.norm, self.qkv, self.proj_out = norm(c), nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)

    def forward(self, x):
      b, c, hh, ww = x.shape
      q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, hh * ww).unbind(1)
      w = torch.softmax(torch.bmm(q.transpose(1, 2), k) * c ** -0.5, dim=-1)  # [b, q, k]
      h = torch.bmm(v, w.transpose(1, 2)).reshape(b, c, hh, ww)
      return x + self.proj_out(h)

  class UNet(nn.Module):

    def __init__(self):
      super().__init__()
      ch = base_channels
      self.temb_0, self.temb_1 = nn.Linear(ch, 4 * ch), nn.Linear(4 * ch, 4 * ch)
      self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)
      self.down, chans, c, res = nn.ModuleList(), [ch], ch, side
      for i, mult in enumerate(channel_mults):
        for _ in range(num_res_blocks):
          layers = [ResBlock(c, ch * mult)]
          c = ch * mult
          if res in attention_resolutions:
            layers.append(Attention(c))
          self.down.append(nn.ModuleList(layers))
          chans.append(c)
        if i != len(channel_mults) - 1:
          self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
          chans.append(c)
          res //= 2
      self.mid = nn.ModuleList([ResBlock(c, c), Attention(c), ResBlock(c, c)])
      self.up = nn.ModuleList()
      for i in reversed(range(len(channel_mults))):
        for _ in range(num_res_blocks + 1):
          layers = [ResBlock(c + chans.pop(), ch * channel_mults[i])]
          c = ch * channel_mults[i]
          if res in attention_resolutions:
            layers.append(Attention(c))
          self.up.append(nn.ModuleList(layers))
        if i != 0:
          self.up.append(nn.Conv2d(c, c, 3, padding=1))
          res *= 2
      self.norm_out, self.conv_out = norm(c), nn.Conv2d(c, in_channels, 3, padding=1)

    def forward(self, x, t):
      half = base_channels // 2
      freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / (half - 1))
      args = t.float()[:, None] * freqs[None]
      temb = self.temb_1(F.silu(self.temb_0(torch.cat([args.sin(), args.cos()], 1))))
      h = self.conv_in(x)
      skips = [h]
      for layer in self.down:
        if isinstance(layer, nn.Conv2d):
          h = layer(h)
        else:
          h = layer[0](h, temb)
          for extra in layer[1:]:
            h = extra(h)
        skips.append(h)
      h = self.mid[2](self.mid[1](self.mid[0](h, temb)), temb)
      for layer in self.up:
        if isinstance(layer, nn.Conv2d):
          h = layer(F.interpolate(h, scale_factor=2, mode="nearest"))
        else:
          h = layer[0](torch.cat([h, skips.pop()], 1), temb)
          for extra in layer[1:]:
            h = extra(h)
      return self.conv_out(F.silu(self.norm_out(h)))

  return UNet()


def setup_torch(batch: int, steps: int, *, channels_last: bool, num_params: int):
  import torch

  model = torch_unet(**_model_config())
  n = sum(p.numel() for p in model.parameters())
  assert n == num_params, f"torch UNet has {n} parameters, gen_jax's {num_params}"
  memory_format = torch.channels_last if channels_last else torch.contiguous_format
  model.to(memory_format=memory_format)
  model.train()
  ema = [p.detach().clone() for p in model.parameters()]
  opt = torch.optim.Adam(model.parameters(), lr=2e-4)
  abar = torch.from_numpy(_alphas_cumprod())
  rng = np.random.default_rng(0)
  x0 = torch.from_numpy(rng.uniform(-1, 1, (batch, 1, SIDE, SIDE)).astype(np.float32))
  x0 = x0.contiguous(memory_format=memory_format)

  def one_step():
    t = torch.randint(0, T, (batch,))
    eps = torch.randn_like(x0)
    a = abar[t][:, None, None, None]
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps
    opt.zero_grad(set_to_none=True)
    loss = ((model(x_t, t) - eps) ** 2).mean()
    loss.backward()
    opt.step()
    with torch.no_grad():
      torch._foreach_lerp_(ema, list(model.parameters()), 1 - 0.999)
    return loss.item()

  one_step()
  one_step()

  def block():
    t0 = time.perf_counter()
    for _ in range(steps):
      one_step()
    return (time.perf_counter() - t0) / steps
  return block


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--steps", type=int, default=3, help="steps per timed block")
  parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
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
  jax_block, num_params = setup_jax(args.batch, args.steps)
  blocks = {"gen_jax": jax_block}
  if onednn.available():
    with nets.using_cpu_convolutions("onednn"):
      blocks["gen_jax, oneDNN convs"] = setup_jax(args.batch, args.steps)[0]
  if args.baselines:
    blocks["gen_jax, flax.linen convs"] = setup_jax(args.batch, args.steps,
                                                    fast_conv=False)[0]
  for layout in (False, True):
    name = "torch eager " + ("channels_last" if layout else "NCHW")
    blocks[name] = setup_torch(args.batch, args.steps, channels_last=layout,
                               num_params=num_params)

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
      "batch": args.batch, "model": _model_config(), "num_params": num_params,
      "rounds": args.rounds, "steps_per_block": args.steps,
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
