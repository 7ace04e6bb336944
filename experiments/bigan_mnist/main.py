"""BiGAN on MNIST: a DCGAN generator, a conv encoder and a joint (x, z) discriminator.

  python -m experiments.bigan_mnist --workdir=/tmp/bigan

results.json: recon_mse = ‖x − G(E(x))‖² / pixels on the 1,000 test digits ([0, 1] units),
beside recon_mse_unrelated_digit, the same error against another (random) test digit;
probe_accuracy of a linear softmax classifier trained on E(x) of the 4,000 training digits
and tested on E(x) of the test digits, beside the same probe on a randomly initialized
encoder (probe_accuracy_random_encoder) and on raw pixels (probe_accuracy_pixels); code_std,
the mean per-dimension std of E(x) over the test digits (the prior's is 1); d_pairing_gap,
D's mean logit on (x, E(x)) minus on (x, E(x')) for another test digit x' (≈ 0: D ignores
which code goes with which digit); fid / precision / recall of 1,000 samples G(z).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments.bigan_mnist.config import get_config
from gen_jax import data
from gen_jax import gan
from gen_jax import metrics
from gen_jax import training
from gen_jax import validation
from gen_jax.nets.dcgan import DCGANGenerator
from gen_jax.nets.gan_conv import ImageEncoder
from gen_jax.nets.gan_conv import JointDiscriminator
from gen_jax.nets.variables import apply as apply_player


# The joint discriminator's kernel init: DCGAN's N(0, 0.02), or variance-preserving.
D_INITS = {"dcgan": nn.initializers.normal(stddev=0.02), "lecun": nn.initializers.lecun_normal()}


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config)
  for key in ("latent_dim", "base_features", "encoder_features", "hidden", "probe_steps",
              "eval_samples"):
    validation.check_int(f"--config.{key}", config[key], low=1)
  validation.check_number("--config.probe_l2", config.probe_l2, low=0.0)
  validation.check_number("--config.d_learning_rate", config.d_learning_rate, low=0.0,
                          low_inclusive=False)
  if config.d_init not in D_INITS:
    raise validation.ArgumentError(
        "--config.d_init", f"--config.d_init must be one of {sorted(D_INITS)}, got "
        f"{config.d_init!r}")


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                 test_y: np.ndarray, *, num_classes: int, steps: int, l2: float) -> float:
  """Test accuracy of multinomial logistic regression (full-batch Adam, L2 on weights).

  Features are standardized with the training set's mean and std first.
  """
  mean, std = train_x.mean(0), train_x.std(0) + 1e-6
  tr = jnp.asarray((train_x - mean) / std, jnp.float32)
  te = jnp.asarray((test_x - mean) / std, jnp.float32)
  params = {"w": jnp.zeros((tr.shape[1], num_classes)), "b": jnp.zeros((num_classes,))}
  opt = optax.adam(0.05)

  def loss_fn(p):
    logits = tr @ p["w"] + p["b"]
    return (optax.softmax_cross_entropy_with_integer_labels(logits, train_y).mean() +
            l2 * jnp.sum(p["w"]**2))

  @jax.jit
  def fit(state):
    def body(state, _):
      return training.minimize(state, "probe", loss_fn)[0], None
    return jax.lax.scan(body, state, None, length=steps)[0].params["probe"]

  params = fit(training.TrainState.create({"probe": params}, {"probe": opt}))
  pred = np.asarray(jnp.argmax(te @ params["w"] + params["b"], -1))
  return float(np.mean(pred == test_y))


def build_model(config: ml_collections.ConfigDict, image_shape) -> gan.BiGAN:
  f = config.encoder_features
  opt = lambda lr: optax.adam(lr, b1=config.beta1)
  return gan.BiGAN(
      generator=DCGANGenerator(image_shape=image_shape, base_features=config.base_features),
      # E(x) starts at the prior's scale (variance-preserving init): with DCGAN's
      # N(0, 0.02) E(x) began orders of magnitude narrower than z ~ N(0, I), which D told
      # apart at once and E never caught up with (its spread was 0.05 after 3,000 steps).
      encoder=ImageEncoder(config.latent_dim, features=(f, 2 * f), hidden=config.hidden,
                           kernel_init=nn.initializers.lecun_normal()),
      discriminator=JointDiscriminator(features=(f, 2 * f), hidden=config.hidden,
                                       kernel_init=D_INITS[config.d_init]),
      g_optimizer=opt(config.learning_rate), d_optimizer=opt(config.d_learning_rate), latent_dim=config.latent_dim,
      image_shape=tuple(image_shape), preprocess=lambda x: 2.0 * x - 1.0)


def make_task(config: ml_collections.ConfigDict, train_data: data.ArrayDataset,
              test_data: data.ArrayDataset) -> training.Task:
  model = build_model(config, train_data.image_shape)
  post = lambda v: jnp.clip(0.5 * (v + 1.0), 0.0, 1.0)

  @jax.jit
  def encode_and_reconstruct(state, x):
    code = gan.bigan_encode(model, state, 2.0 * x - 1.0)
    # D's logit on the pair (x, E(x)) and on x beside the next digit's code: a D that
    # ignores z (or the pairing) scores both alike and gives E nothing to invert G by.
    d = lambda c: apply_player(model.discriminator, state.params["d"], state.extra["d"],
                               2.0 * x - 1.0, c, train=False)[0]
    return {"code": code, "recon": post(gan.bigan_decode(model, state, code)),
            "d_paired": d(code), "d_mispaired": d(jnp.roll(code, 1, axis=0))}

  @functools.partial(jax.jit, static_argnums=2)
  def samples(state, key, n):
    z = gan.sample_latent(key, n, config.latent_dim)
    return post(gan.bigan_decode(model, state, z))

  probe = functools.partial(linear_probe, num_classes=train_data.num_classes,
                            steps=config.probe_steps, l2=config.probe_l2)
  baselines = {}

  def features(state, images):
    return training.map_batches(
        lambda x: encode_and_reconstruct(state, x), images,
        batch_size=500)

  def evaluate(state, key, *, final=False):
    del final
    if not baselines:  # fixed references, computed once per process
      init_state = gan.bigan_init(model, jax.random.key(config.seed))
      baselines["probe_accuracy_random_encoder"] = probe(
          features(init_state, train_data.images)["code"], train_data.labels,
          features(init_state, test_data.images)["code"], test_data.labels)
      flat = lambda d: d.images.reshape(len(d), -1)
      baselines["probe_accuracy_pixels"] = probe(flat(train_data), train_data.labels,
                                                 flat(test_data), test_data.labels)
      # A reconstruction that ignores x: each test digit against the next (shuffled) one.
      baselines["recon_mse_unrelated_digit"] = float(np.mean(
          (test_data.images - np.roll(test_data.images, 1, axis=0))**2))
    train_out, test_out = features(state, train_data.images), features(state, test_data.images)
    result = {"recon_mse": float(np.mean((test_out["recon"] - test_data.images)**2)),
              # Per-dimension spread of E(x) over the test set (the prior's is 1):
              # an encoder collapsed onto a point shows here first.
              "code_std": float(np.mean(np.std(test_out["code"], axis=0))),
              "d_pairing_gap": float(np.mean(test_out["d_paired"] - test_out["d_mispaired"])),
              "probe_accuracy": probe(train_out["code"], train_data.labels,
                                      test_out["code"], test_data.labels), **baselines}
    fake = np.asarray(samples(state, key, config.eval_samples))
    result.update(metrics.evaluate_samples(jax.random.fold_in(key, 1), test_data.images, fake,
                                           metrics=("fid", "precision", "recall")))
    return result

  def sample(state, key):
    x = jnp.asarray(test_data.images[:30])
    recon = encode_and_reconstruct(state, x)["recon"]
    rows = [v for i in range(3) for v in (x[10 * i:10 * i + 10], recon[10 * i:10 * i + 10])]
    return jnp.concatenate(rows + [samples(state, key, 40)])

  return gan.make_task(model, evaluate=evaluate, sample=sample)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  train_data, test_data = training.load_train_test(config)
  task = make_task(config, train_data, test_data)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
