"""Unrolled GAN generator objective (Metz et al. 2017)."""

from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp
import optax

from gen_jax import validation

Array = chex.Array
Params = chex.ArrayTree
# d_loss_fn(d_params, g_params, batch, key) -> scalar (batch-mean discriminator loss)
DLossFn = Callable[[Params, Params, Any, chex.PRNGKey], Array]
# g_loss_fn(g_params, d_params, key) -> scalar (batch-mean generator loss)
GLossFn = Callable[[Params, Params, chex.PRNGKey], Array]


def unrolled_generator_loss(key: chex.PRNGKey, g_params: Params, d_params: Params,
                            d_opt_state: optax.OptState, d_batches: Any, *,
                            d_loss_fn: DLossFn, g_loss_fn: GLossFn,
                            d_optimizer: optax.GradientTransformation,
                            unroll_steps: int, d_has_aux: bool = False
                            ) -> tuple[Array, dict[str, Any]]:
  """Generator loss through K unrolled discriminator updates (Metz et al. 2017, Eq. 5–7).

    θ_D⁰ = θ_D,  θ_D^{k+1} = θ_D^k + optimizer_step(∇_{θ_D} d_loss(θ_D^k, θ_G)),
    f_K(θ_G, θ_D) = g_loss(θ_G, θ_D^K(θ_G, θ_D)).

  Differentiating the returned loss w.r.t. `g_params` back-propagates through all K
  updates (a `lax.scan` over the functional optax state, with *no* stop_gradient on the
  unrolled θ_D^k): that is the term which lets G anticipate D's reaction and spreads
  it over modes. With `unroll_steps=0` this is exactly `g_loss_fn(g_params, d_params,
  key)`.

  The *real* discriminator takes only the first of these updates; it is returned in
  `aux` (computed with `d_batches[0]` and the first step key) so the trainer can use it
  without recomputing: `(loss, aux), g_grads = jax.value_and_grad(
  unrolled_generator_loss, argnums=1, has_aux=True)(key, g, d, opt, batches, ...)`,
  then `d, opt = aux["d_params"], aux["d_opt_state"]` (when unroll_steps ≥ 1).

  "g_params" may be any differentiable pytree the D loss depends on. The GAN trainer
  passes the generator's *samples* x = G(z) [B, ...] (the D loss of every unrolled step
  and G's loss at θ_D^K all score the same samples, as in Metz et al.'s code), takes
  ∂f_K/∂x here and back-propagates it through G once (`jax.vjp`): K unrolled steps then
  cost K discriminator passes, not K generator passes.

  Second-order notes: the optimizer must be differentiable w.r.t. its inputs. For Adam
  (Metz et al. use it) set `eps_root > 0` (e.g. `optax.adam(1e-4, b1=0.5,
  eps_root=1e-8)`), otherwise d√ν/dν is infinite where a gradient is exactly 0. The
  discriminator must have no mutable state (no batch-norm statistics) in `d_loss_fn`.

  Args:
    key: PRNG key; split into K keys for the unrolled D losses and one for the G loss.
    g_params: generator params θ_G (differentiate w.r.t. this argument).
    d_params: discriminator params θ_D.
    d_opt_state: the discriminator optimizer's state for `d_params`.
    d_batches: pytree of data batches with a leading axis of size `unroll_steps` (the
      k-th D update uses slice k; broadcast one batch to reuse it, as in the paper's
      code). Ignored when unroll_steps = 0 (pass None).
    d_loss_fn: (d_params, g_params, batch, key) -> scalar discriminator loss.
    g_loss_fn: (g_params, d_params, key) -> scalar generator loss.
    d_optimizer: the discriminator's optax transformation.
    unroll_steps: K ≥ 0 (static).
    d_has_aux: d_loss_fn returns (loss, aux); the first step's aux is returned as
      aux["d_aux"].
  Returns:
    (loss, aux): scalar f_K and a dict with "d_loss" (D loss before its first step),
    "d_grad_norm" (global norm of its gradient), "d_params" and "d_opt_state" (after the
    first step; the inputs unchanged when K = 0, in which case the trainer must take its
    own D step), and "d_aux" with d_has_aux (None when K = 0).
  """
  unroll_steps = validation.check_int("unroll_steps", unroll_steps, low=0)
  g_key, d_key = jax.random.split(validation.check_key("key", key))
  if unroll_steps == 0:
    aux = {"d_loss": jnp.zeros(()), "d_grad_norm": jnp.zeros(()), "d_params": d_params,
           "d_opt_state": d_opt_state, "d_aux": None}
    return g_loss_fn(g_params, d_params, g_key), aux

  leading = {x.shape[0] for x in jax.tree.leaves(d_batches)}
  if leading != {unroll_steps}:
    raise validation.ArgumentError(
        "d_batches", f"every leaf of d_batches must have leading axis unroll_steps="
        f"{unroll_steps}, got leading sizes {sorted(leading)}")
  step_keys = jax.random.split(d_key, unroll_steps)

  def d_step(carry, inputs):
    params, opt_state = carry
    batch, step_key = inputs
    value, grads = jax.value_and_grad(d_loss_fn, has_aux=d_has_aux)(params, g_params, batch,
                                                                     step_key)
    updates, opt_state = d_optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return (params, opt_state), (value, grads)

  # The first step is peeled off the scan so that its result (the real D update) is
  # returned without stacking K copies of the params.
  first_inputs = (jax.tree.map(lambda x: x[0], d_batches), step_keys[0])
  (d1, s1), (value0, grads0) = d_step((d_params, d_opt_state), first_inputs)
  d_loss0, d_aux0 = value0 if d_has_aux else (value0, None)
  rest = (jax.tree.map(lambda x: x[1:], d_batches), step_keys[1:])

  def scan_step(carry, inputs):
    carry, _ = d_step(carry, inputs)
    return carry, None

  (d_k, _), _ = jax.lax.scan(scan_step, (d1, s1), rest)
  aux = {"d_loss": jax.lax.stop_gradient(d_loss0),
         "d_grad_norm": jax.lax.stop_gradient(optax.global_norm(grads0)),
         "d_aux": jax.lax.stop_gradient(d_aux0),
         "d_params": jax.lax.stop_gradient(d1),
         "d_opt_state": jax.lax.stop_gradient(s1)}
  return g_loss_fn(g_params, d_k, g_key), aux
