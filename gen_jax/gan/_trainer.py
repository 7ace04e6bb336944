"""The two-player GAN game as a `gen_jax.training.Task`: state, pure step, optimizers.

One step = `d_steps` discriminator updates, each on a fresh batch (the loop hands the step
`batches_per_step = d_steps` batches with a leading axis), then one generator update, the
alternating scheme of Goodfellow et al. (2014, Alg. 1). Every loss of Lucic et al. (2018,
Table 1), and the hinge loss of SNGAN/BigGAN, is one explicit branch below;
`unroll_steps > 0` replaces the generator's objective by the unrolled one of Metz et al.
(2017) for any of them.

Players are linen modules called as
  generator(z [B, latent_dim], labels [B] | None, train=...) -> x [B, *data_shape]
  discriminator(x, labels | None, train=...) -> [B] logits / critic scores, or, for
    'began', the autoencoder's reconstruction [B, *data_shape].
The state is the substrate's `TrainState` with parameter groups "g" and "d" (each with its
optimizer); the players' other collections (batch-norm statistics) are `extra["g"]` and
`extra["d"]`, BEGAN's k_t is `extra["k"]`, and with `ema_decay` the generator's parameters
also keep an exponential moving average (`state.ema["g"]`) to sample from.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gen_jax import losses
from gen_jax import random
from gen_jax import validation
from gen_jax.gan._began import began_convergence
from gen_jax.gan._began import began_k_update
from gen_jax.gan._clipping import clip_params
from gen_jax.gan._unrolled import unrolled_generator_loss
from gen_jax.nets.variables import apply as apply_player
from gen_jax.nets.variables import split_variables
from gen_jax.training import apply_gradients
from gen_jax.training import minimize
from gen_jax.training import TrainState

Array = jax.Array

LOSSES = ("minimax", "non_saturating", "maximum_likelihood", "least_squares", "wasserstein",
          "wgan_gp", "dragan", "began", "hinge")
# Losses whose penalty differentiates the critic per example: the critic must not mix the
# examples of a batch (no batch norm in training mode, no minibatch features).
PENALIZED_LOSSES = ("wgan_gp", "dragan")


def gan_optimizers(loss: str, *, learning_rate: float, d_learning_rate: float | None = None,
                   beta1: float = 0.5, beta2: float = 0.999,
                   ) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
  """(generator, discriminator) optimizers for `loss`.

  Adam with β₁ = 0.5 (Radford et al. 2016) for every loss but 'wasserstein', which uses
  RMSProp (Arjovsky et al. 2017, Alg. 1: momentum-based optimizers destabilized the clipped
  critic). The critic's weight clipping is not part of this optimizer: `gan_step` projects
  the critic's params onto [−clip, clip] after every update (`clip_params`), also inside
  the unrolled objective, where it must be differentiable. The discriminator's Adam has
  eps_root > 0 so that it is differentiable everywhere, which the unrolled objective needs
  (d√ν/dν is infinite at ν = 0); the change is below float32 resolution otherwise.
  """
  d_lr = learning_rate if d_learning_rate is None else d_learning_rate
  if loss == "wasserstein":
    return optax.rmsprop(learning_rate), optax.rmsprop(d_lr)
  return (optax.adam(learning_rate, b1=beta1, b2=beta2),
          optax.adam(d_lr, b1=beta1, b2=beta2, eps_root=1e-8))


@dataclasses.dataclass(frozen=True)
class GANGame:
  """The game: two players, their optimizers, the loss and its hyperparameters.

  Attributes:
    generator, discriminator: linen modules (see the module docstring for signatures).
    g_optimizer, d_optimizer: optax transformations (`gan_optimizers` gives the defaults).
    loss: one of LOSSES.
    latent_dim: dimension of z ~ N(0, I).
    data_shape: shape of one example, e.g. (28, 28, 1).
    num_classes: > 0 makes a conditional GAN (Mirza & Osindero 2014): the batch's labels
      go to both players.
    d_steps: discriminator updates per generator update (k of Goodfellow et al. Alg. 1;
      n_critic = 5 in the WGAN papers).
    unroll_steps: K > 0 trains G through K unrolled D updates (Metz et al. 2017): the
      last real D update is the first of them, and G's loss is taken at θ_D^K on the
      samples of that update (K = 1 is the plain loss plus the gradient through one D
      update; the paper's ring uses K = 5).
    unroll_real_term: the unrolled objective also subtracts D's loss on the real batch at
      θ_D^K, f_K = g_loss(θ_D^K; G(z)) − d_real_loss(θ_D^K; x): for 'minimax' this is the
      value function V(θ_G, θ_D^K) that Metz et al. (2017, Eq. 2, 5) unroll, and the real
      term depends on θ_G through θ_D^K; False: G's own loss at θ_D^K only.
    penalty_weight: λ of the WGAN-GP / DRAGAN penalty (10 in both papers).
    dragan_scale: C of DRAGAN's perturbation δ = C·std(x)·u.
    clip: c of WGAN weight clipping: for loss='wasserstein' the critic's params are
      projected onto [−c, c] at init and after every update.
    began_gamma, began_lambda_k: BEGAN's diversity ratio γ and gain λ_k.
    preprocess: maps a real batch of images to the generator's output space (e.g. [0, 1]
      -> [−1, 1] for a tanh generator); identity when None.
    fresh_generator_noise: the generator's update draws its own z and runs G again
      (Goodfellow et al. 2014, Alg. 1) instead of differentiating the last D update's
      samples (the DCGAN reference code; one generator forward pass fewer per step).
      Not with unroll_steps > 0, whose objective differentiates those samples.
    ema_decay: keep an exponential moving average of G's parameters with this decay
      (`state.ema["g"]`, what `state.eval_params("g")` returns); None for none.
    label_smoothing: α of one-sided label smoothing (real target 1 − α, Salimans et al.
      2016) for the cross-entropy discriminators (minimax, non-saturating, maximum
      likelihood, DRAGAN).
    data_key: the batch key holding real examples: 'image' [B, H, W, C], or 'x' [B, D]
      for vector data such as the 2-D toys.
  """
  generator: nn.Module
  discriminator: nn.Module
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  loss: str
  latent_dim: int
  data_shape: tuple[int, ...]
  num_classes: int = 0
  d_steps: int = 1
  unroll_steps: int = 0
  unroll_real_term: bool = True
  penalty_weight: float = 10.0
  dragan_scale: float = 0.5
  clip: float = 0.01
  began_gamma: float = 0.5
  began_lambda_k: float = 1e-3
  preprocess: Callable[[Array], Array] | None = None
  fresh_generator_noise: bool = False
  ema_decay: float | None = None
  label_smoothing: float = 0.0
  data_key: str = "image"

  def __post_init__(self):
    validation.check_choice("loss", self.loss, LOSSES)
    for name, low in (("d_steps", 1), ("unroll_steps", 0), ("latent_dim", 1),
                      ("num_classes", 0)):
      validation.check_int(name, getattr(self, name), low=low)
    validation.check_number("began_gamma", self.began_gamma, low=0.0, high=1.0,
                            low_inclusive=False)
    validation.check_number("began_lambda_k", self.began_lambda_k, low=0.0)
    validation.check_number("penalty_weight", self.penalty_weight, low=0.0)
    validation.check_number("clip", self.clip, low=0.0, low_inclusive=False)
    validation.check_number("label_smoothing", self.label_smoothing, low=0.0, high=1.0,
                            high_inclusive=False)
    if self.fresh_generator_noise and self.unroll_steps > 0:
      raise validation.ArgumentError(
          "fresh_generator_noise", "fresh_generator_noise must be False with unroll_steps="
          f"{self.unroll_steps} > 0 (the unrolled objective differentiates the samples of "
          "the last D update, its first unrolled step), got True")
    if self.ema_decay is not None:
      validation.check_number("ema_decay", self.ema_decay, low=0.0, high=1.0,
                              low_inclusive=False, high_inclusive=False)

  @property
  def conditional(self) -> bool:
    return self.num_classes > 0


def sample_latent(key: Array, num: int, latent_dim: int) -> Array:
  """z ~ N(0, I) [num, latent_dim], drawn with the global shape (device-count independent).

  Args:
    key: PRNG key, typed or legacy.
  """
  return random.normal(key, (num, latent_dim), jnp.float32)


def _mean_abs(x: Array, y: Array) -> Array:
  """BEGAN's L(v) = |v − AE(v)|₁ as a per-pixel mean (η = 1), per example [B]."""
  return jnp.abs(x - y).reshape(x.shape[0], -1).mean(-1)


