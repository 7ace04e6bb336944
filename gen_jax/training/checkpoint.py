"""Orbax checkpoints: the only module of gen_jax that imports orbax.

Saves are atomic (orbax writes to a temporary directory and renames it when complete), so a
run killed at any moment, even with SIGKILL, leaves its last finished checkpoint readable.
"""

from __future__ import annotations

import os
from typing import Any

import jax


def _orbax():
  """orbax.checkpoint, imported on first use: importing it installs a handler on the root
  logger, which would silence a user's later `logging.basicConfig()` on a mere
  `import gen_jax.training`."""
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  return ocp


class CheckpointError(RuntimeError):
  """A checkpoint exists but cannot be restored into the state this config builds."""


def _entry_name(entry: Any) -> str:
  for attr in ("key", "name", "idx"):
    if hasattr(entry, attr):
      return str(getattr(entry, attr))
  return str(entry)


def _describe(tree: Any) -> dict[str, tuple]:
  """{'params/encoder/dense_0/kernel': shape, ...}; attribute, dict and index access alike."""
  flat, _ = jax.tree_util.tree_flatten_with_path(tree)
  return {"/".join(_entry_name(e) for e in path): tuple(getattr(leaf, "shape", ()))
          for path, leaf in flat}


class Checkpointer:
  """Keeps the last `max_to_keep` checkpoints of a run under `directory`.

  Args:
    directory: where step folders are written.
    max_to_keep: how many to keep.
    async_save: write in a background thread after the device-to-host copy.
  """

  def __init__(self, directory: str, *, max_to_keep: int = 3, async_save: bool = True):
    self.directory = os.path.abspath(directory)
    ocp = _orbax()
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                           enable_async_checkpointing=async_save,
                                           create=True)
    self._manager = ocp.CheckpointManager(self.directory, options=options,
                                          item_handlers=ocp.StandardCheckpointHandler())

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: Any) -> None:
    self._manager.save(step, args=_orbax().args.StandardSave(state), force=True)

  def restore(self, step: int, abstract_state: Any) -> Any:
    """Restores `step` into the structure, shapes, dtypes and shardings of `abstract_state`.

    Raises:
      CheckpointError: naming the directory and what did not match, if the stored tree
        differs from the target or the files are unreadable (corrupt or truncated).
    """
    where = os.path.join(self.directory, str(step))
    try:
      stored = self._manager.item_metadata(step)
    except Exception as e:  # orbax raises several types for unreadable metadata
      raise CheckpointError(f"checkpoint {where} is unreadable (corrupt or incomplete): "
                            f"{type(e).__name__}: {e}") from e
    if stored is not None:
      want, have = _describe(abstract_state), _describe(stored)
      missing = sorted(set(want) - set(have))
      unexpected = sorted(set(have) - set(want))
      shapes = sorted(k for k in set(want) & set(have) if want[k] != have[k])
      if missing or unexpected or shapes:
        parts = []
        if missing:
          parts.append(f"missing in checkpoint: {missing[:5]}")
        if unexpected:
          parts.append(f"not in this model: {unexpected[:5]}")
        if shapes:
          parts.append("shape mismatch: " + ", ".join(
              f"{k} checkpoint {have[k]} vs model {want[k]}" for k in shapes[:5]))
        raise CheckpointError(
            f"checkpoint {where} does not match the state built from this config ("
            + "; ".join(parts) + "). Use a fresh --workdir or the config that wrote it.")
    try:
      return self._manager.restore(step, args=_orbax().args.StandardRestore(abstract_state))
    except Exception as e:
      raise CheckpointError(f"checkpoint {where} could not be restored: "
                            f"{type(e).__name__}: {e}") from e

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
