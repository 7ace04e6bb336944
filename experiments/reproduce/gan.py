"""The GAN family's README rows: the runs behind each, its "reached" cell and figures."""

from __future__ import annotations

import glob
import os
import shutil

from experiments.reproduce.main import Row
from experiments.reproduce.main import Run

RING_SEEDS = (0, 1, 2)
# BEGAN's working setting on the embedded digits (README, "BEGAN"): G's step 4× D's.
BEGAN_FLAGS = ("--config.loss=began", "--config.base_features=16",
               "--config.learning_rate=4e-4", "--config.d_learning_rate=1e-4",
               "--config.began_lambda_k=0.01", "--config.began_gamma=0.9")


def _pct(x: float) -> str:
  return f"{100 * x:.1f} %"


def _ring(results: list[dict]) -> str:
  modes = ", ".join(f"{r['modes_covered']}/8" for r in results)
  quality = ", ".join(_pct(r["high_quality_fraction"]) for r in results)
  seeds = ", ".join(str(s) for s in RING_SEEDS)
  return f"modes covered {modes}; high-quality samples {quality} (seeds {seeds})"


def _fid(r: dict) -> str:
  return f"FID {r['fid']:.1f}, precision {r['precision']:.2f}, recall {r['recall']:.2f}"


def _cyclegan(results: list[dict]) -> str:
  (r,) = results
  return (f"cycle L1 error {r['cycle_error_x']:.3f} (X) / {r['cycle_error_y']:.3f} (Y) per "
          f"pixel; identity-translation baseline {r['identity_baseline']:.3f}; translation "
          f"error vs the true T(x) {r['translation_error_xy']:.3f} / "
          f"{r['translation_error_yx']:.3f}")


def _bigan(results: list[dict]) -> str:
  (r,) = results
  return (f"{_fid(r)}; linear probe on E(x) {_pct(r['probe_accuracy'])} (random encoder "
          f"{_pct(r['probe_accuracy_random_encoder'])}, raw pixels "
          f"{_pct(r['probe_accuracy_pixels'])}); reconstruction MSE of G(E(x)) "
          f"{r['recon_mse']:.3f} vs {r['recon_mse_unrelated_digit']:.3f} for an unrelated "
          f"digit, E(x) std {r['code_std']:.2f}, D's pairing gap "
          f"{r.get('d_pairing_gap', float('nan')):.2f}")


def _began(results: list[dict]) -> str:
  (r,) = results
  return (f"{_fid(r)}; k_t {r['k']:.3f}, convergence M {r['convergence']:.3f} (autoencoder "
          f"L1 {r['real_recon']:.3f} on test digits, {r['fake_recon']:.3f} on samples)")


def _vaegan(results: list[dict]) -> str:
  (r,) = results
  return f"{_fid(r)}, recon MSE {r['recon_mse']:.4f}"


def _study(results: list[dict]) -> str:
  (r,) = results
  fids = sorted((v, k[len("fid_mean_"):]) for k, v in r.items() if k.startswith("fid_mean_"))
  return ("FID mean over seeds: " + ", ".join(f"{m} {v:.1f}" for v, m in fids) +
          " (full table: the run's study.md)")


def _last_grid(name: str):
  """Figure: the run's last sample grid (samples/step_*.png), copied to docs/<name>."""

  def figures(workdirs: list[str], docs_dir: str) -> list[str]:
    grids = sorted(glob.glob(os.path.join(workdirs[0], "samples", "step_*.png")))
    if not grids:
      return []
    os.makedirs(docs_dir, exist_ok=True)
    return [shutil.copyfile(grids[-1], os.path.join(docs_dir, name))]
  return figures


