"""The Flax FID InceptionV3 against torch-fidelity's FeatureExtractorInceptionV3.

Both are built with the same random weights (no download): a random PyTorch state dict is
saved, converted by `gen_jax.metrics.convert_inception_weights`, and loaded into Flax.
Needs `torch` and `torch-fidelity` (installed with `pip install --no-deps torch-fidelity`:
its package __init__ imports torchvision, which the module used here does not need, so
the module is loaded from the package directory without running that __init__).
"""

import importlib.util
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.metrics import convert_inception_weights
from gen_jax.metrics import inception_feature_extractor
from gen_jax.metrics import InceptionWeightsNotFoundError
from gen_jax.metrics import load_inception_variables
from gen_jax.nets.inception import InceptionV3
from gen_jax.nets.inception import resize_bilinear_tf1

torch = pytest.importorskip("torch")


def _torch_fidelity_module(name):
  """Imports torch_fidelity.<name> without the package __init__ (which needs torchvision)."""
  if "torch_fidelity" not in sys.modules:
    spec = importlib.util.find_spec("torch_fidelity")
    if spec is None:
      pytest.skip("torch-fidelity is not installed (pip install --no-deps torch-fidelity)")
    package = types.ModuleType("torch_fidelity")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["torch_fidelity"] = package
  return importlib.import_module(f"torch_fidelity.{name}")


def _random_state_dict(reference, seed=0):
  """He-scaled conv weights and BatchNorm statistics that keep activations O(1) over 94
  layers, so that a relative tolerance on the outputs is meaningful."""
  blocks = {
      "Conv2d_1a_3x3": (reference.BasicConv2d, (3, 32), dict(kernel_size=3, stride=2)),
      "Conv2d_2a_3x3": (reference.BasicConv2d, (32, 32), dict(kernel_size=3)),
      "Conv2d_2b_3x3": (reference.BasicConv2d, (32, 64), dict(kernel_size=3, padding=1)),
      "Conv2d_3b_1x1": (reference.BasicConv2d, (64, 80), dict(kernel_size=1)),
      "Conv2d_4a_3x3": (reference.BasicConv2d, (80, 192), dict(kernel_size=3)),
      "Mixed_5b": (reference.InceptionA, (192,), dict(pool_features=32)),
      "Mixed_5c": (reference.InceptionA, (256,), dict(pool_features=64)),
      "Mixed_5d": (reference.InceptionA, (288,), dict(pool_features=64)),
      "Mixed_6a": (reference.InceptionB, (288,), {}),
      "Mixed_6b": (reference.InceptionC, (768,), dict(channels_7x7=128)),
      "Mixed_6c": (reference.InceptionC, (768,), dict(channels_7x7=160)),
      "Mixed_6d": (reference.InceptionC, (768,), dict(channels_7x7=160)),
      "Mixed_6e": (reference.InceptionC, (768,), dict(channels_7x7=192)),
      "Mixed_7a": (reference.InceptionD, (768,), {}),
      "Mixed_7b": (reference.InceptionE_1, (1280,), {}),
      "Mixed_7c": (reference.InceptionE_2, (2048,), {}),
  }
  torch.manual_seed(seed)
  net = torch.nn.Module()
  for name, (cls, args, kwargs) in blocks.items():
    net.add_module(name, cls(*args, **kwargs))
  net.add_module("fc", torch.nn.Linear(2048, 1008))
  with torch.no_grad():
    for module in net.modules():
      if isinstance(module, torch.nn.Conv2d):
        fan_in = module.weight[0].numel()
        module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5)
      elif isinstance(module, torch.nn.BatchNorm2d):
        module.weight.uniform_(0.5, 1.5)
        module.bias.uniform_(-0.2, 0.2)
        module.running_mean.uniform_(-0.2, 0.2)
        module.running_var.uniform_(0.5, 1.5)
  return net.state_dict()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
  reference = _torch_fidelity_module("feature_extractor_inceptionv3")
  directory = tmp_path_factory.mktemp("inception")
  pth = str(directory / "random_inception.pth")
  npz = str(directory / "random_inception.npz")
  torch.save(_random_state_dict(reference), pth)
  convert_inception_weights.main(["--torch", pth, "--out", npz])
  torch_model = reference.FeatureExtractorInceptionV3(
      "inception-v3-compat", ["2048", "logits_unbiased", "logits"],
      feature_extractor_weights_path=pth)
  return torch_model, npz


