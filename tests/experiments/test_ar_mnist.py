"""experiments.ar_mnist end to end, a few steps per model on the 8x8 digits."""

import json
import math

import pytest

from experiments.ar_mnist import config as ar_config
from experiments.ar_mnist import main as ar_main
from gen_jax import validation


def _tiny(**overrides):
  c = ar_config.get_config()
  c.update(dict(dataset="digits", features=8, num_layers=2, first_kernel=3, hidden_size=16,
                batch_size=16, num_steps=3, log_every=3, eval_every=100,
                checkpoint_every=3, num_sample_images=4, num_speed_images=2,
                num_completions=3, eval_batch_size=120))
  c.update(overrides)
  return c


VARIANTS = {
    "pixelcnn": dict(model="pixelcnn"),
    "gated_pixelcnn_conditional": dict(model="gated_pixelcnn", conditional=True),
    "pixelrnn": dict(model="pixelrnn"),
    "pixelrnn_diagonal": dict(model="pixelrnn", rnn_layer="diagonal"),
    "pixelcnn_logistic_mixture": dict(model="pixelcnn", distribution="logistic_mixture",
                                      num_mixtures=2),
    "nade": dict(model="nade"),
    "made": dict(model="made"),
    "spn": dict(model="spn", spn_depth=2, spn_repetitions=2, spn_sums=2, spn_inputs=2),
}


SLOW = ("gated_pixelcnn_conditional", "pixelrnn", "pixelrnn_diagonal", "pixelcnn_logistic_mixture",
        "made")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in sorted(VARIANTS)])
def test_model_trains_and_reports(tmp_path, name):
  results = ar_main.train_and_evaluate(_tiny(**VARIANTS[name]), str(tmp_path))
  assert results["step"] == 3 and results["nll_kind"] == "exact"
  dims = 8 * 8
  assert results["test_nll"] > 0
  assert results["test_bpd"] == pytest.approx(results["test_nll"] / (dims * math.log(2)))
  if "distribution" not in VARIANTS[name]:   # binary: at most ~ log 2 per pixel at init
    assert results["test_nll"] < 2 * dims * math.log(2)
  for key in ("samples_per_second_fast", "samples_per_second_naive", "sampling_speedup"):
    assert results[key] > 0, key
  assert (tmp_path / "completions.png").exists()
  assert list((tmp_path / "samples").glob("*.png"))
  assert json.loads((tmp_path / "results.json").read_text())["test_nll"] == results["test_nll"]


def test_bad_config_names_the_key(tmp_path):
  with pytest.raises(validation.ArgumentError, match="--config.kernel"):
    ar_main.train_and_evaluate(_tiny(kernel=4), str(tmp_path))
  with pytest.raises(validation.ArgumentError, match="--config.rnn_layer"):
    ar_main.train_and_evaluate(_tiny(model="pixelrnn", rnn_layer="column"), str(tmp_path))
  with pytest.raises(validation.ArgumentError, match="--config.distribution"):
    ar_main.train_and_evaluate(_tiny(model="nade", distribution="categorical"), str(tmp_path))
  with pytest.raises(validation.ArgumentError, match="--config.model"):
    ar_main.train_and_evaluate(_tiny(model="wavenet"), str(tmp_path))
