"""DDPM sampling speed: gen_jax's compiled ancestral sampler (one lax.scan) vs PyTorch's
Python loop over the same UNet, and vs T × one jitted denoiser call; compile seconds of the
sampler and of the full variational bound.

The UNet is `experiments.ddpm_mnist`'s default (PyTorch: `bench_unet.torch_unet`, same
layers and parameter count). Each round times, interleaved: the compiled sampler on
`--batch` images over `--T` steps; the same number of calls of one jitted UNet forward
(the sampler's floor: it should add nothing beyond the network); PyTorch's loop
(torch.no_grad, eval mode) with the same update x_{t−1} = mean + σ_t z. Reported: images/s,
the ratios, and the median over rounds. Then the compile seconds (lower + compile, nothing
run) of the ancestral sampler and of `diffusion.variational_bound` at `--compile-T` (1000):
a scan, so they do not grow with T.

  python benchmarks/bench_diffusion_sampling.py [--T 100] [--batch 64] [--rounds 3]
                                                [--compile-T 1000] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIDE = 28


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--T", type=int, default=100, help="diffusion steps timed")
  parser.add_argument("--batch", type=int, default=64, help="images per sampler call")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--compile-T", type=int, default=1000)
  parser.add_argument("--threads", type=int, default=os.cpu_count())
  args = parser.parse_args()

  import jax
  import jax.numpy as jnp
  import torch

  import bench_unet
  from gen_jax import diffusion, nets, training
  from gen_jax.nets.unet import count_params

  training.keep_freed_host_memory()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  config = bench_unet._model_config()  # pylint: disable=protected-access
  model = nets.UNet(**config)
  shape = (args.batch, SIDE, SIDE, 1)
  params = model.init(jax.random.key(0), jnp.zeros(shape), jnp.zeros((args.batch,),
                                                                   jnp.int32))["params"]
  # Non-zero output weights (the init zeroes the last conv: ε ≡ 0 would be too easy).
  params = jax.tree.map(lambda p: p + 0.01, params)
  eps_fn = lambda x, t: model.apply({"params": params}, x, t)
  schedule = diffusion.linear_schedule(args.T)

  sampler = jax.jit(lambda key: diffusion.ancestral_sample(key, eps_fn, shape, schedule))
  denoise = jax.jit(eps_fn)
  x = jnp.zeros(shape)
  t = jnp.zeros((args.batch,), jnp.int32)
  jax.block_until_ready(sampler(jax.random.key(1)))
  jax.block_until_ready(denoise(x, t))

  net = bench_unet.torch_unet(**config).eval()
  n = sum(p.numel() for p in net.parameters())
  assert n == count_params(params), (n, count_params(params))
  betas = np.linspace(1e-4, 0.02, args.T)
  abar = np.cumprod(1 - betas)
  coef = torch.tensor(betas / np.sqrt(1 - abar), dtype=torch.float32)
  inv_sqrt_alpha = torch.tensor(1 / np.sqrt(1 - betas), dtype=torch.float32)
  sigma = torch.tensor(np.sqrt(betas), dtype=torch.float32)

  def torch_sample():
    with torch.no_grad():
      xt = torch.randn(args.batch, 1, SIDE, SIDE)
      for step in reversed(range(args.T)):
        tt = torch.full((args.batch,), step, dtype=torch.long)
        xt = inv_sqrt_alpha[step] * (xt - coef[step] * net(xt, tt))
        if step > 0:
          xt = xt + sigma[step] * torch.randn_like(xt)
    return xt

  torch_sample()  # warm-up (oneDNN primitives, thread pool)

  def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start

  blocks = {
      "gen_jax compiled sampler": lambda: jax.block_until_ready(
          sampler(jax.random.key(2))),
      "T x jitted denoiser": lambda: [jax.block_until_ready(denoise(x, t))
                                      for _ in range(args.T)],
      "torch eager loop": torch_sample,
  }
  times = {k: [] for k in blocks}
  for _ in range(args.rounds):
    for k, fn in blocks.items():
      time.sleep(0.2)
      times[k].append(timed(fn))
  t_ = {k: np.asarray(v) for k, v in times.items()}

  big = diffusion.linear_schedule(args.compile_T)
  compile_seconds = {}
  for name, fn in {
      "ancestral_sample": lambda key: diffusion.ancestral_sample(key, eps_fn, shape, big),
      "variational_bound": lambda key: diffusion.variational_bound(
          key, eps_fn, jnp.zeros(shape), big)["total"]}.items():
    start = time.perf_counter()
    jax.jit(fn).lower(jax.random.key(0)).compile()
    compile_seconds[name] = round(time.perf_counter() - start, 2)

  sampler_t = t_["gen_jax compiled sampler"]
  result = {
      "platform": jax.devices()[0].platform, "torch_threads": torch.get_num_threads(),
      "T": args.T, "batch": args.batch, "rounds": args.rounds, "model": config,
      "images_per_second": {k: round(args.batch / float(np.median(v)), 2)
                            for k, v in t_.items()},
      "sampler_vs_torch_speedup": round(float(np.median(t_["torch eager loop"] / sampler_t)),
                                        3),
      "sampler_over_T_denoiser_calls": round(
          float(np.median(sampler_t / t_["T x jitted denoiser"])), 3),
      f"compile_seconds_at_T{args.compile_T}": compile_seconds,
  }
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
