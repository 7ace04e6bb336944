"""GAN losses: the player costs of the classic games and the critic penalties.

Conventions. A discriminator's raw output is a *logit*: D(x) = sigmoid(logit). Every
log D and log(1 − D) is written with `jax.nn.log_sigmoid`, i.e. in the softplus form
log σ(l) = −softplus(−l), log(1 − σ(l)) = log σ(−l), which is exact and finite for any
float32 logit (|l| up to 1e4 and beyond), values and gradients. Each loss returns a
per-example [B] array (no batch mean, optax style) and is *minimized* by its player.
"""

from typing import Callable

import chex
import jax
import jax.numpy as jnp

from gen_jax import random
from gen_jax import validation

Array = chex.Array
CriticFn = Callable[[Array], Array]


_PER_EXAMPLE = "[B] (per-example scores; squeeze a trailing [B, 1] axis first)"


def _check_score_pair(names: tuple[str, str], arrays: tuple[Array, Array]) -> None:
  """Both arrays are [B] per-example scores of one shape."""
  for name, x in zip(names, arrays):
    validation.check_rank(name, x, 1, _PER_EXAMPLE)
  validation.check_same_shape(names, arrays)


def _check_static_number(name: str, value, **interval) -> None:
  """A Python-number hyperparameter in the interval; traced values are not checked."""
  if isinstance(value, (int, float)):
    validation.check_number(name, value, **interval)


# ----------------------------------------------------------------------------
# The original game (Goodfellow et al. 2014) and its generator costs.
# ----------------------------------------------------------------------------


def minimax_discriminator_loss(real_logits: Array, fake_logits: Array, *,
                               label_smoothing: float = 0.0) -> Array:
  """Discriminator cross-entropy, −log D(x) − log(1 − D(G(z))) (Goodfellow et al. 2014).

  With one-sided label smoothing α = `label_smoothing` (Salimans et al. 2016, §3.4) the
  real target is 1 − α and the fake target stays 0:
    −(1 − α)·log D(x) − α·log(1 − D(x)) − log(1 − D(G(z))).
  Only the real side is smoothed: smoothing the fake target too would reward D for
  putting mass where p_g is large and p_data is not (the paper's argument).

  Coming from TF-GAN: `tfgan.losses.minimax_discriminator_loss` (and
  `modified_discriminator_loss`) default to label_smoothing=0.25, and smooth *towards
  1/2* through `tf.losses.sigmoid_cross_entropy` (target 1 − α_tf/2 = 0.875). Here the
  default is 0 (the paper's loss) and α moves the target towards 0, so TF-GAN's α_tf is
  `label_smoothing=α_tf / 2` here.

  Args:
    real_logits: [B] discriminator logits on data x.
    fake_logits: [B] discriminator logits on samples G(z).
    label_smoothing: α in [0, 1); the real target is 1 − α.
  Returns:
    [B] per-example loss, ≥ 0 (≥ the binary entropy of 1 − α when α > 0).
  """
  _check_score_pair(("real_logits", "fake_logits"), (real_logits, fake_logits))
  _check_static_number("label_smoothing", label_smoothing, low=0.0, high=1.0,
                       high_inclusive=False)
  # Cross-entropy with the soft target 1 − α, both logs in the stable softplus form
  # (α = 0 gives exactly −log σ(l): the second product is 0 for any finite logit).
  alpha = label_smoothing
  real_term = (-(1.0 - alpha) * jax.nn.log_sigmoid(real_logits)
               - alpha * jax.nn.log_sigmoid(-real_logits))
  return real_term - jax.nn.log_sigmoid(-fake_logits)


def minimax_generator_loss(fake_logits: Array) -> Array:
  """Saturating minimax generator cost, log(1 − D(G(z))) (Goodfellow et al. 2014, Eq. 1).

  Minimized by G. Its gradient w.r.t. the logit is −σ(l): it vanishes exactly when D
  confidently rejects the samples (l → −∞), which is why it is rarely used in practice.

  Args:
    fake_logits: [B] discriminator logits on G(z).
  Returns:
    [B] per-example cost, ≤ 0.
  """
  validation.check_rank("fake_logits", fake_logits, 1, _PER_EXAMPLE)
  return jax.nn.log_sigmoid(-fake_logits)


