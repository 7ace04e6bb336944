"""Long run (excluded by default; `pytest -m slow`): on a shortened ring budget the unrolled
GAN (K = 10, Metz et al.'s Fig. 1 setting) covers all 8 modes where the plain
non-saturating GAN stays on at most one, for each of three seeds.

The guard that would have caught the regression of issue 16 (the unrolled objective giving
one blob). Modes are counted as in the README's table (`gan.mode_coverage`: a mode counts
when ≥ 1 % of the 10k samples lie within 3σ of it).

Measured margin (commit ea65f8f + this test, one core per run, checkpoints every 2,500 of
25k-step runs): unrolled K = 10, seeds 0 / 1 / 2: 2 / 2 / 6 modes at 10k, 8 / 8 / 8 at
12.5k and at 15k (high-quality fractions at 15k 0.60 / 0.36 / 0.58), 8 / 8 / 8 at 25k;
plain non-saturating GAN, seeds 0 / 1 / 2: 0 or 1 mode at every checkpoint from 2.5k
to 25k (≤ 6.7 % high-quality samples). At K = 5 (the paper's §3.1 text) only seed 0 of the
three spreads by 25k, so K = 5 would not make a reliable guard.
"""

import pytest

from experiments.gan_mixture import config as ring_config
from experiments.gan_mixture import main as ring_main

STEPS = 15_000   # the default budget: 2,500 steps past the 12.5k where all three seeds
                 # reached 8/8
SEEDS = (0, 1, 2)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_unrolled_covers_the_ring_where_plain_collapses(tmp_path, seed):
  covered = {}
  for name, overrides in (("plain", {}), ("unrolled", {"loss": "minimax", "unroll_steps": 10})):
    config = ring_config.get_config()
    config.update(num_steps=STEPS, eval_every=STEPS, checkpoint_every=STEPS, seed=seed,
                  log_every=500, **overrides)
    result = ring_main.train_and_evaluate(config, str(tmp_path / name))
    covered[name] = result["modes_covered"]
  assert covered["unrolled"] >= 7, covered
  assert covered["plain"] <= 2, covered
