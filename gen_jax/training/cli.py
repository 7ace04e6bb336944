"""The command line shared by every experiment:

  python -m experiments.<name> --workdir=DIR [--config.<key>=<value> ...]

`--help` lists the experiment's config keys with their defaults and a one-line description
each. The descriptions are the trailing comments of the `c.<key> = <default>  # ...` lines
in the experiment's `get_config` (and, for the shared keys, in `training.common_config`):
there is no second copy to keep in step.

Exit status: 0 on success, 1 on a non-finite loss (message names the step) or an unusable
checkpoint, 2 on a usage error: an unknown config key (the message names it and the
closest valid keys), a value of the wrong type, or an invalid config.

Process-wide settings are made here, in the entry point, never by library calls: absl
logging at WARNING, and glibc malloc keeping freed memory
(`allocator.keep_freed_host_memory`; set GEN_JAX_KEEP_MALLOC_DEFAULTS=1 to keep glibc's
defaults).
"""

from __future__ import annotations

import difflib
import inspect
import io
import os
import re
import sys
import textwrap
import tokenize
from typing import Any, Callable, Iterator, Sequence

from absl import app, flags
from absl import logging as absl_logging
import ml_collections
from ml_collections import config_flags

from gen_jax.training import allocator
from gen_jax.training.checkpoint import CheckpointError
from gen_jax.training.config import common_config
from gen_jax.training.loop import NonFiniteError

_HELP_ARGS = frozenset({"-h", "--help", "-help", "-?", "--helpshort", "-helpshort"})
# --config.<key>[=<value>] and absl's boolean negation --noconfig.<key>.
_OVERRIDE = re.compile(r"^--?(no)?config\.([^=]*)(?:=(.*))?$", re.DOTALL)


class UsageError(ValueError):
  """A command line the experiment cannot run: the message is the one line it prints."""


# ----------------------------------------------------------------------------- descriptions


def _assignment_comments(source: str) -> dict[str, str]:
  """{key: comment} for each `<name>.<key> = ...  # comment` statement in `source`, in
  order ('' where a statement has no comment).

  A statement's comments (several, when its value spans lines) are joined; a comment-only
  line that starts in the same column as the previous statement's trailing comment continues
  it. Other comment-only lines (section headers) belong to no key.
  """
  comments: dict[str, str] = {}
  key, column = None, None  # the last statement's key, and its comment's column
  line: list[tokenize.TokenInfo] = []
  for tok in tokenize.generate_tokens(io.StringIO(source).readline):
    if tok.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
      if tok.type not in (tokenize.INDENT, tokenize.DEDENT):
        line.append(tok)
      continue
    if tok.type == tokenize.NL and line and line[0].type != tokenize.COMMENT:
      continue  # inside a statement that spans lines: keep collecting
    code = [t for t in line if t.type != tokenize.COMMENT]
    notes = [t for t in line if t.type == tokenize.COMMENT]
    line = []
    if not code:
      if notes and key is not None and notes[0].start[1] == column:
        comments[key] += " " + _comment_text(notes[0])
      else:
        key, column = None, None
      continue
    key, column = None, None
    target = _assignment_target(code)
    if target is not None:
      comments[target] = " ".join(_comment_text(t) for t in notes)
      if notes:
        key, column = target, notes[-1].start[1]
  return comments


def _comment_text(tok: tokenize.TokenInfo) -> str:
  return tok.string.lstrip("#").strip()


def _assignment_target(code: Sequence[tokenize.TokenInfo]) -> str | None:
  """'a.b' for tokens `<name> . a . b = ...`; None for any other statement."""
  if len(code) < 4 or code[0].type != tokenize.NAME or code[1].string != ".":
    return None
  parts, i = [], 1
  while i + 1 < len(code) and code[i].string == "." and code[i + 1].type == tokenize.NAME:
    parts.append(code[i + 1].string)
    i += 2
  if not parts or i >= len(code) or code[i].string != "=":
    return None
  return ".".join(parts)


