"""The VAE family as a `gen_jax.training.Task`: `VAESpec` (typed) -> `make_task`.

The experiment (experiments/vae_mnist) translates its config into a `VAESpec`; the library
never reads a config.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax import nets
from gen_jax import random
from gen_jax import validation
from gen_jax.training import make_train_step
from gen_jax.training import map_batches
from gen_jax.training import Task
from gen_jax.training import TrainState
from gen_jax.vae import _models
from gen_jax.vae import _objectives
from gen_jax.vae import _vq

# Fixed key for the binarization of the test set: every run and seed evaluates the same bits.
TEST_BINARIZATION_KEY = 7

MODELS = ("vae", "hvae", "vqvae")
ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
BINARIZATIONS = ("dynamic", "static", "none")
OBJECTIVES = ("elbo", "iwae")


@dataclasses.dataclass(frozen=True)
class VAESpec:
  """Everything that defines a VAE run of the family (model, objective, evaluation).

  Attributes:
    model: 'vae' (Kingma & Welling 2014), 'hvae' (two stochastic layers, top-down
      inference) or 'vqvae' (van den Oord et al. 2017).
    architecture: 'mlp' or 'conv' (model='vae').
    likelihood: 'bernoulli' (logits) or 'gaussian' (learned per-pixel variance).
    binarize: 'dynamic' (fresh Bernoulli draws per step), 'static' (threshold 0.5) or
      'none' (continuous pixels).
    latent_dim, hidden: latent size and hidden width.
    conditional: label-conditioned encoder and decoder (CVAE, Sohn et al. 2015).
    objective: 'elbo' or 'iwae' (Burda et al. 2016) with `iwae_samples`.
    beta, kl_warmup_steps, free_bits: β-VAE weight, linear KL warm-up 0 → β over this many
      steps, free bits λ in nats per latent dimension.
    num_codes, code_dim, vq_beta, vq_ema, vq_decay: VQ-VAE codebook size and width,
      commitment weight, EMA codebook and its decay.
    learning_rate: Adam's step size.
    ema_decay: keep an EMA of the parameters (evaluated and sampled from); None for none.
    eval_samples, final_eval_samples: importance samples of log p(x) at periodic and final
      evaluations (≤ 100 or a multiple of 100).
    eval_batch_size, num_sample_images: evaluation batch and sample grid sizes.
  """
  model: str = "vae"
  architecture: str = "mlp"
  likelihood: str = "bernoulli"
  binarize: str = "dynamic"
  latent_dim: int = 20
  hidden: int = 400
  conditional: bool = False
  objective: str = "elbo"
  iwae_samples: int = 5
  beta: float = 1.0
  kl_warmup_steps: int = 0
  free_bits: float = 0.0
  num_codes: int = 64
  code_dim: int = 16
  vq_beta: float = 0.25
  vq_ema: bool = False
  vq_decay: float = 0.99
  learning_rate: float = 1e-3
  ema_decay: float | None = None
  eval_samples: int = 100
  final_eval_samples: int = 1000
  eval_batch_size: int = 200
  num_sample_images: int = 100

  def __post_init__(self):
    check = validation
    check.check_choice("model", self.model, MODELS)
    check.check_choice("architecture", self.architecture, ARCHITECTURES)
    check.check_choice("likelihood", self.likelihood, LIKELIHOODS)
    check.check_choice("binarize", self.binarize, BINARIZATIONS)
    check.check_choice("objective", self.objective, OBJECTIVES)
    for name in ("latent_dim", "hidden", "iwae_samples", "num_codes", "code_dim",
                 "eval_samples", "final_eval_samples", "eval_batch_size",
                 "num_sample_images"):
      check.check_int(name, getattr(self, name), low=1)
    check.check_int("kl_warmup_steps", self.kl_warmup_steps, low=0)
    for name in ("beta", "free_bits", "vq_beta"):
      check.check_number(name, getattr(self, name), low=0.0)
    check.check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
    check.check_number("vq_decay", self.vq_decay, low=0.0, high=1.0, low_inclusive=False,
                       high_inclusive=False)
    if self.ema_decay is not None:
      check.check_number("ema_decay", self.ema_decay, low=0.0, high=1.0,
                         low_inclusive=False, high_inclusive=False)
    for name in ("eval_samples", "final_eval_samples"):
      value = getattr(self, name)
      if value > 100 and value % 100:
        raise validation.ArgumentError(
            name, f"{name} must be <= 100 or a multiple of 100 (samples are drawn in chunks "
            f"of 100), got {value}")


def build_model(spec: VAESpec, image_shape: tuple[int, ...], num_classes: int):
  """Maps the spec to a linen module (no registry: one explicit branch per model)."""
  config = spec
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
    return random.bernoulli(key, x)
  if binarize == "static":
    return (x > 0.5).astype(jnp.float32)
  return x


def make_task(spec: VAESpec, *, train_data, test_data,
              axis_name: str | None = None) -> Task:
  """The init/step/evaluate/sample functions of a VAE run.

  Args:
    spec: the model and objective.
    train_data: the training dataset, used only for its image shape and class count.
    test_data: the evaluation dataset ('image' [N, H, W, C] in [0, 1], 'label' [N]).
    axis_name: build the step for pmap/shard_map over this axis instead of sharded jit.
  Returns:
    A `Task` whose results (final evaluation) hold `test_nll` (importance-sampled −log p(x)
    in nats per example, `nll_kind` "importance_sampled"; "bound" for VQ-VAE), `test_bpd`,
    `test_elbo`, `reconstruction`, `kl` and the model's own figures.
  """
  config = spec
  image_shape = train_data.image_shape
  model = build_model(config, image_shape, train_data.num_classes)
  optimizer = optax.adam(config.learning_rate)
  is_vq = config.model == "vqvae"
  conditional = bool(config.conditional) and not is_vq
  beta_schedule = (optax.linear_schedule(0.0, config.beta, config.kl_warmup_steps)
                   if config.kl_warmup_steps > 0 else (lambda step: config.beta))
  ema_vq = is_vq and config.vq_ema

  def init(key):
    key = validation.check_key("key", key)
    x = jnp.zeros((2, *image_shape), jnp.float32)
    labels = jnp.zeros((2,), jnp.int32)
    if is_vq:
      variables = model.init({"params": key}, x)
    else:
      variables = model.init({"params": key}, x, labels if conditional else None, key=key)
    params, extra = nets.split_variables(variables)
    return TrainState.create({"model": params}, {"model": optimizer}, extra=extra,
                             ema_decay=config.ema_decay)

  def variables(params, extra):
    return {"params": params, **extra}

  def log_weight_fn(params, x, labels):
    """key -> [B] log p(x, z) − log q(z | x) at one z ~ q(z | x) (for IWAE and log p(x))."""
    def log_weight(m, *args, **kwargs):
      return m.elbo_terms(*args, **kwargs)["log_weight"]
    return lambda k: model.apply({"params": params}, x, labels, key=k, method=log_weight)

  def loss_fn(params, state, batch, key):
    images, labels = batch["image"], batch["label"] if conditional else None
    keys = random.example_keys(key, images.shape[0], axis_name)
    k_bin, k_z = random.split(keys)
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
    terms = model.apply({"params": params}, x, labels, key=k_z)
    loss, parts = _objectives.negative_elbo(terms, beta=beta_schedule(state.step),
                                            free_bits=config.free_bits)
    if config.objective == "iwae":
      loss = _objectives.iwae_objective(k_z, log_weight, num_samples=config.iwae_samples)
    metrics = {k: v.mean() for k, v in parts.items()}
    metrics["beta"] = jnp.asarray(beta_schedule(state.step), jnp.float32)
    return loss.mean(), (metrics, state.extra)

  step = make_train_step(loss_fn, axis_name=axis_name)

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
      terms = model.apply({"params": params}, x, labels, key=keys)

      log_weight = log_weight_fn(params, x, labels)
      chunk = min(num_samples, 100)
      ll = _objectives.importance_sampled_log_likelihood(
          jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys), log_weight,
          num_samples=num_samples, chunk_size=chunk)
      return {"reconstruction": -terms["recon_ll"], "kl": terms["kl"],
              "kl_per_dim": terms["kl_per_dim"], "log_likelihood": ll}
    return fn

  def evaluate(state, key, *, final=False):
    key = validation.check_key("key", key)
    k = config.final_eval_samples if final else config.eval_samples
    fn = eval_fn(k)
    params = state.eval_params("model")
    out = map_batches(lambda b: fn((params, state.extra), b, key), test_arrays,
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
    # The cross-family vocabulary (the keys above stay for existing readers).
    result["test_nll"] = -result["test_log_likelihood"]
    result["test_bpd"] = result["test_bits_per_dim"]
    result["nll_kind"] = "bound" if is_vq else "importance_sampled"
    return result

  def sample(state, key):
    key = validation.check_key("key", key)
    n = config.num_sample_images
    params = state.eval_params("model")
    if is_vq:
      x = jnp.asarray(test_x[:n // 2])
      recon = model.apply(variables(params, state.extra), x)["output"]
      recon = model.apply(variables(params, state.extra), recon,
                          method=lambda m, o: m.observation.mean(o))
      return jnp.concatenate([x, recon])
    labels = jnp.arange(n) % train_data.num_classes if conditional else None
    if config.model == "hvae":
      return model.apply({"params": params}, key, n, labels,
                         method=lambda m, *a: m.sample_images(*a))
    z = random.normal(key, (n, config.latent_dim))
    return model.apply({"params": params}, z, labels,
                       method=lambda m, *a: m.mean_image(*a))

  plot_keys = ("loss", "reconstruction", "kl") if not is_vq else ("loss", "reconstruction")
  return Task(init=init, step=step, evaluate=evaluate, sample=jax.jit(sample),
              plot_keys=plot_keys)
