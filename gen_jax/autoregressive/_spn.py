"""Sum-product networks over binary variables with a random region graph (RAT-SPN: Peharz
et al., 2019, "Random Sum-Product Networks: A Simple and Effective Approach to
Probabilistic Deep Learning"; SPNs: Poon & Domingos, 2011).

Structure. Each of R repetitions permutes the D variables and splits them recursively in
two, L times: 2^L leaf regions (variable r-th of the permutation goes to region r mod 2^L),
each holding I factorized input distributions Π_{v ∈ region} Bernoulli(x_v; σ(θ_{v,i})).
Going up, sibling regions are multiplied (every pair of their channels: a product node,
decomposable since the regions are disjoint), and each merged region holds S sum nodes, a
softmax-weighted mixture of its K² products (smooth: all children have the same scope).
The root mixes the R K² products of the top split of every repetition. Evaluated in the
log domain: products add, sums are log-sum-exps.

Inference is exact and takes one pass:
- marginals: a leaf of an unobserved variable is Σ_x Bernoulli(x) = 1 (log 0), so
  p(x_e) = Σ_{x_q} p(x_e, x_q) in one pass;
- conditionals: log p(x_q | x_e) = log p(x_q, x_e) − log p(x_e);
- sampling (ancestral, or conditional on x_e): each sum node picks child k with probability
  ∝ w_k p_k(x_e) (Gumbel-max on the log values of the evidence pass), the picks are followed
  from the root, and the selected leaves draw the unobserved variables;
- MPE (most probable explanation, Poon & Domingos section 4): the max-product network
  (sums replaced by maxes, unobserved leaves by max_x Bernoulli(x)), its arg-max tree and
  each selected leaf's mode.
The tree a pass selects is read off by differentiating the selected path's value with
respect to the leaves' log values (a 0/1 indicator per leaf).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import random
from gen_jax import validation
from gen_jax.autoregressive._likelihood import check_data


@functools.lru_cache(maxsize=64)
def _region_slots(num_dims: int, depth: int, repetitions: int, seed: int) -> np.ndarray:
  """The random region graphs: variable t of repetition r's permutation goes to leaf region
  t mod 2^L, slot t // 2^L. Concrete even under a trace (a fixed function of the seed)."""
  regions = 2 ** depth
  per_region = -(-num_dims // regions)
  slots = np.full((repetitions, regions, per_region), -1, np.int64)
  with jax.ensure_compile_time_eval():
    key = jax.random.key(seed)
    for r in range(repetitions):
      perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, r), num_dims))
      for t, v in enumerate(perm):
        slots[r, t % regions, t // regions] = v
  slots = slots.reshape(repetitions, -1)
  slots.flags.writeable = False
  return slots


class SPN(nn.Module):
  """A random region-graph SPN with Bernoulli leaves.

  Attributes:
    num_dims: D binary variables (the input is [B, D] or [B, ...] with D values).
    depth: L >= 1, the number of recursive splits (2^L leaf regions, 2^L <= D).
    num_repetitions: R random region graphs under the root.
    num_sums: S sum nodes per internal region.
    num_inputs: I input distributions per leaf region.
    structure_seed: seed of the random permutations (a fixed function of it).
  Call:
    x: [B, ...] in {0, 1}; observed: optional bool [B, D] or [D] (False: marginalized out).
    Returns log p(x_observed) [B] in nats, exact.
  """
  num_dims: int
  depth: int = 2
  num_repetitions: int = 4
  num_sums: int = 8
  num_inputs: int = 8
  structure_seed: int = 0

  def _slots(self) -> np.ndarray:
    """[R, 2^L * c] variable at each leaf slot (slot j * c + k: region j), -1 for padding."""
    return _region_slots(self.num_dims, self.depth, self.num_repetitions, self.structure_seed)

  def setup(self):
    validation.check_int("num_dims", self.num_dims, low=2)
    validation.check_int("depth", self.depth, low=1)
    if 2 ** self.depth > self.num_dims:
      raise validation.ArgumentError("depth", f"depth must satisfy 2**depth <= num_dims "
                                     f"({self.num_dims}), got {self.depth}")
    validation.check_int("num_repetitions", self.num_repetitions, low=1)
    validation.check_int("num_sums", self.num_sums, low=1)
    validation.check_int("num_inputs", self.num_inputs, low=1)
    r, slots = self.num_repetitions, self._slots()
    self.leaf_logits = self.param("leaf_logits", nn.initializers.normal(1.0),
                                  (r, slots.shape[1], self.num_inputs))
    weights, k = [], self.num_inputs
    for level in range(self.depth - 1, 0, -1):  # regions after merging: 2^level
      weights.append(self.param(f"sum_{level}", nn.initializers.normal(0.5),
                                (r, 2 ** level, self.num_sums, k * k)))
      k = self.num_sums
    self.sum_logits = weights
    self.root_logits = self.param("root_logits", nn.initializers.normal(0.5), (r * k * k,))

  # -- the passes ------------------------------------------------------------------------

  def _gather(self, x: jax.Array, observed: jax.Array):
    """x, observed [B, D] -> at the leaf slots [B, R, P] (padding: unobserved)."""
    slots = self._slots()
    idx = jnp.asarray(np.maximum(slots, 0))
    valid = jnp.asarray(slots >= 0)
    return x[:, idx], observed[:, idx] & valid

  def _leaves(self, x, observed, mode):
    """Per-slot log values [B, R, P, I]: log Bernoulli(x_v) for observed variables; for
    unobserved ones 0 (marginalized) or, in the max-product pass, max_x log Bernoulli(x)."""
    xs, obs = self._gather(x, observed)
    theta = self.leaf_logits[None]
    ll = xs[..., None] * theta - jax.nn.softplus(theta)
    hidden = -jax.nn.softplus(-jnp.abs(theta)) if mode == "max" else jnp.zeros_like(ll)
    return jnp.where(obs[..., None], ll, hidden)

  def _leaf_regions(self, slot_values):
    """[B, R, P, I] per-slot log values -> [B, R, 2^L, I] leaf-region log values."""
    b, r = slot_values.shape[:2]
    return slot_values.reshape(b, r, 2 ** self.depth, -1, self.num_inputs).sum(3)

  def _pass(self, leaf, mode, noise=None):
    """The network above the leaf regions. Returns (root log value [B], selected path [B]):
    the second is the sum of the leaf-region values on the tree the sum nodes pick
    (argmax of log w + child value, + Gumbel noise when sampling); its gradient with
    respect to `leaf` is the 0/1 indicator of the selected leaves."""
    b, r = leaf.shape[:2]

    def select(logw, children, path, level_noise):
      scores = logw + children
      if level_noise is not None:
        scores = scores + level_noise
      choice = jax.lax.stop_gradient(jnp.argmax(scores, axis=-1))
      reduce = jnp.max if mode == "max" else jax.nn.logsumexp
      value = reduce(logw + children, axis=-1)
      picked = jnp.take_along_axis(path, choice[..., None], -1)[..., 0]
      return value, picked

    value, path = leaf, leaf
    for i, level in enumerate(range(self.depth - 1, -1, -1)):
      # Products of sibling regions: every pair of their channels.
      prod = lambda v: (v[:, :, 0::2, :, None] + v[:, :, 1::2, None, :]).reshape(
          b, r, 2 ** level, -1)
      value, path = prod(value), prod(path)
      if level == 0:
        break
      logw = jax.nn.log_softmax(self.sum_logits[i], axis=-1)[None]       # [1, R, n, S, K²]
      value, path = select(logw, value[:, :, :, None, :], path[:, :, :, None, :],
                           None if noise is None else noise[i])
    logw = jax.nn.log_softmax(self.root_logits)
    return select(logw, value.reshape(b, -1), path.reshape(b, -1),
                  None if noise is None else noise[-1])

  def _check(self, x, observed):
    validation.check_min_rank("x", x, 2, "[B, ...]")
    flat = jnp.asarray(x).reshape(x.shape[0], -1).astype(jnp.float32)
    validation.check_shape("x (flattened)", flat, (None, self.num_dims))
    if observed is None:
      observed = jnp.ones(flat.shape, bool)
    else:
      observed = jnp.broadcast_to(jnp.asarray(observed, bool).reshape(
          (-1, self.num_dims) if jnp.ndim(observed) > 1 else (self.num_dims,)), flat.shape)
    return flat, observed

  def __call__(self, x: jax.Array, labels=None, *, key=None, train: bool = False,
               observed: jax.Array | None = None) -> jax.Array:
    del labels, key, train
    check_data(x, distribution="bernoulli")
    flat, observed = self._check(x, observed)
    return self._pass(self._leaf_regions(self._leaves(flat, observed, "sum")), "sum")[0]

  def complete(self, x: jax.Array, observed: jax.Array, *, key: jax.Array | None = None,
               mode: str = "sample") -> jax.Array:
    """Fills in the unobserved variables: a draw from p(x_q | x_e) (`mode='sample'`, `key`
    required; with nothing observed, an ancestral sample) or the max-product MPE
    (`mode='mpe'`). Observed variables are returned unchanged. [B, ...] float32."""
    validation.check_choice("mode", mode, ("sample", "mpe"))
    flat, observed = self._check(x, observed)
    b, r = flat.shape[0], self.num_repetitions
    pass_mode = "max" if mode == "mpe" else "sum"
    leaf = self._leaf_regions(self._leaves(flat, observed, pass_mode))
    noise = None
    if mode == "sample":
      if key is None:
        raise validation.ArgumentError("key", "key must be a PRNG key when mode='sample', "
                                       "got None")
      key = validation.check_key("key", key)
      k_sum, k_leaf = jax.random.split(key)
      shapes, k = [], self.num_inputs
      for level in range(self.depth - 1, 0, -1):
        shapes.append((b, r, 2 ** level, self.num_sums, k * k))
        k = self.num_sums
      shapes.append((b, r * k * k))
      keys = jax.random.split(k_sum, len(shapes))
      noise = [jax.random.gumbel(kk, s) for kk, s in zip(keys, shapes)]
    selected = jax.grad(lambda v: self._pass(v, pass_mode, noise)[1].sum())(leaf)  # 0/1
    slots = self._slots()
    per_region = slots.shape[1] // (2 ** self.depth)
    sel = jnp.repeat(selected[:, :, :, None, :], per_region, 3).reshape(
        b, r, slots.shape[1], self.num_inputs)                          # [B, R, P, I]
    theta = self.leaf_logits[None]
    if mode == "mpe":
      value = (theta > 0).astype(jnp.float32)
    else:
      u = jax.random.uniform(k_leaf, (b, self.num_dims))
      us = u[:, jnp.asarray(np.maximum(slots, 0))][..., None]
      value = (us < jax.nn.sigmoid(theta)).astype(jnp.float32)
    valid = jnp.asarray(slots >= 0)[None, :, :, None]
    contrib = jnp.where(valid, sel * value, 0.0)
    filled = jnp.zeros((b, self.num_dims), jnp.float32).at[
        :, jnp.asarray(np.maximum(slots, 0)).reshape(-1)].add(
            contrib.sum(-1).reshape(b, -1))
    return jnp.where(observed, flat, filled).reshape(x.shape)

  def max_product(self, x: jax.Array, observed: jax.Array | None = None) -> jax.Array:
    """log value of the max-product network at x (unobserved leaves maximized), [B]: the
    probability of the best induced tree, what MPE maximizes."""
    flat, observed = self._check(x, observed)
    return self._pass(self._leaf_regions(self._leaves(flat, observed, "max")), "max")[0]


def spn_sample(key: jax.Array, model: SPN, params, num: int) -> jax.Array:
  """num ancestral samples, float32 [num, D] in {0, 1}."""
  validation.check_int("num", num, low=1)
  x = jnp.zeros((num, model.num_dims), jnp.float32)
  observed = jnp.zeros((model.num_dims,), bool)
  return model.apply(params, x, observed, key=random.as_key(key), method=SPN.complete)


def spn_complete(model: SPN, params, x: jax.Array, observed: jax.Array, *,
                 key: jax.Array | None = None, mode: str = "mpe") -> jax.Array:
  """Completion of the unobserved part of x ([B, ...], observed bool [B, D] or [D]): the
  max-product MPE (`mode='mpe'`) or a draw from p(x_unobserved | x_observed)
  (`mode='sample'`, `key` required)."""
  return model.apply(params, x, observed, key=key, mode=mode, method=SPN.complete)


def spn_log_prob(model: SPN, params, x: jax.Array, observed: jax.Array | None = None,
                 given: jax.Array | None = None) -> jax.Array:
  """Exact log p(x_observed) [B] (all of x when observed is None); with `given` (bool, the
  evidence, a subset of observed), the conditional log p(x_observed∖given | x_given)."""
  joint = model.apply(params, x, observed=observed)
  if given is None:
    return joint
  return joint - model.apply(params, x, observed=given)
