"""Command line: sample-quality metrics between two image sets.

  python -m gen_jax.metrics --real REAL --fake FAKE --features mnist \
      [--inception-weights inception_fid.npz] [--metrics fid,kid,is,pr] [--out results.json]
      [--seed 0] [--kid-subset-size N]

REAL / FAKE: a directory of PNG files (read in sorted name order) or an .npz holding the
images under the key 'image' (or as its only array); uint8 arrays are divided by 255,
float arrays must already be in [0, 1]; [N, H, W] gets a channel axis.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from gen_jax import validation
from gen_jax.metrics._evaluate import evaluate_samples


def load_images(path: str) -> np.ndarray:
  """float32 [N, H, W, C] in [0, 1] from a PNG directory or an .npz file."""
  if os.path.isdir(path):
    from PIL import Image  # pylint: disable=g-import-not-at-top
    names = sorted(n for n in os.listdir(path) if n.lower().endswith(".png"))
    if not names:
      raise validation.ArgumentError("path", f"no .png files in directory {path!r}")
    images = np.stack([np.asarray(Image.open(os.path.join(path, n))) for n in names])
  elif path.endswith(".npz") and os.path.exists(path):
    with np.load(path) as f:
      if "image" in f.files:
        images = f["image"]
      elif len(f.files) == 1:
        images = f[f.files[0]]
      else:
        raise validation.ArgumentError(
            "path", f"{path!r} must hold the key 'image' or a single array, has keys "
            f"{f.files}")
  else:
    raise validation.ArgumentError(
        "path", f"{path!r} is neither a directory of PNGs nor an existing .npz file")
  if images.ndim == 3:
    images = images[..., None]
  validation.check_rank(f"images in {path!r}", images, 4, "[N, H, W] or [N, H, W, C]")
  if np.issubdtype(images.dtype, np.integer):
    return images.astype(np.float32) / 255.0
  validation.check_range(f"float images in {path!r}", images, 0.0, 1.0)
  return images.astype(np.float32)


def _format_table(results: dict[str, float]) -> str:
  width = max(len(k) for k in results)
  return "\n".join(f"{k:<{width}}  {v:.6g}" for k, v in results.items())


def main(argv: list[str] | None = None) -> dict[str, float]:
  parser = argparse.ArgumentParser(prog="python -m gen_jax.metrics",
                                   description=__doc__.splitlines()[0])
  parser.add_argument("--real", required=True, help="PNG directory or .npz of real images")
  parser.add_argument("--fake", required=True, help="PNG directory or .npz of generated images")
  parser.add_argument("--features", choices=("mnist", "inception"), default="mnist")
  parser.add_argument("--inception-weights", default=None,
                      help="converted FID InceptionV3 .npz (see convert_inception_weights)")
  parser.add_argument("--metrics", default="fid,kid,is,pr",
                      help="comma-separated: fid, kid, is, pr (precision and recall), prd")
  parser.add_argument("--seed", type=int, default=0,
                      help="seed of the key for the KID subsets, the IS splits and PRD")
  parser.add_argument("--kid-subset-size", type=int, default=None,
                      help="rows per KID subset (default: 1000, or half the smaller set)")
  parser.add_argument("--out", default=None, help="write the results as JSON here")
  args = parser.parse_args(argv)

  import jax  # pylint: disable=g-import-not-at-top
  real, fake = load_images(args.real), load_images(args.fake)
  metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
  results = evaluate_samples(jax.random.key(args.seed), real, fake, metrics=metrics,
                             features=args.features, inception_weights=args.inception_weights,
                             kid_subset_size=args.kid_subset_size)
  print(f"{len(real)} real vs {len(fake)} fake images, {args.features} features")
  print(_format_table(results))
  if args.out:
    with open(args.out, "w") as f:
      json.dump(results, f, indent=2)
  return results


if __name__ == "__main__":
  try:
    main()
  except (ValueError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
