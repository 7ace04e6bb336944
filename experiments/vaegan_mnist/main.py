"""VAE-GAN (Larsen et al. 2016) on MNIST: conv encoder, DCGAN decoder, a discriminator
whose second conv layer is the reconstruction space.

  python -m experiments.vaegan_mnist --workdir=/tmp/vaegan

results.json: fid / precision / recall of 1,000 samples Dec(z), z ~ N(0, I), against the
1,000 test digits; recon_mse = ‖x − Dec(μ(x))‖² / pixels on the test digits ([0, 1]
units); feature_recon = ½‖Dis_l(x) − Dis_l(Dec(μ(x)))‖² on the test digits. Sample grids:
40 samples, then rows of test digits and their reconstructions.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments.vaegan_mnist.config import get_config
from gen_jax import data
from gen_jax import gan
from gen_jax import metrics
from gen_jax import nets
from gen_jax import training
from gen_jax import validation
from gen_jax.nets.dcgan import DCGANGenerator
from gen_jax.nets.gan_conv import FeatureDiscriminator
from gen_jax.nets.gan_conv import ImageEncoder


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config)
  for key in ("latent_dim", "base_features", "encoder_features", "eval_samples"):
    validation.check_int(f"--config.{key}", config[key], low=1)
  # The discriminator has two conv layers.
  validation.check_choice("--config.feature_layer", config.feature_layer, (0, 1))
  validation.check_number("--config.gamma", config.gamma, low=0.0)


def build_model(config: ml_collections.ConfigDict, image_shape) -> gan.VAEGAN:
  f = config.encoder_features
  opt = lambda: optax.adam(config.learning_rate, b1=config.beta1)
  return gan.VAEGAN(
      encoder=ImageEncoder(2 * config.latent_dim, features=(f, 2 * f), batch_norm=True),
      decoder=DCGANGenerator(image_shape=image_shape, base_features=config.base_features),
      discriminator=FeatureDiscriminator(features=(f, 2 * f),
                                         feature_layer=config.feature_layer),
      g_optimizer=opt(), d_optimizer=opt(), latent_dim=config.latent_dim,
      image_shape=tuple(image_shape), gamma=config.gamma, preprocess=lambda x: 2.0 * x - 1.0)


def make_task(config: ml_collections.ConfigDict, train_data: data.ArrayDataset,
              test_data: data.ArrayDataset) -> training.Task:
  model = build_model(config, train_data.image_shape)
  post = lambda v: jnp.clip(0.5 * (v + 1.0), 0.0, 1.0)

  @jax.jit
  def reconstruct(state, x):
    x = 2.0 * x - 1.0
    mean, _, _ = gan.vaegan_posterior(model, state.eval_params("e"), state.extra, x)
    recon = gan.vaegan_decode(model, state, mean)
    dis = lambda v: nets.apply(model.discriminator, state.params["d"], state.extra["d"], v,
                               train=False)[0][1]
    return {"recon": post(recon),
            "feature_recon": 0.5 * jnp.sum((dis(x) - dis(recon))**2, -1)}

  @functools.partial(jax.jit, static_argnums=2)
  def samples(state, key, n):
    z = gan.sample_latent(key, n, config.latent_dim)
    return post(gan.vaegan_decode(model, state, z))

  def evaluate(state, key, *, final=False):
    del final
    out = training.map_batches(lambda x: reconstruct(state, x), test_data.images,
                               batch_size=500)
    result = {"recon_mse": float(np.mean((out["recon"] - test_data.images)**2)),
              "feature_recon": float(out["feature_recon"].mean())}
    fake = np.asarray(samples(state, key, config.eval_samples))
    if not np.all(np.isfinite(fake)):
      return {**result, "fid": float("inf"), "precision": 0.0, "recall": 0.0}
    result.update(metrics.evaluate_samples(jax.random.fold_in(key, 1), test_data.images, fake,
                                           metrics=("fid", "precision", "recall")))
    return result

  def sample(state, key):
    x = jnp.asarray(test_data.images[:30])
    recon = reconstruct(state, x)["recon"]
    rows = [v for i in range(3) for v in (x[10 * i:10 * i + 10], recon[10 * i:10 * i + 10])]
    return jnp.concatenate([samples(state, key, 40)] + rows)

  return gan.make_task(model, evaluate=evaluate, sample=sample,
                       plot_keys=("kl", "feature_recon", "d_loss", "decoder_gan"))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  validate(config)
  train_data, test_data = training.load_train_test(config)
  task = make_task(config, train_data, test_data)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
