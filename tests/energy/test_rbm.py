"""gen_jax.energy._rbm and _ais: RBM energies, block Gibbs, CD/PCD gradients and partition
functions against NumPy enumeration (float64)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import energy
from gen_jax import training
from gen_jax import validation


def random_params(seed: int, num_visible: int, num_hidden: int, scale: float = 1.0) -> dict:
  keys = jax.random.split(jax.random.key(seed), 3)
  return {"W": scale * jax.random.normal(keys[0], (num_visible, num_hidden)),
          "b": 0.5 * jax.random.normal(keys[1], (num_visible,)),
          "c": 0.5 * jax.random.normal(keys[2], (num_hidden,))}


def all_states(n: int) -> np.ndarray:
  return np.array(list(itertools.product((0.0, 1.0), repeat=n)))


def np_params(params):
  return {k: np.asarray(v, np.float64) for k, v in params.items()}


def np_energy(p, v, h):
  return -(np.einsum("bi,ij,bj->b", v, p["W"], h) + v @ p["b"] + h @ p["c"])


def np_sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def np_log_partition_brute_force(p) -> float:
  """log Σ_v Σ_h exp(−E(v, h)), both layers enumerated."""
  vs, hs = all_states(p["W"].shape[0]), all_states(p["W"].shape[1])
  neg_e = -np_energy(p, np.repeat(vs, len(hs), 0), np.tile(hs, (len(vs), 1)))
  m = neg_e.max()
  return float(m + np.log(np.exp(neg_e - m).sum()))


def test_energy_and_free_energy_against_numpy():
  params = random_params(0, 5, 4)
  p = np_params(params)
  v = np.asarray(jax.random.bernoulli(jax.random.key(1), 0.5, (6, 5)), np.float32)
  h = np.asarray(jax.random.bernoulli(jax.random.key(2), 0.5, (6, 4)), np.float32)
  energy_fn = jax.jit(energy.rbm_energy)
  np.testing.assert_allclose(energy_fn(params, v, h), np_energy(p, v, h), rtol=1e-5, atol=1e-5)
  # F(v) = −log Σ_h exp(−E(v, h)), h enumerated.
  hs = all_states(4)
  reference = np.array([-np.log(np.exp(-np_energy(p, np.repeat(x[None], 16, 0), hs)).sum())
                        for x in v])
  np.testing.assert_allclose(jax.jit(energy.rbm_free_energy)(params, v), reference,
                             rtol=1e-5, atol=1e-5)


def test_gibbs_step_conditionals_by_monte_carlo():
  params = random_params(3, 4, 3)
  p = np_params(params)
  num = 20_000
  v = np.tile(np.array([[1.0, 0.0, 1.0, 1.0]], np.float32), (num, 1))
  step = jax.jit(energy.rbm_gibbs_step)
  v_new, h = map(np.asarray, step(jax.random.key(4), params, v))
  assert v_new.shape == (num, 4) and h.shape == (num, 3)
  p_h = np_sigmoid(p["c"] + v[0] @ p["W"])
  # Marginal of v' given v: Σ_h p(h | v) σ(b + W h), h enumerated.
  hs = all_states(3)
  weights = np.prod(np.where(hs == 1, p_h, 1 - p_h), axis=1)
  p_v = weights @ np_sigmoid(p["b"] + hs @ p["W"].T)
  for empirical, exact in ((h.mean(0), p_h), (v_new.mean(0), p_v)):
    # iid draws: binomial standard error, plus the 2⁻¹⁶ resolution of random.bernoulli.
    tol = 5 * np.sqrt(exact * (1 - exact) / num) + 2.0**-16
    assert (np.abs(empirical - exact) < tol).all(), (empirical, exact)
  # Conditioned on the returned h, v' has mean σ(b + W h): check on the most common h.
  codes = h @ (2 ** np.arange(3))
  common = codes == np.bincount(codes.astype(int)).argmax()
  exact = np_sigmoid(p["b"] + h[common][0] @ p["W"].T)
  tol = 5 * np.sqrt(exact * (1 - exact) / common.sum()) + 2.0**-16
  assert (np.abs(v_new[common].mean(0) - exact) < tol).all()


@pytest.mark.parametrize("num_visible, num_hidden", [(5, 3), (3, 7), (8, 8), (1, 1)])
def test_exact_log_partition_against_double_enumeration(num_visible, num_hidden):
  params = random_params(5, num_visible, num_hidden)
  np.testing.assert_allclose(jax.jit(energy.rbm_exact_log_partition)(params),
                             np_log_partition_brute_force(np_params(params)), rtol=1e-5)


@pytest.mark.parametrize("num_visible, num_hidden", [(14, 14), (15, 13)])
def test_exact_log_partition_over_several_chunks(num_visible, num_hidden):
  # The library enumerates the smaller layer in chunks of 4096; NumPy sums the other one.
  params = random_params(6, num_visible, num_hidden, scale=0.3)
  p = np_params(params)
  if num_visible <= num_hidden:
    hs = all_states(num_hidden)
    neg_f = hs @ p["c"] + np.logaddexp(0, hs @ p["W"].T + p["b"]).sum(1)
  else:
    vs = all_states(num_visible)
    neg_f = vs @ p["b"] + np.logaddexp(0, vs @ p["W"] + p["c"]).sum(1)
  reference = neg_f.max() + np.log(np.exp(neg_f - neg_f.max()).sum())
  np.testing.assert_allclose(jax.jit(energy.rbm_exact_log_partition)(params), reference,
                             rtol=1e-5)


def test_exact_log_partition_refuses_more_than_20_units():
  params = {"W": jnp.zeros((21, 22)), "b": jnp.zeros(21), "c": jnp.zeros(22)}
  with pytest.raises(validation.ArgumentError, match="at most 20 units.*V=21, H=22"):
    energy.rbm_exact_log_partition(params)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ais_against_exact_log_partition(seed):
  params = random_params(10 + seed, 12, 6)
  exact = float(energy.rbm_exact_log_partition(params))
  ais = jax.jit(lambda key, p: energy.ais_log_partition(key, p, num_chains=256,
                                                        num_betas=300))
  log_z, std_err = map(float, ais(jax.random.key(seed), params))
  # Within 4 standard errors, plus 0.02 nats for AIS's downward bias at 300 temperatures.
  assert abs(log_z - exact) < 4 * std_err + 0.02, (log_z, exact, std_err)
  assert 0 < std_err < 0.1


def test_ais_with_a_base_visible_bias_and_the_base_itself():
  # W = 0 and the target's bias equal to the base's: every weight is exactly 1.
  base = jnp.array([0.5, -1.0, 2.0])
  params = {"W": jnp.zeros((3, 2)), "b": base, "c": jnp.zeros(2)}
  log_z, std_err = energy.ais_log_partition(jax.random.key(0), params, num_chains=8,
                                            num_betas=5, base_visible_bias=base)
  np.testing.assert_allclose(log_z, energy.rbm_exact_log_partition(params), rtol=1e-6)
  assert float(std_err) == 0.0


def test_gradients_are_the_free_energy_difference_on_the_chain_samples():
  params = random_params(7, 6, 4)
  p = np_params(params)
  v_data = np.asarray(jax.random.bernoulli(jax.random.key(8), 0.5, (10, 6)), np.float32)
  chains = np.asarray(jax.random.bernoulli(jax.random.key(9), 0.5, (7, 6)), np.float32)
  grads, new_chains = jax.jit(energy.pcd_gradients, static_argnames="k")(
      jax.random.key(10), params, v_data, chains, k=1)
  new_chains = np.asarray(new_chains, np.float64)
  assert new_chains.shape == chains.shape
  assert jax.tree.structure(grads) == jax.tree.structure(params)

  def free_energy_gradient(v):   # ∂F/∂(W, b, c), averaged over the rows of v
    q = np_sigmoid(v @ p["W"] + p["c"])
    return {"W": -v.T @ q / len(v), "b": -v.mean(0), "c": -q.mean(0)}
  data, model = free_energy_gradient(v_data), free_energy_gradient(new_chains)
  for name in ("W", "b", "c"):
    np.testing.assert_allclose(grads[name], data[name] - model[name], rtol=1e-5, atol=1e-6)
  # CD-k is PCD-k with the chains restarted at the data.
  cd = jax.jit(energy.cd_gradients, static_argnames="k")(jax.random.key(10), params, v_data,
                                                         k=2)
  pcd, _ = energy.pcd_gradients(jax.random.key(10), params, v_data, v_data, k=2)
  for name in ("W", "b", "c"):
    np.testing.assert_allclose(cd[name], pcd[name], rtol=1e-6, atol=1e-7)


def test_cd1_gradient_signs_and_shapes():
  # From zero parameters on all-ones data, descending the gradient raises every bias and
  # weight toward the data: the gradients are negative.
  params = {"W": jnp.zeros((5, 3)), "b": jnp.zeros(5), "c": jnp.zeros(3)}
  grads = energy.cd_gradients(jax.random.key(0), params, jnp.ones((256, 5)))
  assert {k: v.shape for k, v in grads.items()} == {"W": (5, 3), "b": (5,), "c": (3,)}
  assert (grads["b"] < 0).all() and (grads["W"] < 0).all()
  np.testing.assert_allclose(grads["c"], 0.0, atol=1e-6)   # σ(0) for data and samples alike


def test_pcd_training_with_apply_gradients_lowers_the_exact_nll():
  num_visible, num_hidden = 6, 4
  # Data: two prototypes with 5% bit flips.
  protos = jnp.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], jnp.float32)
  keys = jax.random.split(jax.random.key(0), 2)
  rows = protos[jax.random.bernoulli(keys[0], 0.5, (512,)).astype(jnp.int32)]
  data = jnp.abs(rows - jax.random.bernoulli(keys[1], 0.05, rows.shape))
  params = {"W": 0.01 * jax.random.normal(jax.random.key(1), (num_visible, num_hidden)),
            "b": jnp.zeros(num_visible), "c": jnp.zeros(num_hidden)}
  state = training.TrainState.create({"model": params}, {"model": optax.adam(0.01)},
                                     extra={"chains": data[:64]})

  def nll(params):
    return (energy.rbm_free_energy(params, data) + energy.rbm_exact_log_partition(params)).mean()

  @jax.jit
  def step(state, key):
    batch = data[jax.random.randint(key, (64,), 0, len(data))]
    grads, chains = energy.pcd_gradients(jax.random.fold_in(key, 1), state.params["model"],
                                         batch, state.extra["chains"])
    state, _ = training.apply_gradients(state, "model", grads)
    return state.replace(extra={"chains": chains})

  before = float(nll(state.params["model"]))
  for i in range(300):
    state = step(state, jax.random.fold_in(jax.random.key(2), i))
  after = float(nll(state.params["model"]))
  # Uniform start: 6 log 2 = 4.16 nats; the data's entropy is log 2 + 6 H(0.05) = 1.89 nats.
  # (PCD with Adam at 0.05 oscillates on this problem: its chains lag the moving model.)
  assert before > 4.1 and after < 2.3, (before, after)


def test_typed_and_legacy_keys_give_identical_outputs():
  params = random_params(11, 6, 5)
  v = jnp.asarray(jax.random.bernoulli(jax.random.key(12), 0.5, (8, 6)), jnp.float32)
  functions = {
      "gibbs": jax.jit(lambda key: energy.rbm_gibbs_step(key, params, v)),
      "cd": jax.jit(lambda key: energy.cd_gradients(key, params, v, k=2)),
      "pcd": jax.jit(lambda key: energy.pcd_gradients(key, params, v, v[:3])),
      "ais": jax.jit(lambda key: energy.ais_log_partition(key, params, num_chains=4,
                                                          num_betas=6)),
  }
  for name, fn in functions.items():
    typed, legacy = fn(jax.random.key(13)), fn(jax.random.PRNGKey(13))
    for a, b in zip(jax.tree.leaves(typed), jax.tree.leaves(legacy)):
      np.testing.assert_array_equal(a, b, err_msg=name)


def test_bad_arguments_name_themselves():
  params = random_params(0, 4, 3)
  key = jax.random.key(0)
  v = jnp.zeros((2, 4))
  cases = [
      (lambda: energy.rbm_energy(params, jnp.zeros((2, 5)), jnp.zeros((2, 3))), "v", r"\[\*, 4\]"),
      (lambda: energy.rbm_energy(params, v, jnp.zeros((3, 3))), "v", "leading"),
      (lambda: energy.rbm_free_energy({"W": params["W"]}, v), "params", "keys"),
      (lambda: energy.rbm_free_energy({**params, "c": jnp.zeros(4)}, v), "params['c']", r"\[3\]"),
      (lambda: energy.rbm_gibbs_step(jnp.zeros(2), params, v), "key", "PRNG"),
      (lambda: energy.cd_gradients(key, params, v, k=0), "k", ">= 1"),
      (lambda: energy.pcd_gradients(key, params, v, jnp.zeros((3, 2))), "chains", r"\[\*, 4\]"),
      (lambda: energy.cd_gradients(key, params, v + 0.5), "v_data", "binary"),
      (lambda: energy.pcd_gradients(key, params, v.at[0, 1].set(-1.0), v), "v_data",
       "1 of 8 values outside"),
      (lambda: energy.ais_log_partition(key, params, num_chains=4, num_betas=1), "num_betas",
       ">= 2"),
      (lambda: energy.ais_log_partition(key, params, num_chains=0, num_betas=3), "num_chains",
       ">= 1"),
      (lambda: energy.ais_log_partition(key, params, num_chains=2, num_betas=3,
                                        base_visible_bias=jnp.zeros(3)),
       "base_visible_bias", r"\[4\]"),
  ]
  for call, argument, message in cases:
    with pytest.raises(validation.ArgumentError, match=message) as info:
      call()
    assert info.value.argument == argument
