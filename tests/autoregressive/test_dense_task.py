"""make_dense_task through the one training loop on the 8x8 digits: a few steps of NADE,
MADE and the SPN, the results vocabulary, and the spec's errors."""

import math

import numpy as np
import pytest

from gen_jax import autoregressive as ar
from gen_jax import training
from gen_jax import validation

TINY = dict(hidden_size=8, hidden_sizes=(8,), spn_depth=1, spn_repetitions=1, spn_sums=2,
            spn_inputs=2, num_sample_images=4)


@pytest.mark.parametrize("model,extra", [
    ("nade", {}),
    pytest.param("made", dict(num_masks=2, order_agnostic=True), marks=pytest.mark.slow),
    pytest.param("spn", {}, marks=pytest.mark.slow),
])
def test_a_few_steps_report_the_exact_test_nll(model, extra, tmp_path):
  config = training.common_config()
  config.dataset = "digits"
  config.num_steps = 3
  config.batch_size = 32
  config.log_every = 1
  config.eval_every = 3
  config.checkpoint_every = 3
  train_data, test_data = training.load_train_test(config)
  task = ar.make_dense_task(ar.DenseARSpec(model=model, **TINY, **extra),
                            train_data=train_data, test_data=test_data)
  results = training.train(task, config, str(tmp_path), train_data)
  dims = math.prod(train_data.image_shape)
  assert results["nll_kind"] == "exact"
  assert 0 < results["test_nll"] < dims * math.log(2) * 1.5
  np.testing.assert_allclose(results["test_bpd"], results["test_nll"] / (dims * math.log(2)))
  assert results["samples_per_second"] > 0


def test_spec_errors_are_named():
  with pytest.raises(validation.ArgumentError, match="model"):
    ar.DenseARSpec(model="pixelcnn")
  with pytest.raises(validation.ArgumentError, match="distribution"):
    ar.DenseARSpec(model="nade", distribution="categorical")
  with pytest.raises(validation.ArgumentError, match=r"hidden_sizes\[1\]"):
    ar.DenseARSpec(model="made", hidden_sizes=(8, 0))