def gan_init(game: GANGame, key: Array) -> TrainState:
  """Initial state: both players' variables, optimizer states, k₀ = 0 for BEGAN."""
  k_g, k_d = jax.random.split(validation.check_key("key", key))
  z = jnp.zeros((2, game.latent_dim), jnp.float32)
  x = jnp.zeros((2, *game.data_shape), jnp.float32)
  labels = jnp.zeros((2,), jnp.int32) if game.conditional else None
  g_params, g_coll = split_variables(game.generator.init({"params": k_g}, z, labels,
                                                         train=False))
  d_params, d_coll = split_variables(game.discriminator.init({"params": k_d}, x, labels,
                                                             train=False))
  if game.loss in PENALIZED_LOSSES and d_coll:
    raise validation.ArgumentError(
        "discriminator", f"loss={game.loss!r} penalizes per-example input gradients of the "
        f"critic, so the discriminator must have no collections besides params, got "
        f"{sorted(d_coll)} (batch norm mixes the examples of a batch); build it without batch "
        "norm, as Gulrajani et al. (2017) prescribe")
  if game.loss == "wasserstein":
    d_params = clip_params(d_params, game.clip)
  extra = {"g": g_coll, "d": d_coll}
  if game.loss == "began":
    extra["k"] = jnp.zeros((), jnp.float32)
  return TrainState.create({"g": g_params, "d": d_params},
                           {"g": game.g_optimizer, "d": game.d_optimizer}, extra=extra,
                           ema_decay=game.ema_decay,
                           ema_groups=("g",) if game.ema_decay is not None else None)


