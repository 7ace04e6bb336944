"""Sigmoid belief networks (Neal 1992) with a recognition network, trained by VIMCO
(Mnih & Rezende 2016, "Variational inference for Monte Carlo objectives").

Generative model, layers of binary units from the top down, h_L → … → h_1 → x = h_0:
p(h_L) = Π_j Bern(h_L,j; σ(a_j)),  p(h_l | h_{l+1}) = Π_j Bern(h_l,j; σ(h_{l+1} W_l + b_l)).
Recognition model (NVIL/VIMCO's), bottom up: q(h_{l+1} | h_l) = Bern(σ(h_l R_l + r_l)).

Parameters are a dict
  {"prior": [H_L], "gen": [{"W": [H_{l+1}, H_l], "b": [H_l]}, l = 0..L-1],
   "rec": [{"W": [H_l, H_{l+1}], "b": [H_{l+1}]}, l = 0..L-1]}
for layer sizes (H_0 = V, H_1, …, H_L) (`sbn_init`).
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from gen_jax import random
from gen_jax import validation
from gen_jax.energy._rbm import check_binary


def _bernoulli_log_prob(logits: jax.Array, x: jax.Array) -> jax.Array:
  """Σ_j log Bern(x_j; σ(logits_j)) = Σ_j x_j·l_j − softplus(l_j) over the last axis."""
  return (x * logits - jax.nn.softplus(logits)).sum(-1)


def _bernoulli_draw(key: jax.Array, logits: jax.Array) -> jax.Array:
  """0/1 draws with P(1) = σ(logits) to float32 resolution (2⁻²³).

  Not `random.bernoulli`, whose 2⁻¹⁶ resolution draws a unit of probability 10⁻⁷ with
  probability 1.5·10⁻⁵: harmless in a Gibbs chain, but here log q(h | x) is evaluated
  exactly, and an importance weight must use the probability the draw was made with.
  """
  return jax.random.bernoulli(key, jax.nn.sigmoid(logits)).astype(jnp.float32)


def check_sbn_params(params) -> tuple[int, ...]:
  """Layer sizes (V, H_1, …, H_L) of SBN params, checked."""
  if not isinstance(params, dict) or set(params) != {"prior", "gen", "rec"}:
    got = sorted(params) if isinstance(params, dict) else type(params).__name__
    raise validation.ArgumentError(
        "params", f"params must be a dict with keys ['gen', 'prior', 'rec'], got {got}")
  gen, rec = params["gen"], params["rec"]
  if not gen or len(gen) != len(rec):
    raise validation.ArgumentError(
        "params", f"params['gen'] and params['rec'] must be equally long non-empty lists of "
        f"layers, got {len(gen)} and {len(rec)}")
  sizes = [gen[0]["W"].shape[1]] + [layer["W"].shape[0] for layer in gen]
  for l, (g, r) in enumerate(zip(gen, rec)):
    validation.check_shape(f"params['gen'][{l}]['W']", g["W"], (sizes[l + 1], sizes[l]))
    validation.check_shape(f"params['gen'][{l}]['b']", g["b"], (sizes[l],))
    validation.check_shape(f"params['rec'][{l}]['W']", r["W"], (sizes[l], sizes[l + 1]))
    validation.check_shape(f"params['rec'][{l}]['b']", r["b"], (sizes[l + 1],))
  validation.check_shape("params['prior']", params["prior"], (sizes[-1],))
  return tuple(sizes)


def sbn_init(key: jax.Array, sizes: Sequence[int], *, scale: float = 0.01) -> dict:
  """Parameters of an SBN with layer sizes (V, H_1, …, H_L): weights N(0, scale²), biases 0.

  Args:
    key: one PRNG key, typed or legacy.
    sizes: (V, H_1, ..., H_L), L >= 1 hidden layers, every size >= 1.
    scale: std of the initial weights.
  """
  key = validation.check_key("key", key)
  sizes = tuple(sizes)
  if len(sizes) < 2:
    raise validation.ArgumentError(
        "sizes", f"sizes must be (V, H_1, ..., H_L) with L >= 1, got {sizes}")
  for i, s in enumerate(sizes):
    validation.check_int(f"sizes[{i}]", s, low=1)
  keys = random.split(key, 2 * (len(sizes) - 1))
  gen, rec = [], []
  for l in range(len(sizes) - 1):
    gen.append({"W": scale * random.normal(keys[2 * l], (sizes[l + 1], sizes[l])),
                "b": jnp.zeros((sizes[l],), jnp.float32)})
    rec.append({"W": scale * random.normal(keys[2 * l + 1], (sizes[l], sizes[l + 1])),
                "b": jnp.zeros((sizes[l + 1],), jnp.float32)})
  return {"prior": jnp.zeros((sizes[-1],), jnp.float32), "gen": gen, "rec": rec}


def sbn_log_joint(params: dict, x: jax.Array, hs: Sequence[jax.Array]) -> jax.Array:
  """log p(x, h_1, …, h_L) = log p(h_L) + Σ_l log p(h_l | h_{l+1}), per example.

  Args:
    params: SBN params (see the module docstring).
    x: [..., V] binary data; hs: L arrays [..., H_l] of binary latents (same leading axes).
  Returns:
    [...] log-probabilities in nats.
  """
  sizes = check_sbn_params(params)
  if len(hs) != len(sizes) - 1:
    raise validation.ArgumentError(
        "hs", f"hs must hold {len(sizes) - 1} latent layers, got {len(hs)}")
  layers = [x] + list(hs)
  log_p = _bernoulli_log_prob(jnp.broadcast_to(params["prior"], layers[-1].shape), layers[-1])
  for l, g in enumerate(params["gen"]):
    log_p = log_p + _bernoulli_log_prob(layers[l + 1] @ g["W"] + g["b"], layers[l])
  return log_p


def sbn_posterior_sample(key: jax.Array, params: dict, x: jax.Array
                         ) -> tuple[list[jax.Array], jax.Array]:
  """h ~ q(h | x) layer by layer, with log q(h | x).

  Layer l uses `random.split(key, L)[l]`.

  Args:
    key: one PRNG key, typed or legacy.
    params: SBN params.
    x: [..., V] binary data.
  Returns:
    (hs: L arrays [..., H_l] float32 0/1, log_q: [...]).
  """
  key = validation.check_key("key", key)
  sizes = check_sbn_params(params)
  validation.check_shape("x", x, (None,) * (x.ndim - 1) + (sizes[0],))
  keys = random.split(key, len(params["rec"]))
  below, hs, log_q = x, [], 0.0
  for l, r in enumerate(params["rec"]):
    logits = below @ r["W"] + r["b"]
    h = _bernoulli_draw(keys[l], logits)
    log_q = log_q + _bernoulli_log_prob(logits, h)
    hs.append(h)
    below = h
  return hs, log_q


def _log_weights(key: jax.Array, params: dict, x: jax.Array, num_samples: int
                 ) -> tuple[jax.Array, jax.Array]:
  """[K, B] log p(x, h^k) and log q(h^k | x) for K posterior draws per example."""
  xs = jnp.broadcast_to(x, (num_samples,) + x.shape)
  hs, log_q = sbn_posterior_sample(key, params, xs)
  return sbn_log_joint(params, xs, hs), log_q


def sbn_log_likelihood(key: jax.Array, params: dict, x: jax.Array, *,
                       num_samples: int) -> jax.Array:
  """Importance-sampled log p(x) ≈ log (1/K) Σ_k p(x, h^k) / q(h^k | x), h^k ~ q(h | x).

  The K-sample importance-weighted bound (Burda et al. 2016): a stochastic lower bound in
  expectation that increases with K to log p(x) (nll_kind 'is').

  Args:
    key: one PRNG key, typed or legacy.
    params: SBN params.
    x: [B, V] binary data (checked when concrete).
    num_samples: K >= 1 importance samples per example.
  Returns:
    [B] estimates of log p(x) in nats.
  """
  key = validation.check_key("key", key)
  sizes = check_sbn_params(params)
  validation.check_shape("x", x, (None, sizes[0]))
  check_binary("x", x)
  num_samples = validation.check_int("num_samples", num_samples, low=1)
  log_p, log_q = _log_weights(key, params, x.astype(jnp.float32), num_samples)
  return jax.nn.logsumexp(log_p - log_q, axis=0) - math.log(num_samples)


def vimco_surrogate(key: jax.Array, params: dict, x: jax.Array, *,
                    num_samples: int) -> tuple[jax.Array, jax.Array]:
  """VIMCO's surrogate objective (Mnih & Rezende 2016, eqs. 5-10), per example.

  With K draws h^k ~ q(h | x), log-weights l_k = log p(x, h^k) − log q(h^k | x) and the
  bound L = log (1/K) Σ_k e^{l_k}, the learning signal of draw k is L − L_{−k}, where
  L_{−k} replaces e^{l_k} by the geometric mean of the others' weights,
  exp((1/(K−1)) Σ_{j≠k} l_j). The surrogate
      S = L + Σ_k stopgrad(L − L_{−k}) · (log q(h^k | x) − stopgrad(log q(h^k | x)))
  has value L and gradient Σ_k w̃_k ∇l_k + Σ_k (L − L_{−k}) ∇log q(h^k | x), VIMCO's
  unbiased estimate of ∇ E[L] (w̃ the normalized weights). Maximize it: minimize −S.

  Args:
    key: one PRNG key, typed or legacy.
    params: SBN params.
    x: [B, V] binary data (checked when concrete).
    num_samples: K >= 2 draws per example (the leave-one-out baseline needs two).
  Returns:
    (surrogate [B], bound [B]): equal values (the K-sample bound L); differentiate the
    surrogate, report the bound.
  """
  key = validation.check_key("key", key)
  sizes = check_sbn_params(params)
  validation.check_shape("x", x, (None, sizes[0]))
  check_binary("x", x)
  num_samples = validation.check_int("num_samples", num_samples, low=2)
  k = num_samples
  log_p, log_q = _log_weights(key, params, x.astype(jnp.float32), k)
  log_w = log_p - log_q                                            # [K, B]
  bound = jax.nn.logsumexp(log_w, axis=0) - math.log(k)
  lw = jax.lax.stop_gradient(log_w)
  # L_{-k}: draw k's weight replaced by the geometric mean of the other K − 1.
  others_mean = (lw.sum(0, keepdims=True) - lw) / (k - 1)
  eye = jnp.eye(k, dtype=bool)[:, :, None]                          # [K(k), K(j), 1]
  replaced = jnp.where(eye, others_mean[:, None, :], lw[None, :, :])  # [K, K, B]
  loo = jax.nn.logsumexp(replaced, axis=1) - math.log(k)             # [K, B]
  signal = jax.lax.stop_gradient(bound)[None] - loo
  surrogate = bound + (signal * (log_q - jax.lax.stop_gradient(log_q))).sum(0)
  return surrogate, bound


def sbn_sample(key: jax.Array, params: dict, num_samples: int) -> tuple[jax.Array, jax.Array]:
  """Ancestral samples x ~ p(x) and their means p(x = 1 | h_1).

  Layer draws use `random.split(key, L + 1)`: the top layer first, x last.

  Args:
    key: one PRNG key, typed or legacy.
    params: SBN params.
    num_samples: N >= 1.
  Returns:
    (x [N, V] float32 0/1, means [N, V] in (0, 1)).
  """
  key = validation.check_key("key", key)
  sizes = check_sbn_params(params)
  num_samples = validation.check_int("num_samples", num_samples, low=1)
  keys = random.split(key, len(sizes))
  h = _bernoulli_draw(keys[0], jnp.broadcast_to(params["prior"], (num_samples, sizes[-1])))
  means = None
  for i, g in enumerate(reversed(params["gen"])):
    logits = h @ g["W"] + g["b"]
    means = jax.nn.sigmoid(logits)
    h = _bernoulli_draw(keys[i + 1], logits)
  return h, means
