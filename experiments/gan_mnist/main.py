"""DCGAN on embedded MNIST with any of the eight losses of Lucic et al. (2018).

  python -m experiments.gan_mnist --workdir=/tmp/gan_ns
  python -m experiments.gan_mnist --workdir=/tmp/gan_wgp --config.loss=wgan_gp

The generator ends in tanh, so real digits are mapped to [−1, 1] for the discriminator and
samples back to [0, 1] for grids and metrics. results.json holds fid, precision and recall
(gen_jax.metrics with the shipped MNIST classifier's features) of `eval_samples` generated
digits against the 1,000 test digits; with loss='began' also k (k_t), real_recon /
fake_recon (the autoencoder's per-pixel L1 error on the test digits / the samples) and
convergence, M = real_recon + |γ·real_recon − fake_recon|.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.gan_mnist.config import get_config
from gen_jax import data
from gen_jax import gan
from gen_jax import metrics
from gen_jax import training
from gen_jax import validation
from gen_jax.nets.dcgan import DCGANDiscriminator
from gen_jax.nets.dcgan import DCGANGenerator
from gen_jax.nets.gan_conv import ConvAutoencoder
from gen_jax.nets.variables import apply as apply_player

FID_METRICS = ("fid", "precision", "recall")


def validate(config: ml_collections.ConfigDict) -> None:
  training.validate_config(config)
  gan.validate_gan_config(config)
  for key in ("base_features", "began_code_dim", "eval_samples", "num_sample_images"):
    validation.check_int(f"--config.{key}", config[key], low=1)
  if config.loss == "began" and config.minibatch != "none":
    raise validation.ArgumentError(
        "--config.minibatch", f"--config.minibatch must be 'none' with loss='began' (its "
        f"discriminator is an autoencoder), got {config.minibatch!r}")


def to_model_space(images: jax.Array) -> jax.Array:
  return 2.0 * images - 1.0


def to_images(samples: jax.Array) -> jax.Array:
  return jnp.clip(0.5 * (samples + 1.0), 0.0, 1.0)


def build_game(config: ml_collections.ConfigDict, image_shape: tuple[int, int, int],
               num_classes: int) -> gan.GANGame:
  """DCGAN players for every loss; BEGAN's discriminator is a conv autoencoder."""
  n_cls = num_classes if config.conditional else 0
  generator = DCGANGenerator(image_shape=image_shape, base_features=config.base_features,
                             num_classes=n_cls or None,
                             batch_norm=config.get("g_batch_norm", True))
  if config.loss == "began":
    f = config.base_features
    discriminator = ConvAutoencoder(features=(f, 2 * f), code_dim=config.began_code_dim,
                                    num_classes=n_cls)
  else:
    discriminator = DCGANDiscriminator(
        base_features=config.base_features, num_classes=n_cls or None,
        batch_norm=config.d_batch_norm and config.loss not in ("wgan_gp", "dragan"),
        minibatch_stddev=config.minibatch == "stddev",
        minibatch_discrimination=config.minibatch == "discrimination")
  g_opt, d_opt = gan.gan_optimizers(config.loss, learning_rate=config.learning_rate,
                                    d_learning_rate=config.d_learning_rate,
                                    beta1=config.beta1, beta2=config.beta2)
  return gan.GANGame(generator=generator, discriminator=discriminator, g_optimizer=g_opt,
                     d_optimizer=d_opt, loss=config.loss, latent_dim=config.latent_dim,
                     data_shape=image_shape, num_classes=n_cls, d_steps=config.d_steps,
                     unroll_steps=config.unroll_steps, penalty_weight=config.penalty_weight,
                     clip=config.clip, began_gamma=config.began_gamma,
                     began_lambda_k=config.began_lambda_k, preprocess=to_model_space,
                     fresh_generator_noise=config.fresh_generator_noise,
                     label_smoothing=config.label_smoothing,
                     ema_decay=config.ema_decay or None)


def sample_metrics(key: jax.Array, real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
  """FID / precision / recall; a diverged generator (non-finite samples) scores inf / 0."""
  if not np.all(np.isfinite(fake)):
    return {"fid": float("inf"), "precision": 0.0, "recall": 0.0}
  return metrics.evaluate_samples(key, real, fake, metrics=FID_METRICS, features="mnist")


def make_task(config: ml_collections.ConfigDict, train_data: data.ArrayDataset,
              test_data: data.ArrayDataset) -> training.Task:
  game = build_game(config, train_data.image_shape, train_data.num_classes)
  n_eval, n_grid = config.eval_samples, config.num_sample_images

  @jax.jit
  def eval_samples(params, collections, key):
    return to_images(gan.generate(key, game, params, collections, n_eval))

  @jax.jit
  def began_terms(state, real, fake):
    # The autoencoder-discriminator's per-pixel L1 error on test digits and on samples,
    # and M = L(x) + |γ·L(x) − L(G(z))| (Berthelot et al. 2017, §3.4.1), in model space.
    recon = lambda v: apply_player(game.discriminator, state.params["d"],
                                   state.extra["d"], v, None, train=False)[0]
    l1 = lambda v: jnp.abs(v - recon(v)).reshape(v.shape[0], -1).mean(-1)
    real_recon, fake_recon = l1(to_model_space(real)), l1(to_model_space(fake))
    return {"k": state.extra["k"], "real_recon": real_recon.mean(),
            "fake_recon": fake_recon.mean(),
            "convergence": gan.began_convergence(real_recon, fake_recon,
                                                 gamma=game.began_gamma)}

  def evaluate(state, key, *, final=False):
    del final  # the same 1,000-vs-1,000 comparison every time
    fake = np.asarray(eval_samples(state.eval_params("g"), state.extra["g"], key))
    result = sample_metrics(jax.random.fold_in(key, 1), test_data.images, fake)
    if game.loss == "began" and not game.conditional:
      result.update({k: float(v) for k, v in
                     began_terms(state, jnp.asarray(test_data.images), fake).items()})
    return result

  @jax.jit
  def sample(state, key):
    return to_images(gan.generate(key, game, state.eval_params("g"), state.extra["g"], n_grid))

  return gan.make_task(game, evaluate=evaluate, sample=sample)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       train_data: data.ArrayDataset | None = None,
                       test_data: data.ArrayDataset | None = None) -> dict:
  """Trains to config.num_steps (resuming from workdir); returns the final metrics.

  train_data / test_data: already loaded splits of config.dataset (e.g. shared by the many
  runs of experiments.gan_study); loaded here when None.
  """
  validate(config)
  if train_data is None or test_data is None:
    train_data, test_data = training.load_train_test(config)
  else:
    validation.check_int("--config.batch_size", config.batch_size, high=len(train_data))
  task = make_task(config, train_data, test_data)
  return training.train(task, config, workdir, train_data)


def main():
  training.cli.run_experiment(get_config, train_and_evaluate, validate)
