"""RBM PCD train step and AIS: gen_jax vs PyTorch eager, the same algorithms, one run.

PCD step: a 784-500 binary RBM, batch 128 of binarized MNIST digits, 100 persistent
chains advanced one block Gibbs step (`energy.pcd_gradients`), SGD with momentum; gen_jax
runs it as one jitted function with the params, optimizer state and chains donated.
PyTorch computes the same gradients in closed form (positive phase vᵀσ(vW + c) minus the
chains' negative phase) and draws its Bernoullis with `torch.bernoulli`.

AIS: log Z of the same RBM (random weights, std 0.05) with 100 chains over --num-betas
inverse temperatures from the base-rate RBM: gen_jax's `energy.ais_log_partition` (one
compiled `lax.scan`) vs a PyTorch loop over temperatures.

Timed blocks of the two frameworks alternate, with a pause before each; the ratio is the
median over rounds of torch/jax time (> 1: gen_jax faster).

  python benchmarks/bench_rbm.py [--steps 50] [--rounds 11] [--num-betas 10000] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

V, H = 784, 500


def _data(batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  from gen_jax import data
  x = np.asarray(data.load_dataset("binarized_mnist", "train").images[:batch],
                 np.float32).reshape(batch, -1)
  rng = np.random.default_rng(0)
  w = (0.05 * rng.standard_normal((V, H))).astype(np.float32)
  p = (x.mean(0) + 0.05) / 1.1
  base = np.log(p / (1 - p)).astype(np.float32)
  return x, w, base


def setup_jax(steps: int, batch: int, chains: int, num_betas: int, lr: float):
  import jax
  import jax.numpy as jnp
  import optax

  from gen_jax import energy

  x, w, base = _data(batch)
  params = {"W": jnp.asarray(w), "b": jnp.asarray(base), "c": jnp.zeros((H,), jnp.float32)}
  tx = optax.sgd(lr, momentum=0.9)
  v = jnp.asarray(x)

  def pcd_step(params, opt_state, chains, key):
    grads, chains = energy.pcd_gradients(key, params, v, chains)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, chains

  pcd_step = jax.jit(pcd_step, donate_argnums=(0, 1, 2))
  key = jax.random.key(1)
  holder = [params, tx.init(params), jnp.asarray(x[:chains])]
  for i in range(5):
    holder = list(pcd_step(*holder, jax.random.fold_in(key, i)))
  jax.block_until_ready(holder)

  def pcd_block():
    state = holder
    t = time.perf_counter()
    for i in range(steps):
      state = pcd_step(*state, jax.random.fold_in(key, i))
    jax.block_until_ready(state)
    holder[:] = list(state)
    return (time.perf_counter() - t) / steps

  # Fresh arrays: the PCD step donated (deleted) the first ones.
  ais_params = {"W": jnp.asarray(w), "b": jnp.asarray(base), "c": jnp.zeros((H,), jnp.float32)}
  ais = jax.jit(lambda k: energy.ais_log_partition(k, ais_params, num_chains=100,
                                                   num_betas=num_betas,
                                                   base_visible_bias=jnp.asarray(base)))
  jax.block_until_ready(ais(key))

  def ais_block():
    t = time.perf_counter()
    log_z, _ = ais(key)
    log_z = float(log_z)
    return time.perf_counter() - t, log_z
  return pcd_block, ais_block


def setup_torch(steps: int, batch: int, chains: int, num_betas: int, lr: float,
                threads: int):
  import torch

  torch.set_num_threads(threads)
  torch.manual_seed(0)
  x, w, base = _data(batch)
  v = torch.from_numpy(x.copy())
  W, b, c = torch.from_numpy(w.copy()), torch.from_numpy(base.copy()), torch.zeros(H)
  state = {"chains": v[:chains].clone(), "mom": [torch.zeros_like(W), torch.zeros_like(b),
                                                  torch.zeros_like(c)]}

  def pcd_step():
    with torch.no_grad():
      chains = state["chains"]
      h = torch.bernoulli(torch.sigmoid(chains @ W + c))
      chains = torch.bernoulli(torch.sigmoid(h @ W.T + b))
      ph_data = torch.sigmoid(v @ W + c)
      ph_model = torch.sigmoid(chains @ W + c)
      # −∇ log-likelihood estimate: ∇F(data) − ∇F(chains), batch means.
      g_w = chains.T @ ph_model / chains.shape[0] - v.T @ ph_data / v.shape[0]
      g_b = chains.mean(0) - v.mean(0)
      g_c = ph_model.mean(0) - ph_data.mean(0)
      for p, g, m in zip((W, b, c), (g_w, g_b, g_c), state["mom"]):
        m.mul_(0.9).add_(g)
        p.sub_(lr * m)
      state["chains"] = chains

  for _ in range(5):
    pcd_step()

  def pcd_block():
    t = time.perf_counter()
    for _ in range(steps):
      pcd_step()
    return (time.perf_counter() - t) / steps

  W0, b0 = torch.from_numpy(w.copy()), torch.from_numpy(base.copy())
  c0 = torch.zeros(H)
  b_a = torch.from_numpy(base.copy())
  betas = torch.linspace(0.0, 1.0, num_betas)

  def log_unnorm(beta, s):
    return ((1 - beta) * (s @ b_a) + beta * (s @ b0)
            + torch.nn.functional.softplus(beta * (s @ W0 + c0)).sum(-1))

  def ais():
    with torch.no_grad():
      s = torch.bernoulli(torch.sigmoid(b_a).expand(100, V).contiguous())
      log_w = torch.zeros(100)
      for k in range(1, num_betas):
        beta_prev, beta = float(betas[k - 1]), float(betas[k])
        log_w += log_unnorm(beta, s) - log_unnorm(beta_prev, s)
        h = torch.bernoulli(torch.sigmoid(beta * (s @ W0 + c0)))
        s = torch.bernoulli(torch.sigmoid((1 - beta) * b_a + beta * (h @ W0.T + b0)))
      log_z_a = torch.nn.functional.softplus(b_a).sum() + H * np.log(2.0)
      return float(log_z_a + torch.logsumexp(log_w, 0) - np.log(100))

  def ais_block():
    t = time.perf_counter()
    log_z = ais()
    return time.perf_counter() - t, log_z
  return pcd_block, ais_block


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--steps", type=int, default=50, help="PCD steps per timed block")
  parser.add_argument("--rounds", type=int, default=11)
  parser.add_argument("--ais-rounds", type=int, default=3)
  parser.add_argument("--num-betas", type=int, default=10000)
  parser.add_argument("--pause", type=float, default=0.2)
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--chains", type=int, default=100)
  parser.add_argument("--threads", type=int, default=os.cpu_count())
  args = parser.parse_args()
  lr = 1e-3
  jax_pcd, jax_ais = setup_jax(args.steps, args.batch, args.chains, args.num_betas, lr)
  torch_pcd, torch_ais = setup_torch(args.steps, args.batch, args.chains, args.num_betas, lr,
                                     args.threads)
  pcd = {"jax": [], "torch": []}
  for _ in range(args.rounds):
    for name, block in (("jax", jax_pcd), ("torch", torch_pcd)):
      time.sleep(args.pause)
      pcd[name].append(block())
  ais = {"jax": [], "torch": []}
  log_z = {}
  for _ in range(args.ais_rounds):
    for name, block in (("jax", jax_ais), ("torch", torch_ais)):
      time.sleep(args.pause)
      seconds, log_z[name] = block()
      ais[name].append(seconds)
  t = {k: np.asarray(v) for k, v in pcd.items()}
  a = {k: np.asarray(v) for k, v in ais.items()}
  import jax
  import torch
  result = {"device": str(jax.devices()[0].device_kind), "batch": args.batch,
            "chains": args.chains,
            "pcd_jax_ms_per_step": 1e3 * float(np.median(t["jax"])),
            "pcd_torch_ms_per_step": 1e3 * float(np.median(t["torch"])),
            "pcd_speedup_vs_torch": float(np.median(t["torch"] / t["jax"])),
            "ais_num_betas": args.num_betas,
            "ais_jax_seconds": float(np.median(a["jax"])),
            "ais_torch_seconds": float(np.median(a["torch"])),
            "ais_speedup_vs_torch": float(np.median(a["torch"] / a["jax"])),
            "ais_log_z": log_z, "rounds": args.rounds, "ais_rounds": args.ais_rounds,
            "steps_per_block": args.steps, "torch_threads": torch.get_num_threads(),
            "jax": jax.__version__, "torch": torch.__version__}
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
