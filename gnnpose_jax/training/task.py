"""What a training mode hands the generic loop (`loop.py`): state, steps, data, export."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grain
import jax
import optax

from gnnpose_jax.training.state import TrainState

#: Eval-step sums -> validation metric: name -> (numerator, denominator).
EVAL_RATIOS = {
    "loss": ("loss_sum", "loss_count"),
    "pckh": ("pckh_correct", "pckh_count"),
    "pckh_visible": ("pckh_visible_correct", "pckh_visible_count"),
    "pckh_hidden": ("pckh_hidden_correct", "pckh_hidden_count"),
    "candidate_accuracy": ("candidate_correct", "candidate_count"),
}


class SumMetrics:
    """Validation metrics of eval steps whose outputs are device-summed scalars (`EVAL_RATIOS`).

    A mode whose metrics need more (box AP needs every detection) passes a subclass as
    `Task.eval_metrics`; `add` gets each eval step's output (leading device axis) and the step
    batch, `result` the metrics of the pass.
    """

    def __init__(self):
        self.sums: dict[str, float] = {}

    def add(self, out: dict[str, Any], batch: dict[str, Any]) -> None:
        """Adds one eval step's psum-ed scalars."""
        del batch
        for key, value in out.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(jax.device_get(value)[0])

    def result(self) -> dict[str, float]:
        """The ratios of the sums (`summarize_eval`)."""
        return summarize_eval(self.sums)


@dataclasses.dataclass
class Task:
    """One mode's pieces, all built from the config.

    Attributes:
      create_state: optimiser -> a fresh host state (step 0).
      train_step: `(state, batch, rng) -> (state, metrics)`, static arguments bound.
      eval_step: `(state, batch) -> sums`, static arguments bound.
      train_loader: endless grain dataset of loader batches; its iterator is checkpointed.
      val_loader: one-pass grain dataset of padded eval batches, or None (no validation).
      num_train_examples: examples in the training split (sets the epoch length).
      to_batch: loader batch -> step batch dict (host NumPy, leading device axis).
      export: `(workdir, host state)` -> writes the trained network for the other tools.
      eval_metrics: a fresh accumulator of one validation pass (`SumMetrics`' interface).
    """

    create_state: Callable[[optax.GradientTransformation], TrainState]
    train_step: Callable
    eval_step: Callable
    train_loader: grain.IterDataset
    val_loader: grain.IterDataset | None
    num_train_examples: int
    to_batch: Callable[[Any], dict[str, Any]]
    export: Callable[[Path, TrainState], None]
    eval_metrics: Callable[[], SumMetrics] = SumMetrics


def summarize_eval(sums: dict[str, float]) -> dict[str, float]:
    """Validation metrics from the summed eval-step outputs (ratios with a non-zero count)."""
    out = {}
    for name, (numerator, denominator) in EVAL_RATIOS.items():
        if numerator in sums and sums[denominator] > 0:
            out[name] = float(sums[numerator]) / float(sums[denominator])
    return out
