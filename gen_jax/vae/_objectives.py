"""VAE objectives built on a model's `elbo_terms`: β-ELBO, free bits, IWAE, log p(x)."""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from gen_jax import losses
from gen_jax import random
from gen_jax import validation

Array = jax.Array
# log_weight_fn(key) -> [B] log p(x, z) − log q(z | x) for one z ~ q(z | x) per example.
LogWeightFn = Callable[[Array], Array]


def negative_elbo(terms: dict[str, Array], *, beta: float | Array = 1.0,
                  free_bits: float = 0.0) -> tuple[Array, dict[str, Array]]:
  """−ELBO_β = −E_q log p(x|z) + β·KL (Higgins et al. 2017), optionally with free bits.

  Args:
    terms: a model's `elbo_terms` output (recon_ll [B], kl [B], kl_per_dim [B, D]).
    beta: KL weight; a warm-up schedule passes a traced value here.
    free_bits: λ nats per latent dimension (Kingma et al. 2016); applies to the
      `kl_per_dim` part of the KL, any other KL terms (upper layers) are kept as they are.
  Returns:
    ([B] loss, {'reconstruction', 'kl', 'elbo'}: [B] each, the true unweighted ELBO terms).
  """
  kl = terms["kl"]
  kl_train = kl
  if free_bits > 0:
    kl_train = kl - terms["kl_per_dim"].sum(-1) + losses.free_bits_kl(
        terms["kl_per_dim"], free_bits=free_bits)
  recon = -terms["recon_ll"]
  loss = recon + beta * kl_train
  return loss, {"reconstruction": recon, "kl": kl, "elbo": -(recon + kl)}


def sample_log_weights(key: Array, log_weight_fn: LogWeightFn, num_samples: int) -> Array:
  """[B, K] log-weights from K independent posterior samples.

  Args:
    key: one key or [B] per-example keys, typed or legacy; split into K.
    log_weight_fn: key(s) -> [B] log-weight of one sample per example.
    num_samples: K.
  """
  keys = random.split(key, num_samples)
  return jax.vmap(log_weight_fn, out_axes=1)(keys)


def importance_sampled_log_likelihood(key: Array, log_weight_fn: LogWeightFn, *,
                                      num_samples: int = 1000,
                                      chunk_size: int = 100) -> Array:
  """log p(x) ≈ logsumexp_k w_k − log K with z_k ~ q(z|x) (Burda et al. 2016, §5).

  The K samples are drawn `chunk_size` at a time inside a `lax.scan` that keeps a running
  logsumexp, so memory grows with chunk_size, not K.

  Args:
    key: one key or [B] per-example keys, typed or legacy.
    log_weight_fn: key(s) -> [B] log-weight of one sample per example.
    num_samples: K, a multiple of chunk_size.
    chunk_size: samples evaluated together.
  Returns:
    [B] estimate in nats (a stochastic lower bound converging to log p(x) as K grows).
  """
  validation.check_int("chunk_size", chunk_size, low=1)
  validation.check_int("num_samples", num_samples, low=1)
  if num_samples % chunk_size:
    raise validation.ArgumentError(
        "num_samples", f"num_samples must be a multiple of chunk_size ({chunk_size}), got "
        f"{num_samples}")

  def body(running, chunk_key):
    lw = sample_log_weights(chunk_key, log_weight_fn, chunk_size)
    return jnp.logaddexp(running, jax.nn.logsumexp(lw, axis=1)), None

  key = random.as_key(key)
  keys = random.split(key, num_samples // chunk_size)
  init = jnp.full(jax.eval_shape(log_weight_fn, key).shape, -jnp.inf)
  total, _ = jax.lax.scan(body, init, keys)
  return total - math.log(num_samples)


def iwae_objective(key: Array, log_weight_fn: LogWeightFn, *, num_samples: int) -> Array:
  """Negative IWAE bound as a training loss, [B] (Burda et al. 2016).

  Args:
    key: one key or [B] per-example keys, typed or legacy.
    log_weight_fn: key(s) -> [B] log-weight of one sample per example.
    num_samples: K importance samples.
  """
  return -losses.iwae_bound(sample_log_weights(key, log_weight_fn, num_samples))


def active_units(kl_per_dim: Array, *, threshold: float = 0.01) -> Array:
  """Number of latent dimensions whose data-averaged KL exceeds `threshold` nats.

  Dimensions below it carry no information about x: posterior collapse made visible.

  Args:
    kl_per_dim: [N, D] per-example, per-dimension KL over a dataset.
  Returns:
    int32 scalar count.
  """
  return jnp.sum(kl_per_dim.mean(0) > threshold).astype(jnp.int32)
