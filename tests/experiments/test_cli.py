"""Tests for gen_jax/training/cli.py: every experiment's command line as a new user meets it
(unknown keys, wrongly typed values, --help), and process-wide settings made by the entry
point only, never by library calls."""

import concurrent.futures
import importlib
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from gen_jax.training import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENTS = tuple(sorted(p.name for p in pathlib.Path(__file__).resolve().parents[2]
                           .joinpath("experiments").iterdir() if (p / "config.py").exists()))


def _cli(name, *args, env=None):
  cmd = [sys.executable, "-m", f"experiments.{name}", *args]
  return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                        env=env)


def _get_config(name):
  return importlib.import_module(f"experiments.{name}.config").get_config


def test_unknown_keys_and_mistyped_values_exit_2_with_one_line(tmp_path):
  # Both fail before any training: 14 process starts (~2 s of CPU each), 4 at a time.
  def run(case):
    name, arg = case
    return _cli(name, f"--workdir={tmp_path / name}", arg)
  cases = [(name, arg) for name in EXPERIMENTS
           for arg in ("--config.num_stepz=5", "--config.num_steps=abc")]
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    procs = dict(zip(cases, pool.map(run, cases)))
  for (name, arg), proc in procs.items():
    assert proc.returncode == 2, (name, arg, proc.stderr[-2000:])
    if arg == "--config.num_stepz=5":
      assert proc.stderr.count("\n") == 1, (name, proc.stderr)
      assert "num_stepz" in proc.stderr and "closest: num_steps" in proc.stderr, proc.stderr
    else:
      assert proc.stderr == ("error: --config.num_steps='abc' is invalid: expected an integer "
                             f"(int), default {_get_config(name)().num_steps}\n"), proc.stderr
    assert not (tmp_path / name).exists()


def test_override_checks_name_key_type_and_closest_keys():
  config = _get_config("vae_mnist")()
  cli.check_overrides(config, ["--config.beta=4", "--config.conditional",
                               "--noconfig.vq_ema", "--config.hidden", "8", "--workdir=x"])
  cases = [
      (["--config.nonexistent=1"], r"has no config key 'nonexistent'; closest: \w+"),
      (["--config.lerning_rate=1"], "closest: learning_rate"),
      (["--config.learning_rate=fast"], r"'fast' is invalid: expected a number \(float\), "
                                        "default 0.001"),
      (["--config.conditional=maybe"], r"expected true or false \(bool\), default False"),
      (["--config.hidden"], "needs a value"),
  ]
  for args, message in cases:
    with pytest.raises(cli.UsageError, match=message):
      cli.check_overrides(config, args)
  cli.check_overrides(config, ["--", "--config.nonexistent=1"])  # after --: not a flag


def test_every_key_of_every_experiment_has_a_description():
  for name in EXPERIMENTS:
    get_config = _get_config(name)
    descriptions = cli.config_descriptions(get_config)
    assert sorted(descriptions) == sorted(get_config().keys()), name
    missing = [k for k, d in descriptions.items() if not d]
    assert not missing, f"experiments/{name}/config.py: keys without a description {missing}"


def test_descriptions_come_from_trailing_comments():
  source = textwrap.dedent("""
      def get_config():
        c = ml_collections.ConfigDict()
        c.a = 1            # first line
                           # and its continuation
        # a section header, no key's
        c.b = ("x,"
               "y")        # spans lines
        c.c = 2
        c.d = 3            # own
        # not a continuation: another column
        c.sub.e = 4        # nested
        return c
      """)
  assert cli._assignment_comments(source) == {
      "a": "first line and its continuation", "b": "spans lines", "c": "", "d": "own",
      "sub.e": "nested"}


def test_help_lists_keys_with_defaults_and_descriptions():
  proc = _cli("vae_mnist", "--help")
  assert proc.returncode == 0, proc.stderr[-2000:]
  out = proc.stdout
  assert out.startswith("usage: python -m experiments.vae_mnist --workdir=DIR")
  lines = out.splitlines()
  for key, default in (("batch_size", "128"), ("model", "'vae'"), ("conditional", "False"),
                       ("learning_rate", "0.001"), ("seed", "0")):
    line = next(l for l in lines if l.strip().startswith(f"{key}={default} "))
    assert len(line.split(maxsplit=1)) == 2, line  # a description follows
  assert "Adam step size" in out and "vae | hvae | vqvae" in out


# With argument "train": trains a tiny task through the library and prints what that left of
# the process-wide state. Then runs the command-line entry point with a stub trainer that
# prints whether the allocator settings were applied before it.
_SIDE_EFFECTS = textwrap.dedent("""
    import json, sys, tempfile
    import matplotlib
    matplotlib.use("pdf")
    from experiments.vae_mnist import config as vae_config
    from gen_jax.training import allocator, cli
    workdir = tempfile.mkdtemp()

    if sys.argv[1:] == ["train"]:
      import jax, jax.numpy as jnp, optax
      from gen_jax import data, training
      opt = optax.sgd(0.1)
      def init(key):
        return training.TrainState.create({"model": {"w": jax.random.normal(key, (3,))}},
                                          {"model": opt})
      def loss_fn(params, state, batch, key):
        return jnp.sum(params["w"]**2) + batch["image"].mean(), ({}, state.extra)
      task = training.Task(init=init, step=training.make_train_step(loss_fn))
      config = vae_config.get_config()
      config.update(dict(dataset="digits", batch_size=8, num_steps=2, log_every=1,
                         eval_every=10, checkpoint_every=2))
      training.train(task, config, workdir, data.load_dataset("digits", "train"))
      assert open(workdir + "/loss_curve.png", "rb").read(4) == b"\\x89PNG"
      print(json.dumps(dict(malloc_calls=allocator.keep_freed_host_memory.cache_info().misses,
                            backend=matplotlib.get_backend(),
                            pyplot="matplotlib.pyplot" in sys.modules)))

    def stub(config, workdir):
      return dict(malloc_calls=allocator.keep_freed_host_memory.cache_info().misses,
                  applied=allocator.keep_freed_host_memory())
    cli.run_experiment(vae_config.get_config, stub, lambda c: None,
                       argv=["prog", "--workdir=" + workdir])
""")


def _side_effects(*args, **env):
  proc = subprocess.run([sys.executable, "-c", _SIDE_EFFECTS, *args], cwd=ROOT,
                        env={**os.environ, **env}, capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc.stdout.strip().splitlines()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_library_training_leaves_the_process_alone_and_the_cli_tunes_malloc():
  library, entry_point = _side_effects("train", GEN_JAX_KEEP_MALLOC_DEFAULTS="")
  # training.train neither tuned malloc nor switched the plotting backend (or used pyplot).
  assert library == '{"malloc_calls": 0, "backend": "pdf", "pyplot": false}'
  # The entry point applies the allocator settings before training...
  assert entry_point == "{'malloc_calls': 1, 'applied': True}"
  # ... unless the environment opts out.
  (entry_point,) = _side_effects(GEN_JAX_KEEP_MALLOC_DEFAULTS="1")
  assert entry_point == "{'malloc_calls': 1, 'applied': False}"