def generate(key: Array, game: GANGame, g_params: Any, g_collections: Mapping[str, Any],
             num: int, labels: Array | None = None, *, train: bool = False) -> Array:
  """num samples G(z) in the generator's output space (batch statistics frozen unless train).

  Args:
    key: PRNG key (typed or legacy) drawing z.
    game: the game.
    g_params: generator parameters (`state.eval_params("g")`: the EMA when kept).
    g_collections: its other collections (`state.extra["g"]`).
    num: number of samples.
    labels: [num] classes of a conditional game (default: 0, 1, ..., cycling).
  """
  z = sample_latent(key, num, game.latent_dim)
  if game.conditional and labels is None:
    labels = jnp.arange(num, dtype=jnp.int32) % game.num_classes
  out, _ = apply_player(game.generator, g_params, g_collections, z,
                        labels if game.conditional else None, train=train)
  return out


def _generator_inputs(game: GANGame, batch: Any, key: Array) -> tuple[Array, Array | None]:
  """(z [B, latent_dim], labels [B] or None) for one generator pass on `batch`'s size."""
  labels = batch["label"] if game.conditional else None
  return sample_latent(key, batch[game.data_key].shape[0], game.latent_dim), labels


def _discriminator_objective(game: GANGame, d_params, extra, batch, fake, key):
  """Batch-mean D loss of the real batch against `fake` (G's samples for it, labels alike).

  Returns (loss, (metrics, new_extra)); `key` draws the penalties' interpolation noise.
  """
  real = batch[game.data_key]
  if game.preprocess is not None:
    real = game.preprocess(real)
  labels = batch["label"] if game.conditional else None
  d = functools.partial(apply_player, game.discriminator, d_params, train=True)
  # Real and fake go through D as separate batches (separate batch statistics), as in
  # the DCGAN reference code; the statistics are threaded through both calls.
  out_real, d_coll = d(extra["d"], real, labels)
  out_fake, d_coll = d(d_coll, fake, labels)
  new_extra = {**extra, "d": d_coll}
  metrics = {}
  loss = game.loss
  if loss == "began":
    real_recon, fake_recon = _mean_abs(real, out_real), _mean_abs(fake, out_fake)
    per_example = losses.began_discriminator_loss(real_recon, fake_recon, extra["k"])
    new_extra["k"] = began_k_update(extra["k"], real_recon, fake_recon,
                                    gamma=game.began_gamma, lambda_k=game.began_lambda_k)
    metrics.update(k=extra["k"], real_recon=real_recon.mean(), fake_recon=fake_recon.mean(),
                   convergence=began_convergence(real_recon, fake_recon,
                                                 gamma=game.began_gamma))
    return per_example.mean(), (metrics, new_extra)

  metrics.update(d_real=out_real.mean(), d_fake=out_fake.mean())
  if loss in ("minimax", "non_saturating", "maximum_likelihood", "dragan"):
    per_example = losses.minimax_discriminator_loss(out_real, out_fake,
                                                    label_smoothing=game.label_smoothing)
  elif loss == "hinge":
    per_example = losses.hinge_discriminator_loss(out_real, out_fake)
  elif loss == "least_squares":
    per_example = losses.least_squares_discriminator_loss(out_real, out_fake)
  else:  # wasserstein, wgan_gp
    per_example = losses.wasserstein_critic_loss(out_real, out_fake)
    metrics["critic_gap"] = out_real.mean() - out_fake.mean()  # the W₁ estimate
  total = per_example.mean()
  if loss in PENALIZED_LOSSES:
    # The penalty's critic sees the statistics-free discriminator (checked at init).
    critic = lambda x: d(d_coll, x, labels)[0]
    if loss == "wgan_gp":
      penalty = losses.gradient_penalty(key, critic, real, fake)
    else:
      penalty = losses.dragan_penalty(key, critic, real,
                                      perturbation_scale=game.dragan_scale)
    metrics["gradient_penalty"] = penalty.mean()
    total = total + game.penalty_weight * penalty.mean()
  return total, (metrics, new_extra)


