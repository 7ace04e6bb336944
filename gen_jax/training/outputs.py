"""What a run writes to its workdir: metrics.jsonl, TensorBoard events, PNG grids, plots."""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Mapping

import numpy as np


def to_python(metrics: Mapping[str, Any]) -> dict[str, Any]:
  out = {}
  for k, v in metrics.items():
    v = np.asarray(v)
    out[k] = v.item() if v.size == 1 else v.tolist()
  return out


class MetricsWriter:
  """Appends one JSON object per log step to metrics.jsonl and mirrors scalars to TensorBoard.

  On resume from step s, records with step > s (written after the checkpoint the run
  restarts from) are dropped first, so the file reads as one uninterrupted run.
  """

  def __init__(self, workdir: str, *, resume_step: int = 0, tensorboard: bool = True):
    self.path = os.path.join(workdir, "metrics.jsonl")
    if os.path.exists(self.path):
      with open(self.path) as f:
        kept = [line for line in f if line.strip() and json.loads(line)["step"] <= resume_step]
      with open(self.path, "w") as f:
        f.writelines(kept)
    self._tb = None
    if tensorboard:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"), purge_step=resume_step + 1)

  def write(self, step: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
    record = {"step": int(step), **to_python(metrics)}
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    if self._tb is not None:
      for k, v in record.items():
        if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
          self._tb.add_scalar(k, v, step)
    return record

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def read_metrics(workdir: str) -> list[dict[str, Any]]:
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def image_grid(images: np.ndarray, *, columns: int | None = None, pad: int = 1) -> np.ndarray:
  """[N, H, W, C] in [0, 1] -> one uint8 image [rows·(H+pad)+pad, cols·(W+pad)+pad, C]."""
  images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
  if images.ndim != 4:
    raise ValueError(f"images must be [N, H, W, C], got shape {images.shape}")
  n, h, w, c = images.shape
  cols = columns or int(math.ceil(math.sqrt(n)))
  rows = int(math.ceil(n / cols))
  grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.float32)
  for i in range(n):
    r, col = divmod(i, cols)
    grid[pad + r * (h + pad):pad + r * (h + pad) + h,
         pad + col * (w + pad):pad + col * (w + pad) + w] = images[i]
  return np.round(grid * 255).astype(np.uint8)


def save_image_grid(path: str, images: np.ndarray, *, columns: int | None = None,
                    scale: int = 2) -> None:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  grid = image_grid(images, columns=columns)
  img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
  if scale > 1:
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  img.save(path)


def plot_curves(workdir: str, keys: tuple[str, ...] = ("loss",),
                filename: str = "loss_curve.png") -> str | None:
  """Plots metrics.jsonl scalars against step; returns the PNG path (None if nothing to plot)."""
  records = read_metrics(workdir)
  series = {k: [(r["step"], r[k]) for r in records if isinstance(r.get(k), (int, float))]
            for k in keys}
  series = {k: v for k, v in series.items() if v}
  if not series:
    return None
  # A bare Figure renders through Agg without pyplot: the caller's backend and pyplot's
  # figure list stay as they were.
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(6, 4))
  ax = fig.add_subplot()
  for k, pts in series.items():
    steps, values = zip(*pts)
    ax.plot(steps, values, label=k)
  ax.set_xlabel("step")
  ax.legend()
  ax.grid(alpha=0.3)
  path = os.path.join(workdir, filename)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  return path


class Progress:
  """tqdm bar (steps/s and loss) when stderr is a terminal; silent otherwise."""

  def __init__(self, start: int, total: int):
    self._bar = None
    if sys.stderr.isatty():
      from tqdm import tqdm  # pylint: disable=g-import-not-at-top
      self._bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

  def update(self, n: int = 1, **postfix: float) -> None:
    if self._bar is not None:
      if postfix:
        self._bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
      self._bar.update(n)

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()
