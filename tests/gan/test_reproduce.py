"""Tests for experiments/reproduce: the README table rewrite on a tiny fake table and runs."""

import json
import os
import subprocess
import sys

import pytest

from experiments.reproduce import gan as gan_rows
from experiments.reproduce import main as reproduce

README = """# Title

Intro text.

<!-- reproduce:toy begin -->
Rows below: `python -m experiments.reproduce --only=toy`.

| experiment | command | reached | wall time | commit, date | published |
|---|---|---|---|---|---|
| first | `a` | old 1 | 1 s | aaaaaaa, 2026-01-01 | p1 |
| second | `b` | old 2 | 2 s | aaaaaaa, 2026-01-01 | p2 |
<!-- reproduce:toy end -->

Outro | with a pipe.
"""


def _fake_runner(values):
  def runner(row, runs_dir):
    workdir = os.path.join(runs_dir, row.slug, "0")
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "results.json"), "w") as f:
      json.dump({"value": values[row.slug]}, f)
    with open(os.path.join(workdir, "results.json")) as f:
      return [json.load(f)], [workdir], 12.4
  return runner


def _row(name, slug, figures=None):
  return reproduce.Row(name, slug, f"`run {slug}`", (reproduce.Run("m"),),
                       lambda rs: f"value {rs[0]['value']:.2f}", f"pub {slug}", figures)


def test_rewrite_replaces_the_rows_run_keeps_the_rest(tmp_path):
  path = tmp_path / "README.md"
  path.write_text(README)
  drawn = []

  def figure(workdirs, docs_dir):
    drawn.append((workdirs, docs_dir))
    return []

  rows = [_row("first", "one"), _row("second", "two"), _row("third", "three", figure)]
  written = reproduce.reproduce(
      "toy", [rows[0], rows[2]], readme=str(path), runs_dir=str(tmp_path / "runs"),
      docs_dir=str(tmp_path / "docs"), commit="1234abc", order=[r.name for r in rows],
      runner=_fake_runner({"one": 0.5, "three": 3.25}))
  text = path.read_text()
  lines = text.splitlines()
  start = lines.index("<!-- reproduce:toy begin -->")
  end = lines.index("<!-- reproduce:toy end -->")
  table = lines[start + 1:end]
  assert table[0] == "Rows below: `python -m experiments.reproduce --only=toy`."
  assert table[2:4] == list(reproduce.HEADER)
  body = table[4:]
  assert [line.split(" | ")[0] for line in body] == ["| first", "| second", "| third"]
  assert body[0].startswith("| first | `run one` | value 0.50 | 12 s | 1234abc, ")
  assert body[0].endswith(" | pub one |")
  assert body[1] == "| second | `b` | old 2 | 2 s | aaaaaaa, 2026-01-01 | p2 |"  # not re-run
  assert "| value 3.25 |" in body[2] and "1234abc" in body[2]
  assert written == [body[0], body[2]]
  # Outside the markers nothing moved.
  assert text.startswith("# Title\n\nIntro text.\n\n<!-- reproduce:toy begin -->\n")
  assert text.endswith("<!-- reproduce:toy end -->\n\nOutro | with a pipe.\n")
  assert drawn == [([str(tmp_path / "runs" / "three" / "0")], str(tmp_path / "docs"))]
  # Idempotent: the same rows again give the same table.
  again = reproduce.rewrite_table(text, "toy", {"first": body[0]}, ["first", "second", "third"])
  assert again == text


def test_rewrite_refuses_missing_markers():
  with pytest.raises(ValueError, match="reproduce:toy begin"):
    reproduce.rewrite_table("no table here", "toy", {}, [])


def test_gan_rows_format_their_results():
  ring = gan_rows._ring([{"modes_covered": m, "high_quality_fraction": q}
                         for m, q in ((8, 0.5), (7, 0.25), (0, 0.0))])
  assert ring == ("modes covered 8/8, 7/8, 0/8; high-quality samples 50.0 %, 25.0 %, 0.0 % "
                  "(seeds 0, 1, 2)")
  began = gan_rows._began([{"fid": 80.0, "precision": 0.5, "recall": 0.25, "k": 0.05,
                            "convergence": 0.2, "real_recon": 0.15, "fake_recon": 0.1}])
  assert began == ("FID 80.0, precision 0.50, recall 0.25; k_t 0.050, convergence M 0.200 "
                   "(autoencoder L1 0.150 on test digits, 0.100 on samples)")
  (row,) = [r for r in gan_rows.ROWS if r.slug == "began"]
  assert " ".join(row.runs[0].flags) in row.command  # the command cell is what runs
  slugs = [r.slug for r in gan_rows.ROWS]
  assert len(set(slugs)) == len(slugs) and {"ring_ns", "ring_unrolled"} <= set(slugs)
  for row in gan_rows.ROWS:  # every run names an experiment module that exists
    for run in row.runs:
      assert os.path.exists(os.path.join(reproduce.ROOT, *run.module.split("."), "main.py"))


def test_list_and_unknown_rows_from_the_command_line():
  cmd = [sys.executable, "-m", "experiments.reproduce", "--only=gan"]
  out = subprocess.run(cmd + ["--list", "--rows=ring_unrolled"], cwd=reproduce.ROOT,
                       capture_output=True, text=True, timeout=60)
  assert out.returncode == 0, out.stderr
  assert "--config.unroll_steps=10" in out.stdout and "dcgan" not in out.stdout
  bad = subprocess.run(cmd + ["--rows=nope"], cwd=reproduce.ROOT, capture_output=True,
                       text=True, timeout=60)
  assert bad.returncode == 2 and "unknown ['nope']" in bad.stderr