def _generator_loss(game: GANGame, d_params, extra, fake, labels) -> Array:
  """Batch-mean G loss of the samples `fake` against the discriminator `d_params`."""
  out, _ = apply_player(game.discriminator, d_params, extra["d"], fake, labels, train=True)
  loss = game.loss
  if loss == "began":
    per_example = losses.began_generator_loss(_mean_abs(fake, out))
  elif loss == "minimax":
    per_example = losses.minimax_generator_loss(out)
  elif loss in ("non_saturating", "dragan"):
    # DRAGAN penalizes D only; its generator plays the non-saturating cost (Kodali et al.
    # 2017, as in Lucic et al.'s code).
    per_example = losses.non_saturating_generator_loss(out)
  elif loss == "maximum_likelihood":
    per_example = losses.maximum_likelihood_generator_loss(out)
  elif loss == "least_squares":
    per_example = losses.least_squares_generator_loss(out)
  elif loss == "hinge":
    per_example = losses.hinge_generator_loss(out)
  else:  # wasserstein, wgan_gp
    per_example = losses.wasserstein_generator_loss(out)
  return per_example.mean()


def _real_loss(game: GANGame, d_params, extra, real, labels) -> Array:
  """Batch mean of the real-data part of D's loss (its terms that do not involve G)."""
  out, _ = apply_player(game.discriminator, d_params, extra["d"], real, labels, train=True)
  loss = game.loss
  if loss == "began":
    per_example = _mean_abs(real, out)
  elif loss == "hinge":
    per_example = jax.nn.relu(1.0 - out)
  elif loss == "least_squares":
    per_example = 0.5 * (out - 1.0)**2
  elif loss in ("wasserstein", "wgan_gp"):
    per_example = -out
  else:  # the cross-entropy losses, with the real target 1 − α
    alpha = game.label_smoothing
    per_example = -(1.0 - alpha) * jax.nn.log_sigmoid(out) - alpha * jax.nn.log_sigmoid(-out)
  return per_example.mean()


def _surrogate_d_optimizer(game: GANGame) -> optax.GradientTransformation:
  """The D update the unrolled objective differentiates: d_optimizer, then for WGAN the
  projection onto [−clip, clip] written as an update (clip(p + u) − p, differentiable)."""
  if game.loss != "wasserstein":
    return game.d_optimizer

  def update(updates, state, params):
    updates, state = game.d_optimizer.update(updates, state, params)
    target = clip_params(optax.apply_updates(params, updates), game.clip)
    return jax.tree.map(lambda t, p: t - p, target, params), state

  return optax.GradientTransformation(game.d_optimizer.init, update)