def non_saturating_generator_loss(fake_logits: Array) -> Array:
  """Non-saturating heuristic generator cost, −log D(G(z)) (Goodfellow et al. 2014, §3).

  Same fixed point as the minimax game, but the gradient w.r.t. the logit, −σ(−l), is
  largest when D rejects the samples: "each player has a strong gradient when it is
  losing".

  Args:
    fake_logits: [B] discriminator logits on G(z).
  Returns:
    [B] per-example cost, ≥ 0.
  """
  validation.check_rank("fake_logits", fake_logits, 1, _PER_EXAMPLE)
  return -jax.nn.log_sigmoid(fake_logits)


def maximum_likelihood_generator_loss(fake_logits: Array, *,
                                      max_logit: float = 50.0) -> Array:
  """Maximum-likelihood game cost, −½·exp(σ⁻¹(D(G(z)))) = −½·exp(logit).

  Goodfellow, "On distinguishability criteria for estimating generative models" (2014)
  and the NIPS 2016 GAN tutorial (§3.2.3, Fig. 16): if D is optimal, D = p_data /
  (p_data + p_g), so exp(logit) = p_data / p_g and the expected gradient of this cost is
  the gradient of KL(p_data ‖ p_g), i.e. maximum likelihood.

  Why it is unstable in practice: the gradient w.r.t. the logit is −½·exp(logit).
  * Early in training D confidently rejects the samples (logit ≪ 0), so exp(logit) ≈ 0
    and G receives almost no gradient — it saturates like the minimax cost (the flat
    left end of the tutorial's Fig. 16).
  * Once some samples fool D (logit ≫ 0) the per-example gradients grow exponentially:
    the minibatch gradient is dominated by the few samples with the largest logits, so
    its variance explodes (the tutorial notes that nearly all the gradient comes from
    the right end of the curve, from a small number of samples). Training is then
    high-variance and the learning rate must be tiny.

  Numerics: exp overflows float32 above logit ≈ 88.7, while sigmoid(l) already rounds to
  1 for l ≳ 17, so beyond that D(G(z)) carries no information anyway. For logits above
  `max_logit` the cost continues *linearly* (value and slope of −½·exp match at
  `max_logit`, so the cost is C¹, monotone, and finite with a finite gradient for
  logits up to 1e4 and beyond). Below `max_logit` it is exactly −½·exp(logit).

  Args:
    fake_logits: [B] discriminator logits on G(z).
    max_logit: where the exponential is continued by its tangent line.
  Returns:
    [B] per-example cost, < 0.
  """
  validation.check_rank("fake_logits", fake_logits, 1, _PER_EXAMPLE)
  clipped = jnp.minimum(fake_logits, max_logit)
  exp_clipped = jnp.exp(clipped)
  # Tangent continuation: e^m·(1 + (l − m)) for l > m; the second term is 0 for l ≤ m.
  return -0.5 * exp_clipped * (1.0 + (fake_logits - clipped))


# ----------------------------------------------------------------------------
# Least-squares GAN (Mao et al. 2017).
# ----------------------------------------------------------------------------


def least_squares_discriminator_loss(real_outputs: Array, fake_outputs: Array, *,
                                     real_target: float = 1.0,
                                     fake_target: float = 0.0) -> Array:
  """LSGAN discriminator loss, ½(D(x) − b)² + ½(D(G(z)) − a)² (Mao et al. 2017, Eq. 2).

  b = `real_target`, a = `fake_target`. D's raw (unsquashed) output is regressed.

  Args:
    real_outputs: [B] raw discriminator outputs on data.
    fake_outputs: [B] raw discriminator outputs on G(z).
  Returns:
    [B] per-example loss.
  """
  _check_score_pair(("real_outputs", "fake_outputs"), (real_outputs, fake_outputs))
  return 0.5 * (real_outputs - real_target)**2 + 0.5 * (fake_outputs - fake_target)**2


