"""DCGAN train step: jitted Flax (gen_jax.nets.dcgan) vs PyTorch eager, one process.

One step = the PyTorch DCGAN example's step: G(z) once; a D update on a real batch and
the detached fake batch (minimax cross-entropy); a G update through D(G(z)) with the
updated D (non-saturating loss); Adam(2e-4, β₁=0.5) for both. Batch 128, 28×28×1,
z ∈ R^100, base width 64 (G: 7×7×128 → 14×14×64 → 28×28×1; D: the mirror image).

The variants are timed in interleaved rounds (so background load hits all of them
alike) after a warm-up; the reported figure is the median ms/step over all rounds.

  python benchmarks/bench_dcgan.py [--steps 30] [--rounds 3] [--single-thread]

Measured on the 2-core AMD EPYC (AVX-512) dev box, shared with other jobs (load
average 2–5), jax 0.10.2, torch 2.13.0, ms/step (median):

  threads  load  fast_conv (default)  nn.ConvTranspose  torch NCHW  fast / torch
  2        ~3     191                  451               130         0.68×
  1        ~4.7   313                  869               249         0.80×
  (2 threads at load ≥ 4: torch's OpenMP threads collapse to ~1.4 s/step, so that
  row's 4× "speed-up" measures contention, not the frameworks.)

Per layer (1 thread, interleaved): XLA's convolutions run at 70–100 % of its GEMM
speed but ~1.3–2× slower than oneDNN's; the remaining gap is there. What the default
path fixes is the 10–30× slower weight gradient of `lax.conv_transpose` (see
gen_jax/nets/fast_conv.py for the variants tried).

--single-thread runs both frameworks on one intra-op thread (XLA_FLAGS set before jax
is imported, torch.set_num_threads(1)): a per-core comparison that is robust when other
processes share the cores (PyTorch's OpenMP threads degrade sharply under contention).
"""

import argparse
import functools
import os
import statistics
import sys
import time

if "--single-thread" in sys.argv:
  # Must precede the first jax import: XLA reads its flags when the backend starts.
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             " --xla_cpu_multi_thread_eigen=false"
                             " intra_op_parallelism_threads=1").strip()

import jax  # pylint: disable=wrong-import-position
import jax.numpy as jnp  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
import optax  # pylint: disable=wrong-import-position

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gen_jax import losses  # pylint: disable=wrong-import-position
from gen_jax.nets import dcgan  # pylint: disable=wrong-import-position

BATCH, LATENT, SIDE, BASE = 128, 100, 28, 64


# ----------------------------------------------------------------------------- JAX


def make_jax_step(fast_conv: bool):
  gen = dcgan.DCGANGenerator(image_shape=(SIDE, SIDE, 1), base_features=BASE,
                             fast_conv=fast_conv)
  disc = dcgan.DCGANDiscriminator(base_features=BASE)
  opt = optax.adam(2e-4, b1=0.5)
  key = jax.random.key(0)
  g_vars = gen.init(key, jnp.zeros((BATCH, LATENT)), train=False)
  d_vars = disc.init(key, jnp.zeros((BATCH, SIDE, SIDE, 1)), train=False)
  state = {"g": g_vars, "d": d_vars, "g_opt": opt.init(g_vars["params"]),
           "d_opt": opt.init(d_vars["params"])}

  def d_apply(params, stats, x):
    return disc.apply({"params": params, "batch_stats": stats}, x, train=True,
                      mutable=["batch_stats"])

  @functools.partial(jax.jit, donate_argnums=0)
  def step(state, real, key):
    z = jax.random.normal(key, (BATCH, LATENT))
    g_params, g_stats = state["g"]["params"], state["g"]["batch_stats"]

    def generate(params):
      fake, upd = gen.apply({"params": params, "batch_stats": g_stats}, z, train=True,
                            mutable=["batch_stats"])
      return fake, upd["batch_stats"]

    fake, g_vjp, g_stats = jax.vjp(generate, g_params, has_aux=True)

    def d_loss(params, stats):
      real_logits, upd = d_apply(params, stats, real)
      fake_logits, upd = d_apply(params, upd["batch_stats"],
                                 jax.lax.stop_gradient(fake))
      loss = jnp.mean(losses.minimax_discriminator_loss(real_logits, fake_logits))
      return loss, upd["batch_stats"]

    (d_l, d_stats), d_grads = jax.value_and_grad(d_loss, has_aux=True)(
        state["d"]["params"], state["d"]["batch_stats"])
    d_updates, d_opt = opt.update(d_grads, state["d_opt"], state["d"]["params"])
    d_params = optax.apply_updates(state["d"]["params"], d_updates)

    def g_loss(images):
      logits, upd = d_apply(d_params, d_stats, images)
      return jnp.mean(losses.non_saturating_generator_loss(logits)), upd["batch_stats"]

    (g_l, d_stats), d_fake = jax.value_and_grad(g_loss, has_aux=True)(fake)
    (g_grads,) = g_vjp(d_fake)
    g_updates, g_opt = opt.update(g_grads, state["g_opt"], g_params)
    g_params = optax.apply_updates(g_params, g_updates)
    new_state = {"g": {"params": g_params, "batch_stats": g_stats},
                 "d": {"params": d_params, "batch_stats": d_stats},
                 "g_opt": g_opt, "d_opt": d_opt}
    return new_state, {"d_loss": d_l, "g_loss": g_l}

  real = jax.random.uniform(jax.random.key(1), (BATCH, SIDE, SIDE, 1)) * 2 - 1
  holder = {"state": state, "i": 0}

  def run_one():
    holder["state"], metrics = step(holder["state"], real,
                                    jax.random.fold_in(key, holder["i"]))
    holder["i"] += 1
    jax.block_until_ready(metrics)
    return metrics

  return run_one


