"""One call from samples to metric numbers, for the experiments' final evaluation."""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np

from gen_jax import validation
from gen_jax.metrics._features import FeatureExtractor
from gen_jax.metrics._features import inception_feature_extractor
from gen_jax.metrics._features import mnist_feature_extractor
from gen_jax.metrics._frechet import frechet_inception_distance
from gen_jax.metrics._inception_score import inception_score
from gen_jax.metrics._kid import check_subset_size
from gen_jax.metrics._kid import kernel_inception_distance
from gen_jax.metrics._prd import prd
from gen_jax.metrics._prd import prd_f_beta
from gen_jax.metrics._precision_recall import precision_recall

METRICS = ("fid", "kid", "is", "precision", "recall", "prd")
DEFAULT_METRICS = ("fid", "kid", "is", "precision", "recall")


def _extractor(features: str | FeatureExtractor, inception_weights: str | None):
  if isinstance(features, FeatureExtractor):
    return features
  if features == "mnist":
    return mnist_feature_extractor()
  if features == "inception":
    return inception_feature_extractor(inception_weights)
  raise validation.ArgumentError(
      "features", f"features must be 'mnist', 'inception' or a FeatureExtractor, got "
      f"{features!r}")


def default_kid_subset_size(num_real: int, num_fake: int) -> int:
  """Binkowski et al.'s 1000 rows per KID subset, or half the smaller set if that is less.

  Half, so that the subsets of the smaller set genuinely differ from one another (a
  subset of all rows would be the same set every time: see `kernel_inception_distance`).
  """
  return min(1000, min(num_real, num_fake) // 2)


def evaluate_samples(key: jax.Array, real_images, fake_images, *,
                     metrics: Sequence[str] = DEFAULT_METRICS,
                     features: str | FeatureExtractor = "mnist",
                     inception_weights: str | None = None, kid_subsets: int = 100,
                     kid_subset_size: int | None = None, is_splits: int = 10, pr_k: int = 3,
                     progress: bool | None = None) -> dict[str, float]:
  """Sample-quality metrics of generated images against real ones.

  Args:
    key: PRNG key (typed `jax.random.key` or legacy uint32 `jax.random.PRNGKey`; the same
      seed gives the same numbers) for the KID subsets, the Inception Score's split
      permutation and the PRD clustering: split into three as
      `kid_key, is_key, prd_key = jax.random.split(key, 3)`. FID and precision/recall
      are deterministic and do not use it.
    real_images, fake_images: float32 [N, H, W, C] in [0, 1] ([N, 28, 28, 1] for 'mnist').
    metrics: any of 'fid', 'kid', 'is', 'precision', 'recall', 'prd' ('pr' = both).
    features: 'mnist' (shipped classifier), 'inception' (FID InceptionV3, needs
      `inception_weights`), or a `FeatureExtractor`.
    inception_weights: path of the converted InceptionV3 weights.
    kid_subsets: number of KID subsets (100 in Binkowski et al.).
    kid_subset_size: rows per KID subset. None (default): 1000 (Binkowski et al.), or
      half the smaller set when it has fewer than 2,000 rows (500 for 1,000 vs 1,000), so
      that subsets differ; the size used is returned as 'kid_subset_size'. An int is used
      as given and must satisfy `kernel_inception_distance`'s rule (ValueError otherwise).
    is_splits: Inception Score splits of the fake samples (rows permuted with the key).
    pr_k: k of the improved precision/recall.
    progress: tqdm over feature batches (default: only when stderr is a terminal).
  Returns:
    {'fid', 'kid', 'kid_std', 'kid_subset_size', 'is', 'is_std', 'precision', 'recall',
     'prd_f8', 'prd_f1_8'} restricted to what was asked, as Python floats. IS is of the
    fake samples.
  """
  key = validation.check_key("key", key)
  wanted = set()
  for m in metrics:
    if m == "pr":
      wanted |= {"precision", "recall"}
    elif m in METRICS:
      wanted.add(m)
    else:
      raise validation.ArgumentError(
          "metrics", f"metrics must be a subset of {METRICS + ('pr',)}, got {m!r}")
  kid_key, is_key, prd_key = jax.random.split(key, 3)
  if "kid" in wanted:
    num_real, num_fake = len(real_images), len(fake_images)
    if kid_subset_size is None:
      kid_subset_size = default_kid_subset_size(num_real, num_fake)
      if kid_subset_size < 2:
        raise validation.ArgumentError(
            "real_images", f"KID subsets need at least 4 real and 4 fake images, got "
            f"{num_real} real and {num_fake} fake")
    # Before the (slow) feature extraction: a bad size fails at once.
    check_subset_size(kid_subset_size, num_real, num_fake, name="kid_subset_size",
                      alternative="kid_subset_size=None for the default choice")
  extractor = _extractor(features, inception_weights)
  need_real = wanted - {"is"}
  real_feats = extractor(real_images, progress=progress)[0] if need_real else None
  fake_feats, fake_logits = extractor(fake_images, progress=progress)
  out: dict[str, float] = {}
  if "fid" in wanted:
    out["fid"] = frechet_inception_distance(real_feats, fake_feats)
  if "kid" in wanted:
    mean, std = jax.jit(kernel_inception_distance, static_argnames=(
        "num_subsets", "subset_size"))(real_feats, fake_feats, key=kid_key,
                                       num_subsets=kid_subsets, subset_size=kid_subset_size)
    out["kid"], out["kid_std"] = float(mean), float(std)
    out["kid_subset_size"] = float(kid_subset_size)
  if "is" in wanted:
    mean, std = jax.jit(inception_score, static_argnames="num_splits")(
        is_key, fake_logits, num_splits=is_splits)
    out["is"], out["is_std"] = float(mean), float(std)
  if wanted & {"precision", "recall"}:
    p, r = jax.jit(precision_recall, static_argnames=("k", "block_size"))(
        real_feats, fake_feats, k=pr_k)
    if "precision" in wanted:
      out["precision"] = float(p)
    if "recall" in wanted:
      out["recall"] = float(r)
  if "prd" in wanted:
    precision, recall = jax.jit(prd)(prd_key, real_feats, fake_feats)
    f8, f1_8 = prd_f_beta(precision, recall)
    out["prd_f8"], out["prd_f1_8"] = float(f8), float(f1_8)
  return {k: float(np.asarray(v)) for k, v in out.items()}
