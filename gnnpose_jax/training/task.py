"""What a training mode hands the generic loop (`loop.py`): state, steps, data, export."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grain
import optax

from gnnpose_jax.training.state import TrainState

#: Eval-step sums -> validation metric: name -> (numerator, denominator).
EVAL_RATIOS = {
    "loss": ("loss_sum", "loss_count"),
    "pckh": ("pckh_correct", "pckh_count"),
    "candidate_accuracy": ("candidate_correct", "candidate_count"),
}


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
    """

    create_state: Callable[[optax.GradientTransformation], TrainState]
    train_step: Callable
    eval_step: Callable
    train_loader: grain.IterDataset
    val_loader: grain.IterDataset | None
    num_train_examples: int
    to_batch: Callable[[Any], dict[str, Any]]
    export: Callable[[Path, TrainState], None]


def summarize_eval(sums: dict[str, float]) -> dict[str, float]:
    """Validation metrics from the summed eval-step outputs (ratios with a non-zero count)."""
    out = {}
    for name, (numerator, denominator) in EVAL_RATIOS.items():
        if numerator in sums and sums[denominator] > 0:
            out[name] = float(sums[numerator]) / float(sums[denominator])
    return out