def least_squares_generator_loss(fake_outputs: Array, *, target: float = 1.0) -> Array:
  """LSGAN generator loss, ½(D(G(z)) − c)² with c = `target` (Mao et al. 2017, Eq. 2).

  Args:
    fake_outputs: [B] raw discriminator outputs on G(z).
  Returns:
    [B] per-example loss.
  """
  validation.check_rank("fake_outputs", fake_outputs, 1, _PER_EXAMPLE)
  return 0.5 * (fake_outputs - target)**2


# ----------------------------------------------------------------------------
# Hinge loss (Lim & Ye 2017; Miyato et al. 2018; the SNGAN / BigGAN default).
# ----------------------------------------------------------------------------


def hinge_discriminator_loss(real_logits: Array, fake_logits: Array) -> Array:
  """Hinge discriminator loss, max(0, 1 − D(x)) + max(0, 1 + D(G(z))).

  Geometric GAN (Lim & Ye 2017, Eq. 9) as used by SNGAN (Miyato et al. 2018, Eq. 16)
  and BigGAN (Brock et al. 2019). D's raw output (a logit, no sigmoid) is pushed above
  +1 on data and below −1 on samples; beyond the margin an example contributes neither
  loss nor gradient. Pair it with `hinge_generator_loss`.

  Args:
    real_logits: [B] raw discriminator outputs on data x.
    fake_logits: [B] raw discriminator outputs on samples G(z).
  Returns:
    [B] per-example loss, ≥ 0.
  """
  _check_score_pair(("real_logits", "fake_logits"), (real_logits, fake_logits))
  return jax.nn.relu(1.0 - real_logits) + jax.nn.relu(1.0 + fake_logits)


def hinge_generator_loss(fake_logits: Array) -> Array:
  """Hinge-game generator loss, −D(G(z)) (Lim & Ye 2017, Eq. 10; Miyato et al. 2018).

  The generator side has no margin: it is the Wasserstein generator cost applied to
  the hinge-trained discriminator's raw output.

  Args:
    fake_logits: [B] raw discriminator outputs on G(z).
  Returns:
    [B] per-example loss.
  """
  validation.check_rank("fake_logits", fake_logits, 1, _PER_EXAMPLE)
  return -fake_logits


# ----------------------------------------------------------------------------
# Wasserstein GAN (Arjovsky et al. 2017) and the gradient penalties.
# ----------------------------------------------------------------------------


def wasserstein_critic_loss(real_scores: Array, fake_scores: Array) -> Array:
  """WGAN critic loss, f(G(z)) − f(x) (Arjovsky et al. 2017, Alg. 1).

  The batch mean is minus the critic's estimate of W₁(p_data, p_g) (Kantorovich–
  Rubinstein dual); f must be kept (approximately) 1-Lipschitz by weight clipping
  (`gen_jax.gan.weight_clipping`) or a penalty (`gradient_penalty`, `dragan_penalty`).

  Args:
    real_scores: [B] critic scores f(x).
    fake_scores: [B] critic scores f(G(z)).
  Returns:
    [B] per-example loss.
  """
  _check_score_pair(("real_scores", "fake_scores"), (real_scores, fake_scores))
  return fake_scores - real_scores


def wasserstein_generator_loss(fake_scores: Array) -> Array:
  """WGAN generator loss, −f(G(z)) (Arjovsky et al. 2017, Alg. 1).

  Args:
    fake_scores: [B] critic scores f(G(z)).
  Returns:
    [B] per-example loss.
  """
  validation.check_rank("fake_scores", fake_scores, 1, _PER_EXAMPLE)
  return -fake_scores


