"""Converts the PyTorch FID InceptionV3 weights to the .npz that `gen_jax.nets.inception` loads.

  # pt_inception-2015-12-05-6726825d.pth (pytorch-fid; torch-fidelity's
  # weights-inception-2015-12-05-6726825d.pth is the same file):
  python -m gen_jax.metrics.convert_inception_weights \
      --torch pt_inception-2015-12-05-6726825d.pth --out inception_fid.npz

Needs torch to read the .pth; the .npz then loads without it. Keys of the .npz are
'params/<module path>/<name>' and 'batch_stats/<module path>/<name>'.
"""

from __future__ import annotations

import argparse
from typing import Mapping

import numpy as np

PYTORCH_FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/"
                           "fid_weights/pt_inception-2015-12-05-6726825d.pth")
TORCH_FIDELITY_WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/"
                              "v0.2.0/weights-inception-2015-12-05-6726825d.pth")

_BN_NAMES = {"weight": ("params", "scale"), "bias": ("params", "bias"),
             "running_mean": ("batch_stats", "mean"), "running_var": ("batch_stats", "var")}


def torch_to_flax(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Renames and transposes a FID-InceptionV3 state dict to flat Flax variable paths.

  Conv weights [out, in, kh, kw] -> kernel [kh, kw, in, out]; fc weight [out, in] ->
  kernel [in, out]; BatchNorm weight/bias/running_mean/running_var -> scale/bias (params)
  and mean/var (batch_stats). `num_batches_tracked` and an auxiliary head are dropped.
  """
  out = {}
  for key, value in state_dict.items():
    value = np.asarray(value, np.float32)
    parts = key.split(".")
    if parts[-1] == "num_batches_tracked" or parts[0] == "AuxLogits":
      continue
    *module, layer, name = parts
    if layer == "conv" and name == "weight":
      out["/".join(["params", *module, "conv", "kernel"])] = value.transpose(2, 3, 1, 0)
    elif layer == "bn" and name in _BN_NAMES:
      collection, flax_name = _BN_NAMES[name]
      out["/".join([collection, *module, "bn", flax_name])] = value
    elif key == "fc.weight":
      out["params/fc/kernel"] = value.T
    elif key == "fc.bias":
      out["params/fc/bias"] = value
    else:
      raise ValueError(f"unexpected key {key!r} (shape {value.shape}) in the InceptionV3 "
                       "state dict: is this the FID InceptionV3 (pt_inception-2015-12-05)?")
  return out


def load_torch_state_dict(path: str) -> dict[str, np.ndarray]:
  """Reads a .pth state dict into NumPy arrays (needs torch)."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError("reading a PyTorch .pth file needs torch (pip install torch); "
                      "convert once, then use the .npz without it") from e
  state_dict = torch.load(path, map_location="cpu", weights_only=True)
  return {k: v.detach().cpu().numpy() for k, v in state_dict.items()}


def convert(torch_path: str, out_path: str) -> None:
  np.savez(out_path, **torch_to_flax(load_torch_state_dict(torch_path)))


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--torch", required=True,
                      help=f"PyTorch state dict, e.g. from {PYTORCH_FID_WEIGHTS_URL}")
  parser.add_argument("--out", required=True, help="output .npz")
  args = parser.parse_args(argv)
  convert(args.torch, args.out)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