def _ring_figure(workdirs: list[str], docs_dir: str) -> list[str]:
  """Seed 0's final samples: NS (when its row ran into the same runs_dir) beside unrolled."""
  from experiments.gan_mixture import main as gan_mixture  # pylint: disable=g-import-not-at-top
  ns = os.path.join(os.path.dirname(os.path.dirname(workdirs[0])), "ring_ns", "0")
  runs = ([ns] if os.path.exists(os.path.join(ns, "results.json")) else []) + [workdirs[0]]
  labels = (["non-saturating"] if len(runs) == 2 else []) + ["minimax, unrolled K = 10"]
  return [gan_mixture.plot_comparison(runs, labels, os.path.join(
      docs_dir, "gan_mixture_ns_vs_unrolled.png"))]


def _study_figure(workdirs: list[str], docs_dir: str) -> list[str]:
  os.makedirs(docs_dir, exist_ok=True)
  return [shutil.copyfile(os.path.join(workdirs[0], "study_boxplot.png"),
                          os.path.join(docs_dir, "gan_study_small_boxplot.png"))]


ROWS = [
    Row("GAN ring of 8 Gaussians, non-saturating, default budget", "ring_ns",
        "`python -m experiments.gan_mixture --workdir=runs/ring --config.seed=S`",
        tuple(Run("experiments.gan_mixture", (f"--config.seed={s}",)) for s in RING_SEEDS),
        _ring, "mode collapse (Metz et al. 2017, Fig. 1)"),
    Row("same, unrolled K = 10 (minimax value function, as Metz et al.'s Fig. 1)",
        "ring_unrolled", "`... --config.loss=minimax --config.unroll_steps=10`",
        tuple(Run("experiments.gan_mixture", (f"--config.seed={s}", "--config.loss=minimax",
                                              "--config.unroll_steps=10"))
              for s in RING_SEEDS),
        _ring, "all 8 modes (Metz et al. 2017, Fig. 1)", _ring_figure),
    Row("DCGAN, non-saturating, 3,000 G steps", "dcgan",
        "`python -m experiments.gan_mnist --workdir=runs/gan`",
        (Run("experiments.gan_mnist"),), lambda rs: _fid(rs[0]),
        "best FID 6.8 (Lucic et al. 2018; InceptionV3 features, 60k digits, tuned)",
        _last_grid("gan_mnist_ns_samples.png")),
    Row("BEGAN, γ = 0.9, width 16, G step 4·10⁻⁴ / D 10⁻⁴, λ_k = 0.01, 3,000 G steps",
        "began",
        "`python -m experiments.gan_mnist --workdir=runs/began --config.loss=began "
        "--config.base_features=16 --config.learning_rate=4e-4 "
        "--config.d_learning_rate=1e-4 --config.began_lambda_k=0.01 --config.began_gamma=0.9`",
        (Run("experiments.gan_mnist", BEGAN_FLAGS),), _began,
        "FID 13.1 (Lucic et al. 2018, best of 100 settings)",
        _last_grid("began_mnist_samples.png")),
    Row("CycleGAN, MNIST ↔ thickened MNIST, λ=10, 1,500 steps", "cyclegan",
        "`python -m experiments.cyclegan_mnist --workdir=runs/cyclegan`",
        (Run("experiments.cyclegan_mnist"),), _cyclegan, "—",
        _last_grid("cyclegan_mnist_thicken.png")),
    Row("BiGAN/ALI, 3,000 steps", "bigan",
        "`python -m experiments.bigan_mnist --workdir=runs/bigan`",
        (Run("experiments.bigan_mnist"),), _bigan, "—", _last_grid("bigan_mnist_samples.png")),
    Row("VAE-GAN, 3,000 steps", "vaegan",
        "`python -m experiments.vaegan_mnist --workdir=runs/vaegan`",
        (Run("experiments.vaegan_mnist"),), _vaegan, "—", _last_grid("vaegan_mnist_samples.png")),
    Row("Lucic et al. study, budget `small`, 2 seeds", "study",
        "`python -m experiments.gan_study --workdir=runs/study --config.budget=small`",
        (Run("experiments.gan_study", ("--config.budget=small",)),), _study,
        "Lucic et al. 2018, Table 2", _study_figure),
]
