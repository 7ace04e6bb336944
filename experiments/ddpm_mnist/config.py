"""Default config: a DDPM (ε-prediction, linear schedule, T = 1000) with a small UNet on
embedded MNIST (28×28, 256 levels scaled to [-1, 1]).

Every key can be overridden: --config.<key>=<value>. The trailing comment of each
`c.<key> = ...` line is its `--help` description. `--config.preset=cifar10_ddpm` switches
to the DDPM paper's CIFAR-10 setup (TFDS data, 35.7M-parameter UNet, batch 128, 800k steps):
for users with the data and a GPU.
"""

import ml_collections

from gen_jax.training import common_config


def get_config() -> ml_collections.ConfigDict:
  c = common_config()
  c.preset = "none"          # none | cifar10_ddpm (the paper's CIFAR-10 model and schedule)
  c.num_steps = 2000
  c.batch_size = 64
  c.learning_rate = 2e-4     # Adam step size (DDPM: 2e-4)
  c.grad_clip = 1.0          # global gradient-norm clip (DDPM: 1.0; 0 = none)
  c.warmup_steps = 100       # linear learning-rate warm-up steps (DDPM: 5000)
  c.ema_decay = 0.999        # decay of the EMA parameters used to evaluate and sample (DDPM: 0.9999)
  c.log_every = 50
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.dataset = "mnist"
  c.image_size = 28          # 28 (MNIST's own) or 32 (zero-padded by 2 to [-1]-valued borders)

  c.num_timesteps = 1000     # diffusion steps T
  c.schedule = "linear"      # linear (β 1e-4 … 0.02) | cosine (Nichol & Dhariwal)
  c.prediction = "eps"       # eps | x0 | v: what the network predicts
  c.learned_variance = False  # also predict the reverse variances (hybrid loss, 2× output channels)
  c.hybrid_weight = 0.001    # λ of the hybrid loss L_simple + λ L_vlb (learned_variance)
  c.variance = "beta"         # fixed reverse variance σ_t²: beta | posterior (β̃_t); ignored with learned_variance

  c.base_channels = 32       # UNet channels at full resolution
  c.channel_mults = (1, 2)   # UNet channel multipliers per level (each but the last halves H, W)
  c.num_res_blocks = 1       # UNet residual blocks per level
  c.attention_resolutions = (14,)  # feature-map sides with self-attention
  c.dropout = 0.1            # dropout rate in the UNet's residual blocks
  c.num_groups = 8           # GroupNorm groups

  c.class_conditional = False  # condition on the digit label (classifier-free guidance)
  c.label_dropout = 0.1      # probability of training on the null label (classifier-free guidance)
  c.guidance_scale = 1.0     # sampling: ε = (1 + w)·ε(x, y) − w·ε(x, ∅) with w = guidance_scale − 1

  c.ddim_steps = 50          # DDIM sampler steps
  c.num_sample_images = 64   # images in each samples/*.png grid and in the sampler timings
  c.num_fid_samples = 1000   # ancestral samples for fid / precision / recall (0 = skip)
  c.bound_examples = 100     # test digits for the full variational bound (test_bpd)
  c.eval_batch_size = 100    # test digits per batch of the bound
  c.trajectory_steps = 10    # frames of the denoising-trajectory strip
  return c


# The DDPM paper's CIFAR-10 setup (Ho et al. 2020, §4 and appendix B): applied by
# `apply_preset` to every key still at its default, so keys set on the command line win.
PRESETS = {
    "cifar10_ddpm": dict(
        dataset="tfds:cifar10", image_size=32, batch_size=128, num_steps=800_000,
        learning_rate=2e-4, grad_clip=1.0, warmup_steps=5000, ema_decay=0.9999,
        eval_every=50_000, checkpoint_every=10_000, num_timesteps=1000, schedule="linear",
        base_channels=128, channel_mults=(1, 2, 2, 2), num_res_blocks=2,
        attention_resolutions=(16,), dropout=0.1, num_groups=32, num_fid_samples=50_000,
        bound_examples=10_000),
}


def apply_preset(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """A copy of `config` with `config.preset`'s values for the keys left at their defaults."""
  if config.preset == "none":
    return config
  defaults = get_config()
  out = ml_collections.ConfigDict(config.to_dict())
  for key, value in PRESETS[config.preset].items():
    if out[key] == defaults[key]:
      out[key] = value
  return out