def test_matches_torch_fidelity(weights):
  torch_model, npz = weights
  rng = np.random.default_rng(0)
  # Two images: a 28x28 gray digit-like image tiled to RGB (the MNIST use) and a 299x299
  # RGB one (no resize), both uint8 as the reference requires.
  small = np.repeat(rng.integers(0, 256, (1, 28, 28, 1), dtype=np.uint8), 3, axis=-1)
  full = rng.integers(0, 256, (1, 299, 299, 3), dtype=np.uint8)
  variables = load_inception_variables(npz)
  apply = jax.jit(InceptionV3().apply)
  for images in (small, full):
    with torch.no_grad():
      expected = [t.numpy() for t in torch_model(torch.from_numpy(images).permute(0, 3, 1, 2))]
    out = apply(variables, jnp.asarray(images, jnp.float32))
    for name, ref in zip(("pool3", "logits_unbiased", "logits"), expected):
      got = np.asarray(out[name])
      assert got.shape == ref.shape, name
      # float32 convolutions summed in another order over 94 layers: measured max error
      # 7e-7 x max|ref|; a count_include_pad=True avg pool would give 4e-2.
      scale = np.abs(ref).max()
      np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5 * scale, err_msg=name)


def test_resize_matches_torch_fidelity():
  interp = _torch_fidelity_module("interpolate_compat_tensorflow")
  images = np.random.default_rng(1).uniform(0, 255, (2, 3, 28, 28)).astype(np.float32)
  expected = interp.interpolate_bilinear_2d_like_tensorflow1x(
      torch.from_numpy(images), size=(299, 299), align_corners=False).numpy()
  got = jax.jit(resize_bilinear_tf1, static_argnums=1)(
      jnp.asarray(images.transpose(0, 2, 3, 1)), (299, 299))
  np.testing.assert_allclose(np.asarray(got).transpose(0, 3, 1, 2), expected, atol=1e-4)


def test_extractor_on_gray_unit_images(weights):
  torch_model, npz = weights
  images = np.random.default_rng(2).uniform(size=(1, 28, 28, 1)).astype(np.float32)
  features, logits = inception_feature_extractor(npz, batch_size=4)(images)
  pixels = np.repeat(np.round(images * 255).astype(np.uint8), 3, -1)
  with torch.no_grad():
    ref_features, ref_logits, _ = torch_model(torch.from_numpy(pixels).permute(0, 3, 1, 2))
  assert features.shape == (1, 2048) and logits.shape == (1, 1008)
  np.testing.assert_allclose(features, ref_features.numpy(),
                             atol=2e-5 * np.abs(ref_features.numpy()).max())
  np.testing.assert_allclose(logits, ref_logits.numpy(),
                             atol=2e-5 * np.abs(ref_logits.numpy()).max())


def test_missing_weights_error_says_where_to_get_them(tmp_path, monkeypatch):
  monkeypatch.delenv("GEN_JAX_INCEPTION_WEIGHTS", raising=False)
  with pytest.raises(InceptionWeightsNotFoundError, match="pt_inception-2015-12-05") as info:
    load_inception_variables(str(tmp_path / "absent.npz"))
  assert "github.com/mseitzer/pytorch-fid/releases" in str(info.value)
  assert "--inception-weights" in str(info.value)


def test_converter_rejects_foreign_state_dict():
  with pytest.raises(ValueError, match="unexpected key 'features.0.weight'"):
    convert_inception_weights.torch_to_flax({"features.0.weight": np.zeros((3, 3))})
