"""Throughput of the FID feature extractors: Flax InceptionV3 vs torch-fidelity, MNIST FID.

  python benchmarks/bench_inception_features.py            # small on CPU, full size on GPU
  python benchmarks/bench_inception_features.py --num-images 2000 --batch-size 200

Inception: both networks get the same weights (the converted .npz given by --weights, or
torch-fidelity's module with its default random init, converted) and the same uint8 28x28
gray images tiled to RGB (the MNIST use); each does its own resize to 299. Reports images/s
after one warm-up batch and the largest feature difference. PyTorch runs on CUDA when
available, like JAX. The MNIST part times FID of 10k vs 10k digits drawn with replacement
from the embedded data: feature extraction plus the float64 Frechet distance.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import types

import jax
import numpy as np


def _torch_reference():
  """torch-fidelity's FeatureExtractorInceptionV3 with random weights, or None."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None, None
  if "torch_fidelity" not in sys.modules:
    spec = importlib.util.find_spec("torch_fidelity")
    if spec is None:
      return torch, None
    # The package __init__ imports torchvision, which this module does not need.
    package = types.ModuleType("torch_fidelity")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["torch_fidelity"] = package
  import torch_fidelity.feature_extractor_inceptionv3 as ref  # pylint: disable=g-import-not-at-top

  class RandomInception(ref.FeatureExtractorInceptionV3):
    def load_state_dict(self, state_dict, strict=True, assign=False):  # keep the random init
      del state_dict, strict, assign

  ref.load_state_dict_from_url = lambda *a, **k: {}  # no download
  model = RandomInception("inception-v3-compat", ["2048", "logits_unbiased"])
  return torch, model


def _time(fn, images, batch_size):
  fn(images[:batch_size])  # warm-up: compilation / allocator
  start = time.perf_counter()
  out = fn(images)
  return time.perf_counter() - start, out


def bench_inception(num_images: int, batch_size: int, weights: str | None) -> dict:
  from gen_jax.metrics import FeatureExtractor  # pylint: disable=g-import-not-at-top
  from gen_jax.metrics import convert_inception_weights  # pylint: disable=g-import-not-at-top
  from gen_jax.metrics import load_inception_variables  # pylint: disable=g-import-not-at-top
  from gen_jax.metrics._features import _inception_apply  # pylint: disable=g-import-not-at-top

  torch, torch_model = _torch_reference()
  if weights:
    variables = load_inception_variables(weights)
  elif torch_model is not None:
    state = {k: v.numpy() for k, v in torch_model.state_dict().items()}
    flat = convert_inception_weights.torch_to_flax(state)
    variables = {}
    for key, value in flat.items():
      node = variables
      *parents, leaf = key.split("/")
      for p in parents:
        node = node.setdefault(p, {})
      node[leaf] = value
  else:
    from gen_jax.nets.inception import InceptionV3  # pylint: disable=g-import-not-at-top
    variables = InceptionV3().init(jax.random.key(0), np.zeros((1, 299, 299, 3), np.float32))

  rng = np.random.default_rng(0)
  pixels = rng.integers(0, 256, (num_images, 28, 28, 1), dtype=np.uint8)
  images = pixels.astype(np.float32) / 255.0
  extractor = FeatureExtractor(_inception_apply, variables, image_shape=(None, None, None),
                               batch_size=batch_size, name="inception")
  jax_s, (jax_features, _) = _time(lambda x: extractor(x, progress=False), images, batch_size)
  result = {"jax_backend": jax.default_backend(), "devices": jax.device_count(),
            "num_images": num_images, "batch_size": extractor.batch_size,
            "jax_images_per_s": num_images / jax_s}
  if torch_model is not None and not weights:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch_model = torch_model.to(device)
    nchw = torch.from_numpy(np.repeat(pixels, 3, -1)).permute(0, 3, 1, 2).contiguous()

    def run_torch(x):
      outs = []
      with torch.no_grad():
        for start in range(0, len(x), batch_size):
          outs.append(torch_model(x[start:start + batch_size].to(device))[0].cpu())
      return torch.cat(outs).numpy()

    torch_s, torch_features = _time(run_torch, nchw, batch_size)
    result.update(torch_device=device, torch_threads=torch.get_num_threads(),
                  torch_images_per_s=num_images / torch_s,
                  jax_over_torch_speed=torch_s / jax_s,
                  max_abs_feature_diff=float(np.abs(jax_features - torch_features).max()),
                  max_abs_feature=float(np.abs(torch_features).max()))
  return result


def bench_mnist_fid(num_images: int) -> dict:
  from gen_jax.data import load_dataset  # pylint: disable=g-import-not-at-top
  from gen_jax.metrics import frechet_inception_distance  # pylint: disable=g-import-not-at-top
  from gen_jax.metrics import mnist_feature_extractor  # pylint: disable=g-import-not-at-top

  train = load_dataset("mnist", "train").images
  test = load_dataset("mnist", "test").images
  rng = np.random.default_rng(0)
  a = train[rng.integers(0, len(train), num_images)]
  b = test[rng.integers(0, len(test), num_images)]
  extractor = mnist_feature_extractor()
  extractor(a[:extractor.batch_size], progress=False)  # compile outside the timing
  start = time.perf_counter()
  fid = frechet_inception_distance(extractor(a, progress=False)[0],
                                   extractor(b, progress=False)[0])
  return {"mnist_fid_num_images": num_images, "mnist_fid": fid,
          "mnist_fid_wall_s": time.perf_counter() - start}


def main() -> None:
  on_accelerator = jax.default_backend() != "cpu"
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num-images", type=int, default=2000 if on_accelerator else 16)
  parser.add_argument("--batch-size", type=int, default=200 if on_accelerator else 8)
  parser.add_argument("--weights", default=None, help="converted InceptionV3 .npz (optional)")
  parser.add_argument("--mnist-fid-images", type=int, default=10_000)
  args = parser.parse_args()
  result = bench_inception(args.num_images, args.batch_size, args.weights)
  result.update(bench_mnist_fid(args.mnist_fid_images))
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
