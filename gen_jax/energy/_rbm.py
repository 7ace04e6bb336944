"""Restricted Boltzmann machines with binary visible and hidden units.

E(v, h) = −vᵀWh − bᵀv − cᵀh,  p(v, h) = exp(−E(v, h)) / Z  (Smolensky 1986; Hinton 2002).
The hidden units are conditionally independent given v, and the visible given h:
p(h_j = 1 | v) = σ(c_j + (vW)_j),  p(v_i = 1 | h) = σ(b_i + (Wh)_i),
and summing h out analytically gives the free energy
F(v) = −bᵀv − Σ_j softplus(c_j + (vW)_j),  p(v) = exp(−F(v)) / Z.

Parameters are a dict {"W": [V, H], "b": [V], "c": [H]}, the structure the gradient
functions return, so optax and `training.apply_gradients` take them as they are.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import random
from gen_jax import validation

# Enumerations above 2**20 states are refused: ~10⁶ states × the other layer's width is
# already seconds of work, and anything larger should use `ais_log_partition`.
MAX_ENUMERATED_UNITS = 20
# States per chunk of the enumeration (bounds memory at CHUNK × max(V, H) floats).
_CHUNK = 4096


def check_params(params) -> tuple[int, int]:
  """{"W": [V, H], "b": [V], "c": [H]} floats; returns (V, H)."""
  if not isinstance(params, dict) or set(params) != {"W", "b", "c"}:
    got = sorted(params) if isinstance(params, dict) else type(params).__name__
    raise validation.ArgumentError(
        "params", f"params must be a dict with keys ['W', 'b', 'c'], got {got}")
  validation.check_rank("params['W']", params["W"], 2, "[V, H]")
  num_visible, num_hidden = params["W"].shape
  validation.check_shape("params['b']", params["b"], (num_visible,))
  validation.check_shape("params['c']", params["c"], (num_hidden,))
  for name in ("W", "b", "c"):
    validation.check_dtype(f"params['{name}']", params[name], "float")
  return num_visible, num_hidden


def check_binary(name: str, x) -> None:
  """ArgumentError naming `name` unless the *concrete* array x holds only 0s and 1s.

  Traced arrays (under jit) are not checked: their values are unknown at trace time.
  """
  try:
    values = np.asarray(x)
  except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
    return
  bad = (values != 0) & (values != 1)
  if bad.any():
    raise validation.ArgumentError(
        name, f"{name} must be binary (0/1) for a binary model, got {int(bad.sum())} of "
        f"{values.size} values outside {{0, 1}} (e.g. {values[bad].flat[0]!r}); binarize "
        "it first (e.g. dataset 'binarized_mnist', or data.fixed_binarize)")


def rbm_energy(params: dict, v: jax.Array, h: jax.Array) -> jax.Array:
  """E(v, h) = −vᵀWh − bᵀv − cᵀh per example.

  Args:
    params: {"W": [V, H], "b": [V], "c": [H]}.
    v: [B, V] visible states (0/1; any reals are accepted).
    h: [B, H] hidden states.
  Returns:
    [B] energies.
  """
  num_visible, num_hidden = check_params(params)
  validation.check_shape("v", v, (None, num_visible))
  validation.check_shape("h", h, (None, num_hidden))
  validation.check_leading(("v", "h"), (v, h))
  return -(jnp.einsum("bi,ij,bj->b", v, params["W"], h) + v @ params["b"] + h @ params["c"])


def rbm_free_energy(params: dict, v: jax.Array) -> jax.Array:
  """F(v) = −log Σ_h exp(−E(v, h)) = −bᵀv − Σ_j softplus(c_j + (vW)_j) per example.

  Args:
    params: {"W": [V, H], "b": [V], "c": [H]}.
    v: [B, V] visible states.
  Returns:
    [B] free energies (log p(v) = −F(v) − log Z).
  """
  num_visible, _ = check_params(params)
  validation.check_shape("v", v, (None, num_visible))
  return -(v @ params["b"]) - jax.nn.softplus(v @ params["W"] + params["c"]).sum(-1)


def _hidden_free_energy(params: dict, h: jax.Array) -> jax.Array:
  """The free energy of the hidden layer, −cᵀh − Σ_i softplus(b_i + (Wh)_i), [B]."""
  return -(h @ params["c"]) - jax.nn.softplus(h @ params["W"].T + params["b"]).sum(-1)


def rbm_gibbs_step(key: jax.Array, params: dict, v: jax.Array) -> tuple[jax.Array, jax.Array]:
  """One block Gibbs step: h ~ p(h | v), then v' ~ p(v | h).

  Draws use `random.bernoulli` (probabilities resolved to 2⁻¹⁶) with the two halves of
  `random.split(key)`.

  Args:
    key: one PRNG key, typed or legacy (same draws).
    params: {"W": [V, H], "b": [V], "c": [H]}.
    v: [B, V] visible states.
  Returns:
    (v' [B, V], h [B, H]), float32 0/1.
  """
  key = validation.check_key("key", key)
  num_visible, _ = check_params(params)
  validation.check_shape("v", v, (None, num_visible))
  key_h, key_v = random.split(key)
  h = random.bernoulli(key_h, jax.nn.sigmoid(v @ params["W"] + params["c"]))
  v = random.bernoulli(key_v, jax.nn.sigmoid(h @ params["W"].T + params["b"]))
  return v, h


def _gibbs_chain(key: jax.Array, params: dict, v: jax.Array, k: int) -> jax.Array:
  def body(v, t):
    v, _ = rbm_gibbs_step(random.fold_in(key, t), params, v)
    return v, None
  v, _ = jax.lax.scan(body, v, jnp.arange(k))
  return v


def _free_energy_gradients(params: dict, v_data: jax.Array, v_model: jax.Array) -> dict:
  """∇ [mean F(v_data) − mean F(v_model)], the samples held fixed (Hinton 2002, eq. 5)."""
  v_model = jax.lax.stop_gradient(v_model)

  def objective(p):
    return rbm_free_energy(p, v_data).mean() - rbm_free_energy(p, v_model).mean()
  return jax.grad(objective)(params)


def cd_gradients(key: jax.Array, params: dict, v_data: jax.Array, *, k: int = 1) -> dict:
  """Contrastive divergence CD-k (Hinton 2002): gradients of the negative log-likelihood
  estimate mean F(v_data) − mean F(v_k), where v_k is k block Gibbs steps from the data.

  −∇ log p(v) = ∇F(v) − E_model[∇F]; CD-k replaces the model expectation by the chain's
  samples (stop-gradient). Step t of the chain uses `random.fold_in(key, t)`.

  Args:
    key: one PRNG key, typed or legacy.
    params: {"W": [V, H], "b": [V], "c": [H]}.
    v_data: [B, V] a batch of binary data (checked when concrete: ArgumentError naming
      v_data for a value other than 0 or 1).
    k: Gibbs steps (>= 1).
  Returns:
    gradients with the structure of `params` (descend them: optax, `apply_gradients`).
  """
  key = validation.check_key("key", key)
  num_visible, _ = check_params(params)
  validation.check_shape("v_data", v_data, (None, num_visible))
  k = validation.check_int("k", k, low=1)
  check_binary("v_data", v_data)
  v_model = _gibbs_chain(key, params, v_data.astype(jnp.float32), k)
  return _free_energy_gradients(params, v_data, v_model)


def pcd_gradients(key: jax.Array, params: dict, v_data: jax.Array, chains: jax.Array, *,
                  k: int = 1) -> tuple[dict, jax.Array]:
  """Persistent contrastive divergence (Tieleman 2008): like `cd_gradients`, but the
  negative samples come from persistent chains advanced k steps from their last state.

  Keep the chains in the train state's `extra` and pass the returned ones next step.

  Args:
    key: one PRNG key, typed or legacy.
    params: {"W": [V, H], "b": [V], "c": [H]}.
    v_data: [B, V] a batch of binary data (checked when concrete, as in `cd_gradients`).
    chains: [N, V] the persistent chains' visible states (N need not equal B).
    k: Gibbs steps per update (>= 1).
  Returns:
    (gradients with the structure of `params`, new chains [N, V]).
  """
  key = validation.check_key("key", key)
  num_visible, _ = check_params(params)
  validation.check_shape("v_data", v_data, (None, num_visible))
  validation.check_shape("chains", chains, (None, num_visible))
  k = validation.check_int("k", k, low=1)
  check_binary("v_data", v_data)
  chains = _gibbs_chain(key, params, chains.astype(jnp.float32), k)
  return _free_energy_gradients(params, v_data, chains), chains


def _binary_states(start: jax.Array, num: int, width: int) -> jax.Array:
  """Rows start, ..., start + num − 1 as [num, width] float32 bits (bit i of the index)."""
  index = start + jnp.arange(num, dtype=jnp.int32)
  return ((index[:, None] >> jnp.arange(width, dtype=jnp.int32)) & 1).astype(jnp.float32)


def rbm_exact_log_partition(params: dict) -> jax.Array:
  """log Z by enumeration over the smaller layer, summing the other out analytically:
  log Z = logsumexp_v −F(v) (V <= H) or logsumexp_h −F(h) (H < V).

  The 2^min(V, H) states are enumerated in chunks of 4096 with a running logsumexp, so
  memory stays at one chunk.

  Args:
    params: {"W": [V, H], "b": [V], "c": [H]} with min(V, H) <= 20.
  Returns:
    float32 scalar log Z.
  Raises:
    ArgumentError: naming params, when both layers have more than 20 units.
  """
  num_visible, num_hidden = check_params(params)
  width = min(num_visible, num_hidden)
  if width > MAX_ENUMERATED_UNITS:
    raise validation.ArgumentError(
        "params", f"params must have a layer of at most {MAX_ENUMERATED_UNITS} units for exact "
        f"enumeration (2^units states), got V={num_visible}, H={num_hidden}; use "
        "ais_log_partition")
  if num_visible <= num_hidden:
    neg_free_energy = lambda x: -rbm_free_energy(params, x)
  else:
    neg_free_energy = lambda x: -_hidden_free_energy(params, x)
  total = 2**width
  chunk = min(_CHUNK, total)
  num_chunks = total // chunk

  def body(carry, i):
    values = neg_free_energy(_binary_states(i * chunk, chunk, width))
    return jnp.logaddexp(carry, jax.nn.logsumexp(values)), None

  log_z, _ = jax.lax.scan(body, jnp.float32(-jnp.inf), jnp.arange(num_chunks))
  return log_z