def _leaf_keys(config: ml_collections.ConfigDict, prefix: str = "") -> Iterator[str]:
  for k in config.keys():
    v = config[k]
    if isinstance(v, ml_collections.ConfigDict):
      yield from _leaf_keys(v, f"{prefix}{k}.")
    else:
      yield f"{prefix}{k}"


def config_descriptions(get_config: Callable[[], ml_collections.ConfigDict]) -> dict[str, str]:
  """{key: one-line description} for every key of `get_config()`, in source order.

  A key's description is the trailing comment of its assignment in `get_config`, or, for a
  shared key `get_config` sets without a comment, the one in `training.common_config`.
  Keys with neither map to ''.
  """
  own = _assignment_comments(textwrap.dedent(inspect.getsource(get_config)))
  shared = _assignment_comments(textwrap.dedent(inspect.getsource(common_config)))
  keys = list(_leaf_keys(get_config()))
  order: dict[str, int] = {}
  for k in [*shared, *own]:  # the shared keys first, in common_config's order
    order.setdefault(k, len(order))
  keys.sort(key=lambda k: order.get(k, len(order)))
  return {k: own.get(k) or shared.get(k, "") for k in keys}


def _experiment(get_config: Callable[..., Any]) -> str:
  """'experiments.vae_mnist' for experiments/vae_mnist/config.py's get_config."""
  module = get_config.__module__
  return module[:-len(".config")] if module.endswith(".config") else module


def help_text(get_config: Callable[[], ml_collections.ConfigDict],
              train_and_evaluate: Callable[..., Any] | None = None) -> str:
  """What `--help` prints: usage, the experiment's summary and every config key."""
  name = _experiment(get_config)
  config = get_config()
  lines = [f"usage: python -m {name} --workdir=DIR [--config.<key>=<value> ...]", ""]
  doc = inspect.getmodule(train_and_evaluate).__doc__ if train_and_evaluate else None
  doc = doc or inspect.getmodule(get_config).__doc__
  if doc:
    lines += [doc.strip().splitlines()[0], ""]
  lines += ["  --workdir=DIR  output directory (required); a run already there is resumed", "",
            "config keys, with their defaults (override with --config.<key>=<value>):"]
  entries = [(f"{k}={_get(config, k)!r}", d) for k, d in config_descriptions(get_config).items()]
  width = min(max(len(e) for e, _ in entries), 32)
  for entry, description in entries:
    if len(entry) > width:
      lines += [f"  {entry}", f"  {'':{width}}  {description}"]
    else:
      lines.append(f"  {entry:{width}}  {description}")
  lines += ["", "exit status: 0 done, 1 non-finite loss or unusable checkpoint, 2 usage error "
            "or invalid config"]
  return "\n".join(lines)


# ------------------------------------------------------------------------------- overrides


def _get(config: ml_collections.ConfigDict, key: str) -> Any:
  for part in key.split("."):
    config = config[part]
  return config


def _field_type(config: ml_collections.ConfigDict, key: str) -> type | None:
  """The type of field `key` ('a.b' for nested), or None if the config has no such field."""
  *parents, leaf = key.split(".")
  for part in parents:
    if not isinstance(config, ml_collections.ConfigDict) or part not in config:
      return None
    config = config[part]
  if not isinstance(config, ml_collections.ConfigDict) or leaf not in config:
    return None
  return config.get_type(leaf)


_PARSERS = {bool: (flags.BooleanParser(), "true or false (bool)"),
            int: (flags.IntegerParser(), "an integer (int)"),
            float: (flags.FloatParser(), "a number (float)")}


