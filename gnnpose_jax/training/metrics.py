"""Where metrics go: TensorBoard events and `metrics.jsonl` in the workdir, and a progress bar.

Only process 0 writes; the other processes of a multi-host run get a writer that does nothing,
so every process runs the same loop code.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from tqdm import tqdm

METRICS_FILE = "metrics.jsonl"
EVENTS_DIR = "tensorboard"


def _scalar(value: Any) -> float:
    """A metric as a Python float."""
    return float(np.asarray(value))


class MetricWriter:
    """Appends scalars to TensorBoard events and to a JSON-lines file, one line per call.

    Args:
      workdir: the run's folder.
      enabled: write anything at all (False on processes other than 0).
    """

    def __init__(self, workdir: str | Path, enabled: bool = True):
        self.enabled = enabled
        self._events = None
        self._lines = None
        if enabled:
            from tensorboardX import SummaryWriter

            workdir = Path(workdir)
            self._events = SummaryWriter(str(workdir / EVENTS_DIR))
            self._lines = open(workdir / METRICS_FILE, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, step: int, scalars: dict[str, Any]) -> None:
        """Records `scalars` at `step` (non-finite values are written as null in the JSONL)."""
        if not self.enabled:
            return
        values = {k: _scalar(v) for k, v in scalars.items()}
        for key, value in values.items():
            self._events.add_scalar(key, value, step)
        row = {"step": int(step), "time": time.time()}
        row.update({k: (v if math.isfinite(v) else None) for k, v in values.items()})
        self._lines.write(json.dumps(row) + "\n")
        self._lines.flush()

    def close(self) -> None:
        """Flushes and closes the files."""
        if self.enabled:
            self._events.close()
            self._lines.close()
            self.enabled = False


def read_metrics(workdir: str | Path) -> list[dict[str, Any]]:
    """All rows of `WORKDIR/metrics.jsonl` (for reports and tests)."""
    path = Path(workdir) / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Progress:
    """A tqdm bar over optimiser steps showing the logged loss and examples/s; tqdm gives the ETA.

    Steps are dispatched asynchronously, so the time between two `update` calls says how fast
    the host enqueues work, not how fast the device does it; the examples/s shown is the one
    measured between two logs, where the metrics are fetched and the device has caught up.

    Args:
      total_steps: the run's last step.
      start_step: the step the run starts (or resumes) from.
      enabled: show the bar (process 0, unless the config turns it off).
    """

    def __init__(self, total_steps: int, start_step: int, enabled: bool = True):
        self._bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                         disable=not enabled or jax.process_index() != 0)
        self._last_step = start_step
        self._postfix: dict[str, str] = {}

    def update(self, step: int) -> None:
        """Moves the bar to `step`."""
        self._bar.update(step - self._last_step)
        self._last_step = step

    def set_logged(self, loss: float, examples_per_second: float) -> None:
        """Shows the latest logged training loss and throughput."""
        self._postfix["loss"] = f"{loss:.4g}"
        self._postfix["ex/s"] = f"{examples_per_second:.1f}"
        self._bar.set_postfix(self._postfix, refresh=False)

    def write(self, message: str) -> None:
        """Prints a line above the bar."""
        self._bar.write(message)

    def close(self) -> None:
        """Closes the bar."""
        self._bar.close()
