"""The VAE family as a `gen_jax.training.Task`: model choice, objective, eval, samples.

Config keys (beside the common ones, see experiments/vae_mnist/config.py):
  model: 'vae' | 'hvae' | 'vqvae';  architecture: 'mlp' | 'conv'
  likelihood: 'bernoulli' | 'gaussian';  binarize: 'dynamic' | 'static' | 'none'
  latent_dim, hidden, beta, kl_warmup_steps, free_bits, conditional,
  objective: 'elbo' | 'iwae', iwae_samples, eval_samples, final_eval_samples,
  num_codes, code_dim, vq_beta, vq_ema, vq_decay, eval_batch_size, num_sample_images
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gen_jax import nets
from gen_jax.data import ArrayDataset
from gen_jax.training import map_batches
from gen_jax.training import Task
from gen_jax.training import TrainState
from gen_jax.training import make_train_step
from gen_jax.vae import _models
from gen_jax.vae import _objectives
from gen_jax.vae import _vq
from gen_jax.vae._reparameterize import bernoulli, example_keys, normal, split_key

# Fixed key for the binarization of the test set: every run and seed evaluates the same bits.
TEST_BINARIZATION_KEY = 7

MODELS = ("vae", "hvae", "vqvae")
ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
BINARIZATIONS = ("dynamic", "static", "none")
OBJECTIVES = ("elbo", "iwae")


def build_model(config: ml_collections.ConfigDict, image_shape: tuple[int, ...],
                num_classes: int):
  """Maps the config to a linen module (no registry: one explicit branch per model)."""
  h, w, c = image_shape
  dim = h * w * c
  n_cls = num_classes if config.conditional else 0
  if config.model == "vae":
    if config.architecture == "mlp":
      return _models.VAE(encoder=nets.MLP((config.hidden,)),
                         decoder=nets.MLP((config.hidden, dim)), latent_dim=config.latent_dim,
                         image_shape=image_shape, likelihood=config.likelihood,
                         num_classes=n_cls, flatten_input=True)
    return _models.VAE(encoder=nets.ConvEncoder((32, 64), config.hidden),
                       decoder=nets.ConvDecoder(image_shape, (64, 32), config.hidden),
                       latent_dim=config.latent_dim, image_shape=image_shape,
                       likelihood=config.likelihood, num_classes=n_cls, flatten_input=False)
  if config.model == "hvae":
    d1 = config.latent_dim
    return _models.HierarchicalVAE(
        encoder1=nets.MLP((config.hidden, config.hidden), activation=jax.nn.relu),
        encoder2=nets.MLP((config.hidden // 2,)),
        top_down=nets.MLP((config.hidden // 2,)),
        decoder=nets.MLP((config.hidden, dim)),
        latent_dims=(d1, max(d1 // 2, 2)), image_shape=image_shape,
        likelihood=config.likelihood, num_classes=n_cls)
  return _models.VQVAE(encoder=nets.SpatialEncoder((32, 64), config.code_dim),
                       decoder=nets.SpatialDecoder((64, 32), c), num_codes=config.num_codes,
                       code_dim=config.code_dim, ema=config.vq_ema,
                       likelihood=config.likelihood, image_shape=image_shape)


def _prepare(x: jax.Array, key: jax.Array, binarize: str) -> jax.Array:
  if binarize == "dynamic":
    return bernoulli(key, x)
  if binarize == "static":
    return (x > 0.5).astype(jnp.float32)
  return x


def make_vae_task(config: ml_collections.ConfigDict, train_data: ArrayDataset,
                  test_data: ArrayDataset, *, axis_name: str | None = None) -> Task:
  """Builds the init/step/evaluate/sample functions of a VAE run.

  Args:
    config: VAE config (see module docstring).
    train_data: used only for its image shape and class count.
    test_data: the evaluation set.
    axis_name: build the step for pmap/shard_map over this axis instead of sharded jit.
  """
  image_shape = train_data.image_shape
  model = build_model(config, image_shape, train_data.num_classes)
  optimizer = optax.adam(config.learning_rate)
  is_vq = config.model == "vqvae"
  conditional = bool(config.conditional) and not is_vq
  beta_schedule = (optax.linear_schedule(0.0, config.beta, config.kl_warmup_steps)
                   if config.kl_warmup_steps > 0 else (lambda step: config.beta))
  ema_vq = is_vq and config.vq_ema

  def init(key):
    x = jnp.zeros((2, *image_shape), jnp.float32)
    labels = jnp.zeros((2,), jnp.int32)
    if is_vq:
      variables = model.init({"params": key}, x)
    else:
      variables = model.init({"params": key}, x, labels if conditional else None, key)
    params = variables["params"]
    extra = {k: v for k, v in variables.items() if k != "params"}
    return TrainState.create(params, optimizer, extra=extra)

  def variables(params, extra):
    return {"params": params, **extra}

  def log_weight_fn(params, x, labels):
    """key -> [B] log p(x, z) − log q(z | x) at one z ~ q(z | x) (for IWAE and log p(x))."""
    return lambda k: model.apply({"params": params}, x, labels, k,
                                 method=lambda m, *a: m.elbo_terms(*a)["log_weight"])

  def loss_fn(params, state, batch, key):
    images, labels = batch["image"], batch["label"] if conditional else None
    keys = example_keys(key, images.shape[0], axis_name)
    k_bin, k_z = split_key(keys)
    x = _prepare(images, k_bin, config.binarize)
    if is_vq:
      out = model.apply(variables(params, state.extra), x)
      per_example = -out["recon_ll"] + config.vq_beta * out["commitment"]
      if not ema_vq:
        per_example = per_example + out["codebook_loss"]
      extra = state.extra
      if ema_vq:
        vq = state.extra["vq"]
        sums, counts, codebook = _vq.ema_codebook_update(
            vq["sums"], vq["counts"], out["z_e"], out["codes"], decay=config.vq_decay)
        extra = {"vq": {"sums": sums, "counts": counts, "codebook": codebook}}
      metrics = {"reconstruction": -out["recon_ll"].mean(),
                 "commitment": out["commitment"].mean(),
                 "perplexity": _vq.codebook_perplexity(out["codes"], config.num_codes)}
      return per_example.mean(), (metrics, extra)

    log_weight = log_weight_fn(params, x, labels)
    terms = model.apply({"params": params}, x, labels, k_z)
    loss, parts = _objectives.negative_elbo(terms, beta=beta_schedule(state.step),
                                            free_bits=config.free_bits)
    if config.objective == "iwae":
      loss = _objectives.iwae_objective(log_weight, k_z, num_samples=config.iwae_samples)
    metrics = {k: v.mean() for k, v in parts.items()}
    metrics["beta"] = jnp.asarray(beta_schedule(state.step), jnp.float32)
    return loss.mean(), (metrics, state.extra)

  step = make_train_step(loss_fn, optimizer, axis_name=axis_name)

  test_key = jax.random.key(TEST_BINARIZATION_KEY)
  test_x = np.asarray(_prepare(jnp.asarray(test_data.images), test_key, config.binarize))
  test_arrays = {"image": test_x, "label": test_data.labels,
                 "index": np.arange(len(test_data), dtype=np.int32)}
  # Two stride-2 SAME convs in the VQ encoder: ceil(H/4) x ceil(W/4) code positions.
  num_latent_positions = math.ceil(image_shape[0] / 4) * math.ceil(image_shape[1] / 4)

  @functools.lru_cache(maxsize=4)
  def eval_fn(num_samples: int):
    def fn(params_extra, batch, key):
      params, extra = params_extra
      x, labels = batch["image"], batch["label"] if conditional else None
      # Per-example keys from the example's index: independent of batching and devices.
      keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(batch["index"])
      if is_vq:
        out = model.apply(variables(params, extra), x)
        recon = -out["recon_ll"]
        # Uniform prior over codes, deterministic one-hot posterior: KL = positions·log K.
        kl = jnp.full_like(recon, num_latent_positions * math.log(config.num_codes))
        return {"reconstruction": recon, "kl": kl, "log_likelihood": -(recon + kl),
                "codes": out["codes"].reshape(x.shape[0], -1)}
      terms = model.apply({"params": params}, x, labels, keys)

      log_weight = log_weight_fn(params, x, labels)
      chunk = min(num_samples, 100)
      ll = _objectives.importance_sampled_log_likelihood(
          log_weight, jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys),
          num_samples=num_samples, chunk_size=chunk)
      return {"reconstruction": -terms["recon_ll"], "kl": terms["kl"],
              "kl_per_dim": terms["kl_per_dim"], "log_likelihood": ll}
    return fn

  def evaluate(state, key, *, final=False):
    k = config.final_eval_samples if final else config.eval_samples
    fn = eval_fn(k)
    out = map_batches(lambda b: fn((state.params, state.extra), b, key), test_arrays,
                      batch_size=config.eval_batch_size)
    recon, kl = float(out["reconstruction"].mean()), float(out["kl"].mean())
    result = {"test_elbo": -(recon + kl), "reconstruction": recon, "kl": kl,
              "test_log_likelihood": float(out["log_likelihood"].mean()),
              "importance_samples": k}
    if is_vq:
      codes = out["codes"]
      result["perplexity"] = float(_vq.codebook_perplexity(jnp.asarray(codes),
                                                           config.num_codes))
      result["codes_used"] = int(np.unique(codes).size)
    else:
      result["active_units"] = int(_objectives.active_units(jnp.asarray(out["kl_per_dim"])))
    pixels = math.prod(image_shape)
    result["test_bits_per_dim"] = -result["test_log_likelihood"] / (pixels * math.log(2))
    return result

  def sample(state, key):
    n = config.num_sample_images
    if is_vq:
      x = jnp.asarray(test_x[:n // 2])
      recon = model.apply(variables(state.params, state.extra), x)["output"]
      recon = model.apply(variables(state.params, state.extra), recon,
                          method=lambda m, o: m.observation.mean(o))
      return jnp.concatenate([x, recon])
    labels = jnp.arange(n) % train_data.num_classes if conditional else None
    if config.model == "hvae":
      return model.apply({"params": state.params}, key, n, labels,
                         method=lambda m, *a: m.sample_images(*a))
    z = normal(key, (n, config.latent_dim))
    return model.apply({"params": state.params}, z, labels,
                       method=lambda m, *a: m.mean_image(*a))

  plot_keys = ("loss", "reconstruction", "kl") if not is_vq else ("loss", "reconstruction")
  return Task(init=init, step=step, evaluate=evaluate, sample=jax.jit(sample),
              plot_keys=plot_keys)
