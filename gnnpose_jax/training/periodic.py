"""Periodic actions (logging, validation, checkpoints) with durations that carry their unit.

Each action `name` is configured by `{name}_every_steps` or `{name}_every_epochs` (one of the two,
the other 0). Steps are counted as completed optimiser updates, so "every 100 steps" fires after
updates 100, 200, ... and every action also fires after the last update.
"""

from __future__ import annotations

import ml_collections

from gnnpose_jax.errors import ConfigError


def period_steps(config: ml_collections.ConfigDict, name: str, num_steps_per_epoch: int) -> int:
    """Updates between two `name` actions (0: only after the last update).

    Args:
      config: the run config, holding `{name}_every_steps` and `{name}_every_epochs`.
      name: the action, e.g. "eval".
      num_steps_per_epoch: optimiser steps per epoch.

    Returns:
      The period in updates; fractional epochs round to the nearest update, at least 1.
    """
    steps = config.get(f"{name}_every_steps", 0) or 0
    epochs = config.get(f"{name}_every_epochs", 0) or 0
    if steps < 0 or epochs < 0:
        raise ConfigError(f"{name}_every_steps {steps} and {name}_every_epochs {epochs} must be "
                          ">= 0")
    if steps and epochs:
        raise ConfigError(f"{name}_every_steps {steps} and {name}_every_epochs {epochs} are both "
                          "set; set one of them to 0")
    if steps:
        return int(steps)
    if epochs:
        return max(1, int(round(epochs * num_steps_per_epoch)))
    return 0


def is_time(step: int, period: int, total_steps: int) -> bool:
    """Whether an action of `period` fires once `step` updates are complete.

    Args:
      step: completed updates, 1 .. total_steps.
      period: from `period_steps` (0 = only at the end).
      total_steps: the updates of the whole run.

    Returns:
      True at multiples of `period` and after the last update.
    """
    return step == total_steps or (period > 0 and step % period == 0)