def gan_step(game: GANGame, state: TrainState, batch: Any, key: Array
             ) -> tuple[TrainState, dict[str, Array]]:
  """d_steps discriminator updates (one fresh batch each), then one generator update.

  Each D update draws z, runs G once in training mode and scores the real batch against
  those samples. The generator's update then differentiates G's loss at the updated D
  through the *same* samples of the last D update (the DCGAN reference code's scheme: one
  generator forward pass per D update), or, with `game.fresh_generator_noise`, through a
  fresh G(z) (Goodfellow et al. 2014, Alg. 1). With `game.unroll_steps` = K > 0 the last
  D update is the first of K unrolled ones and G descends its loss at θ_D^K on that
  update's samples, differentiated through all K updates (Metz et al. 2017, Eq. 7–8;
  `unrolled_generator_loss` on the samples, then one vjp through G).

  Args:
    game: the game.
    state: current state (groups "g" and "d").
    batch: {game.data_key: [B, *data_shape], 'label': [B] (conditional games)}, with a
      leading [d_steps] axis when d_steps > 1.
    key: this step's key (the loop's fold_in(step_key, step)), typed or legacy.
  Returns:
    (new state, metrics): 'loss' (= 'd_loss', the mean over the D updates), 'd_loss',
    'g_loss', 'd_grad_norm', 'g_grad_norm' and the loss's own terms ('d_real', 'd_fake',
    'critic_gap', 'gradient_penalty', BEGAN's 'k' and 'convergence', 'g_loss_unrolled').
  """
  batches = batch if game.d_steps > 1 else jax.tree.map(lambda x: x[None], batch)
  leading = {x.shape[0] for x in jax.tree.leaves(batches)}
  if leading != {game.d_steps}:
    raise validation.ArgumentError(
        "batch", f"batch must have a leading axis d_steps={game.d_steps} (the loop's "
        f"batches_per_step), got leading sizes {sorted(leading)}")
  k_d, k_g, k_unroll = jax.random.split(validation.check_key("key", key), 3)
  unrolled = game.unroll_steps > 0
  reuse_fakes = not game.fresh_generator_noise
  g_params, g_extra = state.params["g"], state.extra["g"]

  def generate(gp, z, labels):
    # Training mode (this batch's statistics); G's running averages are advanced only by
    # the pass its update differentiates.
    return apply_player(game.generator, gp, g_extra, z, labels, train=True)

  # A Python loop, not lax.scan: d_steps is small and XLA:CPU optimizes the unrolled
  # straight-line code much better (the scanned DCGAN step measured several times slower).
  d_metrics = []
  for i, k in enumerate(jax.random.split(k_d, game.d_steps)):
    last = i == game.d_steps - 1
    b = jax.tree.map(lambda x: x[i], batches)
    k_z, k_pen = jax.random.split(k)
    z, labels = _generator_inputs(game, b, k_z)
    if reuse_fakes and last:
      fake, g_vjp, g_coll = jax.vjp(lambda p: generate(p, z, labels), g_params, has_aux=True)
    else:
      fake, _ = generate(g_params, z, labels)
    fake = jax.lax.stop_gradient(fake)
    if unrolled and last:
      break  # the last D update is the unrolled objective's first step (below)
    extra = state.extra
    state, d_loss, (m, extra), d_norm = minimize(
        state, "d", lambda dp: _discriminator_objective(game, dp, extra, b, fake, k_pen),
        has_aux=True)
    state = state.replace(extra=extra)
    if game.loss == "wasserstein":
      # Arjovsky et al. 2017, Alg. 1 line 7.
      state = state.replace(params={**state.params,
                                    "d": clip_params(state.params["d"], game.clip)})
    d_metrics.append({**m, "d_loss": d_loss, "d_grad_norm": d_norm})

  g_metrics = {}
  if unrolled:
    # Metz et al. 2017, Eq. 7–8: D takes the first of the K unrolled updates (θ_D^1, with
    # its real optimizer state); G descends f_K = g_loss(θ_D^K(x), x) of the samples
    # x = G(z) of that update, differentiated w.r.t. x through all K updates (each on the
    # same real batch and the same x, with D's own optimizer and state) and then through
    # G by the one vjp of the D update's forward pass.
    pre_extra = state.extra
    d_batches = jax.tree.map(
        lambda x: jnp.broadcast_to(x, (game.unroll_steps, *x.shape)), b)

    def d_loss_fn(dp, x, batch, k):
      return _discriminator_objective(game, dp, pre_extra, batch, x, k)

    real = b[game.data_key] if game.preprocess is None else game.preprocess(b[game.data_key])

    def g_loss_fn(x, dp, k):
      del k
      loss = _generator_loss(game, dp, pre_extra, x, labels)
      if game.unroll_real_term:
        loss = loss - _real_loss(game, dp, pre_extra, real, labels)
      return loss

    def objective(x):
      return unrolled_generator_loss(k_unroll, x, state.params["d"], state.opt_state["d"],
                                     d_batches, d_loss_fn=d_loss_fn, g_loss_fn=g_loss_fn,
                                     d_optimizer=_surrogate_d_optimizer(game),
                                     unroll_steps=game.unroll_steps, d_has_aux=True)

    (g_loss_unrolled, aux), d_fake = jax.value_and_grad(objective, has_aux=True)(fake)
    (g_grads,) = g_vjp(d_fake)
    m, d_extra = aux["d_aux"]
    state = state.replace(params={**state.params, "d": aux["d_params"]},
                          opt_state={**state.opt_state, "d": aux["d_opt_state"]},
                          extra=d_extra)
    d_metrics.append({**m, "d_loss": aux["d_loss"], "d_grad_norm": aux["d_grad_norm"]})
    g_metrics["g_loss_unrolled"] = g_loss_unrolled
  d_metrics = jax.tree.map(lambda *m: jnp.mean(jnp.stack(m)), *d_metrics)
  d_params, extra = state.params["d"], state.extra

  def g_loss_at(dp, images, labels):
    return _generator_loss(game, dp, extra, images, labels)

  if unrolled:
    g_loss = g_loss_at(d_params, fake, labels)  # the K = 1 loss, at the updated D
  elif reuse_fakes:
    g_loss, d_fake = jax.value_and_grad(g_loss_at, argnums=1)(d_params, fake, labels)
    (g_grads,) = g_vjp(d_fake)
  else:
    z, labels = _generator_inputs(game, jax.tree.map(lambda x: x[-1], batches), k_g)

    def g_objective(gp):
      images, g_coll = generate(gp, z, labels)
      return g_loss_at(d_params, images, labels), g_coll

    (g_loss, g_coll), g_grads = jax.value_and_grad(g_objective, has_aux=True)(g_params)
  state, g_norm = apply_gradients(state, "g", g_grads)
  state = state.replace(step=state.step + 1, extra={**extra, "g": g_coll})
  metrics = {**d_metrics, **g_metrics, "g_loss": g_loss, "g_grad_norm": g_norm,
             "loss": d_metrics["d_loss"]}
  return state, metrics


