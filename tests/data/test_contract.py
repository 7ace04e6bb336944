"""The data contract: ArrayDataset of any keys and shapes, element_spec, gather, validation."""

import jax
import numpy as np
import pytest

from gen_jax import data
from gen_jax import training


def test_array_dataset_of_any_keys_and_shapes():
  rng = np.random.default_rng(0)
  arrays = {"x": rng.normal(size=(10, 2)).astype(np.float32),
            "tokens": rng.integers(0, 5, (10, 3, 4)).astype(np.int32)}
  ds = data.ArrayDataset(arrays=arrays, name="toy", value_range={"tokens": (0, 4)})
  assert isinstance(ds, data.DataSource) and len(ds) == 10
  assert ds.element_spec == {"x": jax.ShapeDtypeStruct((2,), np.float32),
                             "tokens": jax.ShapeDtypeStruct((3, 4), np.int32)}
  assert ds.info.name == "toy" and ds.info.num_examples == 10 and ds.num_classes is None
  assert ds.info.value_range == {"tokens": (0, 4)}
  batch = ds.gather(np.array([7, 2, 7]))
  np.testing.assert_array_equal(batch["x"], arrays["x"][[7, 2, 7]])
  np.testing.assert_array_equal(batch["tokens"], arrays["tokens"][[7, 2, 7]])
  np.testing.assert_array_equal(ds["x"], arrays["x"])
  with pytest.raises(AttributeError, match=r"no 'image' array.*\['tokens', 'x'\]"):
    _ = ds.images
  with pytest.raises(ValueError, match=r"\[0, 10\)"):
    ds.gather(np.array([10]))


def test_leading_sizes_must_agree():
  with pytest.raises(ValueError, match=r"'label'.*expected shape \[5, \.\.\.\], got \(4,\)"):
    data.ArrayDataset(np.zeros((5, 2, 2, 1)), np.zeros(4, np.int32), "bad")
  with pytest.raises(ValueError, match=r"'y'.*expected shape \[3, \.\.\.\], got \(\)"):
    data.ArrayDataset(arrays={"x": np.zeros((3, 2)), "y": np.float32(1.0)})


def test_image_accessors_keep_working():
  images = np.random.default_rng(1).uniform(size=(6, 4, 4, 1)).astype(np.float32)
  labels = np.array([0, 1, 2, 0, 1, 2], np.int32)
  ds = data.ArrayDataset(images, labels, "imgs")
  assert ds.image_shape == (4, 4, 1) and ds.num_classes == 3 and ds.name == "imgs"
  np.testing.assert_array_equal(ds.images, images)
  np.testing.assert_array_equal(ds.labels, labels)
  assert set(ds.gather([0, 1])) == {"image", "label"}
  mnist = data.load_dataset("mnist", "test")
  assert mnist.num_classes == 10 and mnist.info.value_range == {"image": (0.0, 1.0)}


def test_every_source_implements_the_protocol():
  for name in ("digits", "moons", "binarized_mnist", "dynamic_binarized_mnist"):
    ds = data.load_dataset(name, "train")
    assert isinstance(ds, data.DataSource), name
    batch = ds.gather(np.arange(3), jax.random.key(0))
    assert {k: (v.shape[1:], v.dtype) for k, v in batch.items()} == {
        k: (s.shape, s.dtype) for k, s in ds.element_spec.items()}, name


def test_step_batch_reads_rows_and_stacks_batches_per_step():
  ds = data.load_dataset("moons", "test")
  key = jax.random.key(1)
  full = data.step_batch(ds, key, 3, batch_size=8, batches_per_step=2)
  assert full["x"].shape == (2, 8, 2) and full["label"].shape == (2, 8)
  for j in range(2):
    idx = data.batch_indices(key, 3 * 2 + j, num_examples=len(ds), batch_size=8)
    np.testing.assert_array_equal(full["x"][j], ds["x"][idx])
  rows = np.array([4, 5, 6, 7])
  part = data.step_batch(ds, key, 3, batch_size=8, batches_per_step=2, rows=rows, keys=("x",))
  assert set(part) == {"x"}
  np.testing.assert_array_equal(part["x"], full["x"][:, rows])
  with pytest.raises(ValueError, match=r"'image'.*\['label', 'x'\]"):
    data.step_batch(ds, key, 0, batch_size=8, keys=("image",))


def test_prefetched_is_in_order_with_threads():
  fn = lambda s: {"s": np.full((2,), s)}
  for threads in (0, 3):
    got = [int(b["s"][0]) for b in data.prefetched(fn, 5, 17, num_threads=threads)]
    assert got == list(range(5, 17))


def test_map_batches_on_dicts_of_any_shape_and_on_sources():
  rng = np.random.default_rng(2)
  arrays = {"x": rng.normal(size=(13, 2)).astype(np.float32),
            "y": rng.normal(size=(13, 3, 4)).astype(np.float32)}
  fn = lambda b: {"s": b["x"].sum(-1) + b["y"].sum((1, 2)), "y2": 2 * b["y"]}
  expected = {"s": arrays["x"].sum(-1) + arrays["y"].sum((1, 2)), "y2": 2 * arrays["y"]}
  out = training.map_batches(fn, arrays, batch_size=4)
  for k in expected:
    np.testing.assert_allclose(out[k], expected[k], rtol=1e-6)
  out = training.map_batches(fn, data.ArrayDataset(arrays=arrays), batch_size=4)
  np.testing.assert_allclose(out["s"], expected["s"], rtol=1e-6)
  with pytest.raises(ValueError, match=r"\['y'\].*leading size 13.*\(12, 3, 4\)"):
    training.map_batches(fn, {"x": arrays["x"], "y": arrays["y"][:12]}, batch_size=4)
  # A stochastic source gets fold_in(key, i) for batch i.
  dyn = data.load_dataset("dynamic_binarized_mnist", "train")
  key = jax.random.key(5)
  out = training.map_batches(lambda b: b["image"], dyn, batch_size=1000, key=key)
  assert out.shape == (len(dyn), 28, 28, 1)
  np.testing.assert_array_equal(out[:1000], dyn.gather(np.arange(1000), jax.random.fold_in(key, 0))["image"])