def check_overrides(config: ml_collections.ConfigDict, args: Sequence[str], *,
                    experiment: str = "this experiment") -> None:
  """Checks each --config.<key>[=<value>] in `args` against `config`'s keys and types.

  Args:
    config: the experiment's default config.
    args: the command line after the program name.
    experiment: its name, for the messages.

  Raises:
    UsageError: naming the first unknown key and the closest valid keys, or the first value
      that does not parse as its key's type (bool, int, float), with the type and default.
  """
  valid = list(_leaf_keys(config))
  i = 0
  while i < len(args):
    arg = args[i]
    i += 1
    if arg == "--":
      break
    match = _OVERRIDE.match(arg)
    if not match:
      continue
    negated, key, value = match.groups()
    field_type = _field_type(config, key)
    if field_type is None:
      closest = difflib.get_close_matches(key, valid, n=3, cutoff=0.0)
      raise UsageError(f"--config.{key}: {experiment} has no config key {key!r}; "
                       f"closest: {', '.join(closest)} (--help lists them all)")
    if field_type is bool:
      if value is None or negated:
        continue  # --config.<key> / --noconfig.<key>: absl's boolean forms
    elif value is None:  # --config.<key> <value>
      if i >= len(args):
        raise UsageError(f"--config.{key} needs a value: --config.{key}=<value>")
      value, i = args[i], i + 1
    if field_type in _PARSERS:
      parser, expected = _PARSERS[field_type]
      try:
        parser.parse(value)
      except (ValueError, TypeError):
        raise UsageError(f"--config.{key}={value!r} is invalid: expected {expected}, "
                         f"default {_get(config, key)!r}") from None


# ----------------------------------------------------------------------------- entry point


def _fail(message: str, status: int) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(status)


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with its errors as one line and exit status 2."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    _fail(str(e), 2)


def run_experiment(get_config: Callable[[], ml_collections.ConfigDict],
                   train_and_evaluate: Callable[[ml_collections.ConfigDict, str], dict],
                   validate: Callable[[ml_collections.ConfigDict], None],
                   argv: Sequence[str] | None = None) -> None:
  """Parses the command line, then runs `train_and_evaluate(config, workdir)`.

  Defines --workdir and --config.*; answers --help; checks the overrides (unknown keys,
  wrongly typed values) and `validate(config)` before any work, exiting with status 2 and
  one line on stderr. Then sets the process-wide options of a training process (absl
  logging at WARNING; `allocator.keep_freed_host_memory()`, unless the environment sets
  GEN_JAX_KEEP_MALLOC_DEFAULTS=1) and trains.

  Args:
    get_config: the experiment's `config.get_config`.
    train_and_evaluate: (config, workdir) -> results dict, printed at the end.
    validate: raises ValueError naming an invalid key.
    argv: the command line (default: sys.argv).
  """
  argv = list(sys.argv if argv is None else argv)
  head = argv[1:argv.index("--")] if "--" in argv else argv[1:]
  if any(arg in _HELP_ARGS for arg in head):
    try:
      print(help_text(get_config, train_and_evaluate), flush=True)
    except BrokenPipeError:  # `--help | head`: stop quietly, as other commands do
      os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)
  defaults = get_config()
  try:
    check_overrides(defaults, argv[1:], experiment=_experiment(get_config))
  except UsageError as e:
    _fail(str(e), 2)

  flags.DEFINE_string("workdir", None, "Output directory; an existing run there is resumed.")
  config_flags.DEFINE_config_dict("config", defaults, "Experiment config (see --help).",
                                  lock_config=True, sys_argv=argv)
  flags.mark_flags_as_required(["workdir"])

  def main(rest):
    if len(rest) > 1:
      _fail(f"unexpected arguments {rest[1:]}: options are --workdir=DIR and "
            "--config.<key>=<value> (--help lists the keys)", 2)
    config = flags.FLAGS.config
    try:
      validate(config)
    except ValueError as e:
      _fail(str(e), 2)
    absl_logging.set_verbosity(absl_logging.WARNING)
    allocator.keep_freed_host_memory()
    try:
      results = train_and_evaluate(config, flags.FLAGS.workdir)
    except (NonFiniteError, CheckpointError) as e:
      _fail(str(e), 1)
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()})

  app.run(main, argv=argv, flags_parser=_parse_flags)