def _per_example_input_grad_norm(critic_fn: CriticFn, x: Array) -> Array:
  """‖∇ₓ f(x)_i‖₂ for each example i of the batch x [B, ...]."""
  batch = x.shape[0]

  def summed_scores(inputs):
    scores = critic_fn(inputs)
    if jnp.shape(scores) != (batch,):
      raise validation.ArgumentError(
          "critic_fn", f"critic_fn must map a batch [B, ...] to scores of shape "
          f"[B]=({batch},), got shape {jnp.shape(scores)}")
    return jnp.sum(scores)

  # Because example i's score depends only on x_i, ∂(Σ_j f(x_j))/∂x_i = ∇f(x_i): one
  # backward pass gives all per-example gradients (cheaper than vmap(grad)).
  grads = jax.grad(summed_scores)(x)
  sq_norm = jnp.sum(grads.reshape(batch, -1)**2, axis=-1)
  # sqrt'(0) = ∞: a critic with zero input gradient (dead ReLUs) would make the
  # penalty's own gradient NaN. The double `where` keeps both branches finite.
  positive = sq_norm > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq_norm, 1.0)), 0.0)


def _norm_penalty(norm: Array, target: float, one_sided: bool) -> Array:
  """(‖g‖ − t)², or max(0, ‖g‖ − t)² when one-sided."""
  excess = norm - target
  if one_sided:
    excess = jax.nn.relu(excess)
  return excess**2


def gradient_penalty(key: chex.PRNGKey, critic_fn: CriticFn, real: Array, fake: Array,
                     *, target: float = 1.0, one_sided: bool = False) -> Array:
  """WGAN-GP penalty (‖∇ₓ̂ f(x̂)‖₂ − t)², t = `target` (Gulrajani et al. 2017, Alg. 1).

  x̂ = ε·real + (1 − ε)·fake with one ε ~ U[0, 1] *per example*, broadcast over that
  example's axes: ε has shape [B, 1, ..., 1] and is drawn as
  `jax.random.uniform(key, (B,) + (1,) * (real.ndim - 1))`. (Drawing ε per element
  samples points off the segment between x and G(z); sharing one ε over the batch
  correlates the whole penalty — the classic shape bugs.) `key` is used for ε only; a
  typed key (`jax.random.key`) and a legacy uint32 key (`jax.random.PRNGKey`) of the same
  seed give the same ε.

  The exact form, per example, with g = ∇ₓ̂ f(x̂):
    two-sided (default):  (‖g‖₂ − t)²
    `one_sided=True`:     max(0, ‖g‖₂ − t)²   (only gradients steeper than t are
      penalized: the one-sided penalty that Gulrajani et al. 2017, §4 ("two-sided
      penalty"), contrast with theirs, and the Lipschitz penalty of Petzka et al.
      2018, "On the regularization of Wasserstein GANs", which enforces ‖g‖ ≤ t
      rather than ‖g‖ = t).
  ‖g‖₂ is exact (no ε under the square root; its gradient at g = 0 is defined as 0).

  Coming from TF-GAN: `tfgan.losses.wasserstein_gradient_penalty(target=t)` computes
  (‖g‖/t − 1)² = (‖g‖ − t)²/t² (with √(‖g‖² + 1e-10)) and reduces it to a batch mean.
  The two agree only for t = 1; for another t, TF-GAN's weight λ_tf corresponds to
  λ = λ_tf / t² here (λ_tf·(‖g‖/t − 1)² = (λ_tf/t²)·(‖g‖ − t)²). The one-sided forms
  convert the same way.

  The per-example input gradients are taken as the gradient of Σ_i f(x̂_i), which is
  exact only if `critic_fn` treats examples independently: no batch norm in training
  mode, no minibatch discrimination / minibatch-stddev features. Use a critic without
  them (e.g. `DCGANDiscriminator(batch_norm=False)`), as the WGAN-GP paper prescribes.

  Args:
    key: PRNG key for the interpolation coefficients ε.
    critic_fn: maps a batch [B, ...] to scores [B]; close over the critic's params so
      that the caller can differentiate the penalty w.r.t. them.
    real: [B, ...] data batch.
    fake: [B, ...] generated batch (stop its gradient if G is not being trained).
    target: t ≥ 0, the norm the gradient is pulled towards (1 for a 1-Lipschitz critic).
    one_sided: penalize only ‖g‖ > t.
  Returns:
    [B] per-example penalty; multiply by λ (10 in the paper) and add to the critic loss.
  """
  validation.check_min_rank("real", real, 2, "[B, ...]")
  validation.check_same_shape(("real", "fake"), (real, fake))
  _check_static_number("target", target, low=0.0)
  key = validation.check_key("key", key)
  batch = real.shape[0]
  eps = random.uniform(key, (batch,) + (1,) * (real.ndim - 1), dtype=real.dtype)
  x_hat = eps * real + (1.0 - eps) * fake
  return _norm_penalty(_per_example_input_grad_norm(critic_fn, x_hat), target, one_sided)