# ------------------------------------------------------------------------- PyTorch


def make_torch_step(channels_last: bool = False):
  import torch  # pylint: disable=import-outside-toplevel
  from torch import nn  # pylint: disable=import-outside-toplevel

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
  real = (torch.rand(BATCH, 1, SIDE, SIDE) * 2 - 1).to(memory_format=memory_format)
  ones, zeros = torch.ones(BATCH), torch.zeros(BATCH)

  def run_one():
    z = torch.randn(BATCH, LATENT)
    fake = generator(z)
    opt_d.zero_grad(set_to_none=True)
    d_loss = (bce(discriminator(real).view(-1), ones) +
              bce(discriminator(fake.detach()).view(-1), zeros))
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    g_loss = bce(discriminator(fake).view(-1), ones)
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()

  return run_one


# --------------------------------------------------------------------------- main


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
  parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
  parser.add_argument("--single-thread", action="store_true",
                      help="one intra-op thread for XLA and torch (see the docstring)")
  parser.add_argument("--no-flax-baseline", action="store_true",
                      help="skip the slow nn.Conv/nn.ConvTranspose variant")
  args = parser.parse_args()

  import torch  # pylint: disable=import-outside-toplevel
  torch.set_num_threads(1 if args.single_thread else args.threads)
  torch.manual_seed(0)

  variants = {"jax fast_conv (default)": make_jax_step(fast_conv=True)}
  if not args.no_flax_baseline:
    variants["jax nn.Conv/ConvTranspose"] = make_jax_step(fast_conv=False)
  variants["torch eager NCHW"] = make_torch_step(channels_last=False)
  variants["torch eager channels_last"] = make_torch_step(channels_last=True)

  for name, run_one in variants.items():
    start = time.perf_counter()
    for _ in range(args.warmup):
      run_one()
    print(f"warm-up {name}: {time.perf_counter() - start:.1f}s", flush=True)

  times = {name: [] for name in variants}
  for _ in range(args.rounds):
    for name, run_one in variants.items():
      for _ in range(args.steps):
        start = time.perf_counter()
        run_one()
        times[name].append(time.perf_counter() - start)

  print(f"\nDCGAN train step, batch {BATCH}, {SIDE}x{SIDE}, {os.cpu_count()} CPU cores, "
        f"torch threads {torch.get_num_threads()}, XLA_FLAGS="
        f"'{os.environ.get('XLA_FLAGS', '')}', load average "
        f"{os.getloadavg()[0]:.1f}, jax {jax.__version__} "
        f"({jax.devices()[0].platform}), torch {torch.__version__}; median of "
        f"{args.rounds * args.steps} steps")
  medians = {name: 1e3 * statistics.median(t) for name, t in times.items()}
  torch_best = min(v for k, v in medians.items() if k.startswith("torch"))
  torch_nchw = medians["torch eager NCHW"]
  for name, ms in medians.items():
    spread = 1e3 * np.percentile(times[name], [25, 75])
    print(f"  {name:28s} {ms:8.1f} ms/step  (IQR {spread[0]:.1f}–{spread[1]:.1f})  "
          f"speed vs torch NCHW {torch_nchw / ms:5.2f}x, vs best torch "
          f"{torch_best / ms:5.2f}x")


if __name__ == "__main__":
  main()
