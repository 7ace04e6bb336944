"""The vae_mnist experiment end to end through its command line."""

import json
import os
import signal
import subprocess
import sys
import time


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--config.hidden=16", "--config.latent_dim=3", "--config.batch_size=16",
        "--config.log_every=5", "--config.eval_every=1000", "--config.eval_samples=4",
        "--config.final_eval_samples=4", "--config.num_sample_images=4",
        "--config.dataset=digits"]


def _cli(workdir, *args, check=True):
  cmd = [sys.executable, "-m", "experiments.vae_mnist", f"--workdir={workdir}", *TINY, *args]
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
  if check and proc.returncode != 0:
    raise AssertionError(f"exit {proc.returncode}\n{proc.stderr[-3000:]}")
  return proc


def test_invalid_config_fails_at_once_with_a_clear_message(tmp_path):
  proc = _cli(tmp_path, "--config.batch_size=0", check=False)
  assert proc.returncode == 2 and "--config.batch_size must be an integer >= 1, got 0" in proc.stderr
  proc = _cli(tmp_path, "--config.model=gan", check=False)
  assert proc.returncode == 2 and "model" in proc.stderr and "'vae'" in proc.stderr
  proc = _cli(tmp_path, "--config.no_such_key=3", check=False)
  assert proc.returncode == 2 and "no_such_key" in proc.stderr
  assert not (tmp_path / "checkpoints").exists()


def test_non_finite_loss_exits_1_naming_the_step(tmp_path):
  proc = _cli(tmp_path, "--config.learning_rate=1e30", "--config.num_steps=20",
              "--config.checkpoint_every=1", check=False)
  assert proc.returncode == 1, proc.stderr[-2000:]
  assert "non-finite" in proc.stderr and "at step" in proc.stderr


def test_kill_9_then_resume_is_bitwise_identical_to_uninterrupted(tmp_path):
  steps = ["--config.num_steps=400", "--config.checkpoint_every=20"]
  _cli(tmp_path / "straight", *steps)
  cmd = [sys.executable, "-m", "experiments.vae_mnist", f"--workdir={tmp_path / 'killed'}",
         *TINY, *steps]
  proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  ckpts = tmp_path / "killed" / "checkpoints"
  deadline = time.time() + 240
  while time.time() < deadline:
    done = [d for d in ckpts.glob("[0-9]*")] if ckpts.exists() else []
    if len(done) >= 2:
      break
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not (tmp_path / "killed" / "results.json").exists(), "killed too late to test resume"
  _cli(tmp_path / "killed", *steps)
  a = json.loads((tmp_path / "straight" / "results.json").read_text())
  b = json.loads((tmp_path / "killed" / "results.json").read_text())
  for timing in ("train_seconds", "samples_per_second"):  # wall time, not a result
    assert a.pop(timing) > 0 and b.pop(timing) > 0
  assert a == b
  png = lambda d: (tmp_path / d / "samples" / "step_0000400.png").read_bytes()
  assert png("straight") == png("killed")
  last = lambda d: [json.loads(l) for l in (tmp_path / d / "metrics.jsonl").read_text()
                    .splitlines() if '"loss"' in l][-1]
  la, lb = last("straight"), last("killed")
  la.pop("steps_per_sec"), lb.pop("steps_per_sec")
  assert la == lb


def test_multi_host_entry_point_on_one_host(tmp_path):
  """jax.distributed.initialize is called from the environment; one process on loopback."""
  import socket
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  env = dict(os.environ, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="1",
             JAX_PROCESS_ID="0")
  cmd = [sys.executable, "-c",
         "import jax; from gen_jax.training import sharding; "
         "sharding.maybe_initialize_distributed(); "
         "print('processes', jax.process_count(), 'devices', jax.device_count())"]
  proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "processes 1 devices 4" in proc.stdout