def dragan_penalty(key: chex.PRNGKey, critic_fn: CriticFn, real: Array, *,
                   perturbation_scale: float = 0.5, target: float = 1.0,
                   one_sided: bool = False) -> Array:
  """DRAGAN penalty (‖∇ₓ̂ D(x̂)‖₂ − t)² around the data (Kodali et al. 2017).

  x̂ = x + δ with δ = perturbation_scale · std(x) · u, u ~ U[0, 1] drawn elementwise and
  std(x) the standard deviation over the *whole* batch (one scalar), as in the DRAGAN
  authors' code. `key` is used for u only (typed or legacy uint32 keys alike).
  `critic_fn` must treat examples independently (see `gradient_penalty`); it usually
  returns D's logits. The penalty's form, the one-sided variant and the conversion of
  TF-GAN-style weights (λ = λ_tf / t²) are those of `gradient_penalty`.

  Args:
    key: PRNG key for the perturbation u.
    critic_fn: maps a batch [B, ...] to scores [B].
    real: [B, ...] data batch.
    perturbation_scale: C in δ = C·std(x)·u (0.5 in the paper's code).
    target: t ≥ 0, the norm the gradient is pulled towards.
    one_sided: penalize only ‖g‖ > t, i.e. max(0, ‖g‖ − t)².
  Returns:
    [B] per-example penalty; multiply by λ (10 in the paper) and add to D's loss.
  """
  validation.check_min_rank("real", real, 2, "[B, ...]")
  _check_static_number("target", target, low=0.0)
  key = validation.check_key("key", key)
  u = random.uniform(key, real.shape, dtype=real.dtype)
  x_hat = real + perturbation_scale * jnp.std(real) * u
  return _norm_penalty(_per_example_input_grad_norm(critic_fn, x_hat), target, one_sided)


# ----------------------------------------------------------------------------
# BEGAN (Berthelot et al. 2017): the discriminator is an autoencoder.
# ----------------------------------------------------------------------------


def began_discriminator_loss(real_recon: Array, fake_recon: Array, k: Array) -> Array:
  """BEGAN discriminator loss, L(x) − k_t·L(G(z)) (Berthelot et al. 2017, Eq. 4).

  L(v) = ‖v − AE(v)‖₁ (or ‖·‖₁ to a power η) is the autoencoder-discriminator's
  per-example reconstruction loss. k_t is a control variable, not a parameter: no
  gradient flows into it (update it with `gen_jax.gan.began_k_update`).

  Args:
    real_recon: [B] reconstruction losses L(x) on data.
    fake_recon: [B] reconstruction losses L(G(z)) on samples.
    k: scalar k_t ∈ [0, 1].
  Returns:
    [B] per-example loss.
  """
  _check_score_pair(("real_recon", "fake_recon"), (real_recon, fake_recon))
  k = jnp.asarray(k)
  validation.check_rank("k", k, 0, "[] (a scalar k_t)")
  return real_recon - jax.lax.stop_gradient(k) * fake_recon


def began_generator_loss(fake_recon: Array) -> Array:
  """BEGAN generator loss, L(G(z)) (Berthelot et al. 2017, Eq. 4).

  Args:
    fake_recon: [B] reconstruction losses L(G(z)) of the autoencoder-discriminator.
  Returns:
    [B] per-example loss.
  """
  validation.check_rank("fake_recon", fake_recon, 1, _PER_EXAMPLE)
  return fake_recon