MINIBATCH_FEATURES = ("none", "discrimination", "stddev")


def validate_gan_config(config: Any) -> None:
  """Checks the GAN keys shared by the GAN experiments (`validation.ArgumentError` naming
  `--config.<key>`, what it expects and the value).

  Keys: loss, d_steps, unroll_steps, minibatch, penalty_weight, clip, began_gamma,
  began_lambda_k, beta1, beta2, d_learning_rate, latent_dim, label_smoothing (optional).
  """
  name = lambda key: f"--config.{key}"
  validation.check_choice(name("loss"), config.loss, LOSSES)
  validation.check_choice(name("minibatch"), config.minibatch, MINIBATCH_FEATURES)
  for key, low in (("d_steps", 1), ("unroll_steps", 0), ("latent_dim", 1)):
    validation.check_int(name(key), config[key], low=low)
  for key in ("penalty_weight", "began_lambda_k"):
    validation.check_number(name(key), config[key], low=0.0)
  for key in ("clip", "d_learning_rate"):
    validation.check_number(name(key), config[key], low=0.0, low_inclusive=False)
  validation.check_number(name("began_gamma"), config.began_gamma, low=0.0, high=1.0,
                          low_inclusive=False)
  for key in ("beta1", "beta2", "label_smoothing"):
    validation.check_number(name(key), config.get(key, 0.0), low=0.0, high=1.0,
                            high_inclusive=False)
  if config.get("fresh_generator_noise", False) and config.unroll_steps > 0:
    raise validation.ArgumentError(
        name("fresh_generator_noise"), "--config.fresh_generator_noise must be False with "
        f"--config.unroll_steps={config.unroll_steps} > 0 (the unrolled objective "
        "differentiates the last D update's samples), got True")
  if config.loss in PENALIZED_LOSSES and config.minibatch != "none":
    raise validation.ArgumentError(
        name("minibatch"), f"--config.minibatch must be 'none' with loss={config.loss!r} (its "
        f"gradient penalty needs a critic that scores each example on its own), got "
        f"{config.minibatch!r}")
