"""Re-run a family's README result rows on the current code and rewrite its table.

  python -m experiments.reproduce --only=gan                    # every GAN row (~1 h on 2 cores)
  python -m experiments.reproduce --only=gan --rows=ring_ns,ring_unrolled
  python -m experiments.reproduce --only=gan --list             # the rows and their commands

Each row of a family (`experiments.reproduce.gan.ROWS`) names the experiment runs behind it
(module and flags, one fresh workdir each under --runs_dir), how to turn their
results.json files into the row's "reached" cell, and the figures it writes to docs/. The
README holds the family's table between the lines `<!-- reproduce:<family> begin -->` and
`<!-- reproduce:<family> end -->`; a re-run replaces the rows it ran (matched by their first
cell, in the registry's order), keeps the others as they were, and writes into each
re-run row the commit the runs came from (`git rev-parse --short HEAD`, suffixed `+dirty`
when tracked files differ from it) and the date.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Callable, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = ("| experiment | command | reached | wall time | commit, date | published |",
          "|---|---|---|---|---|---|")


@dataclasses.dataclass(frozen=True)
class Run:
  """One experiment invocation: `python -m <module> --workdir=<dir> <flags>`."""
  module: str
  flags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Row:
  """One README row.

  Attributes:
    name: the row's first cell (its key in the table).
    slug: directory name of its runs under --runs_dir.
    command: the command cell (what a reader types).
    runs: the runs behind it.
    reached: [results.json dicts of the runs] -> the "reached" cell.
    published: the "published" cell.
    figures: (workdirs, docs_dir) -> paths of the figures written, or None.
  """
  name: str
  slug: str
  command: str
  runs: tuple[Run, ...]
  reached: Callable[[list[dict]], str]
  published: str = "—"
  figures: Callable[[list[str], str], list[str]] | None = None


def markers(family: str) -> tuple[str, str]:
  return f"<!-- reproduce:{family} begin -->", f"<!-- reproduce:{family} end -->"


def git_commit(root: str = ROOT) -> str:
  """Short HEAD commit, with '+dirty' when tracked files differ from it."""
  head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                        capture_output=True, text=True).stdout.strip()
  dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                         check=True, capture_output=True, text=True).stdout.strip()
  return head + ("+dirty" if dirty else "")


def format_row(row: Row, reached: str, wall_seconds: float, commit: str, date: str) -> str:
  cells = (row.name, row.command, reached, f"{wall_seconds:.0f} s", f"{commit}, {date}",
           row.published)
  return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def rewrite_table(text: str, family: str, new_rows: dict[str, str],
                  order: Sequence[str]) -> str:
  """`text` with the family's table rows replaced by `new_rows` ({name: row line}).

  Rows of the table not in `new_rows` are kept; rows are ordered as `order` (names), then
  any others already there. Everything outside the markers is unchanged.

  Raises:
    ValueError: when the markers are missing, repeated or out of order.
  """
  begin, end = markers(family)
  if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
    raise ValueError(f"the README must hold the lines {begin!r} and {end!r} once each, in "
                     "that order, around the family's table")
  head, rest = text.split(begin, 1)
  body, tail = rest.split(end, 1)
  preamble, existing = [], {}
  for line in body.strip("\n").splitlines():
    if line.startswith("|"):
      if line not in HEADER:
        existing[line[2:].split(" | ", 1)[0]] = line
    elif line or preamble:
      preamble.append(line)
  while preamble and not preamble[-1]:
    preamble.pop()
  rows = {**existing, **new_rows}
  names = [n for n in order if n in rows] + [n for n in rows if n not in order]
  lines = preamble + ([""] if preamble else []) + list(HEADER) + [rows[n] for n in names]
  return head + begin + "\n" + "\n".join(lines) + "\n" + end + tail


def run_row(row: Row, runs_dir: str, *, python: str = sys.executable,
            extra_flags: Sequence[str] = ()) -> tuple[list[dict], list[str], float]:
  """Runs the row's experiments in fresh workdirs; returns (results, workdirs, seconds)."""
  results, workdirs, seconds = [], [], 0.0
  for i, run in enumerate(row.runs):
    workdir = os.path.join(runs_dir, row.slug, str(i))
    shutil.rmtree(workdir, ignore_errors=True)
    cmd = [python, "-m", run.module, f"--workdir={workdir}", *run.flags, *extra_flags]
    print("+", " ".join(cmd), flush=True)
    t = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    seconds += time.perf_counter() - t
    with open(os.path.join(workdir, "results.json")) as f:
      results.append(json.load(f))
    workdirs.append(workdir)
  return results, workdirs, seconds


def reproduce(family: str, rows: Sequence[Row], *, readme: str, runs_dir: str,
              docs_dir: str, commit: str | None = None, order: Sequence[str] | None = None,
              runner: Callable[[Row, str], tuple[list[dict], list[str], float]] | None = None
              ) -> list[str]:
  """Re-runs `rows`, rewrites the family's table in `readme` and the figures; returns the
  row lines written. The README is rewritten after each row, so an interrupted call keeps
  the rows it finished. `order`: the names of all the family's rows, in table order
  (default: those of `rows`)."""
  commit = commit or git_commit()
  runner = runner or (lambda row, d: run_row(row, d))
  order = list(order or [r.name for r in rows])
  written = []
  for row in rows:
    results, workdirs, seconds = runner(row, runs_dir)
    if row.figures is not None:
      row.figures(workdirs, docs_dir)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    line = format_row(row, row.reached(results), seconds, commit, date)
    with open(readme) as f:
      text = f.read()
    with open(readme, "w") as f:
      f.write(rewrite_table(text, family, {row.name: line}, order))
    written.append(line)
    print(line, flush=True)
  return written


def families() -> dict[str, list[Row]]:
  from experiments.reproduce import gan  # pylint: disable=g-import-not-at-top
  return {"gan": gan.ROWS}


def main(argv: Sequence[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--only", required=True, help="family: " + ", ".join(families()))
  parser.add_argument("--rows", default="", help="comma-separated row slugs (default: all)")
  parser.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
  parser.add_argument("--runs_dir", default=os.path.join(ROOT, "runs", "reproduce"))
  parser.add_argument("--docs_dir", default=os.path.join(ROOT, "docs"))
  parser.add_argument("--list", action="store_true", help="print the rows and exit")
  args = parser.parse_args(argv)
  table = families()
  if args.only not in table:
    parser.error(f"--only must be one of {sorted(table)}, got {args.only!r}")
  rows = table[args.only]
  order = [r.name for r in rows]
  if args.rows:
    wanted = args.rows.split(",")
    unknown = sorted(set(wanted) - {r.slug for r in rows})
    if unknown:
      parser.error(f"--rows: unknown {unknown}; rows of {args.only}: "
                   f"{[r.slug for r in rows]}")
    rows = [r for r in rows if r.slug in wanted]
  if args.list:
    for r in rows:
      print(f"{r.slug}: {r.name}")
      for run in r.runs:
        print(f"    python -m {run.module} {' '.join(run.flags)}")
    return
  reproduce(args.only, rows, readme=args.readme, runs_dir=args.runs_dir,
            docs_dir=args.docs_dir, order=order)
