"""Periods of logging, validation and checkpoints in steps (gnnpose_jax.training.periodic)."""

from __future__ import annotations

import ml_collections
import pytest

from gnnpose_jax.errors import ConfigError
from gnnpose_jax.training import periodic


def test_periods_carry_units_and_fire_after_the_last_step():
    config = ml_collections.ConfigDict({"eval_every_steps": 0, "eval_every_epochs": 0.5,
                                        "log_every_steps": 7, "ckpt_every_steps": 0,
                                        "ckpt_every_epochs": 0.0})
    assert periodic.period_steps(config, "eval", 30) == 15
    assert periodic.period_steps(config, "log", 30) == 7
    assert periodic.period_steps(config, "ckpt", 30) == 0
    fired = [s for s in range(1, 46) if periodic.is_time(s, 15, 45)]
    assert fired == [15, 30, 45]
    assert [s for s in range(1, 11) if periodic.is_time(s, 0, 10)] == [10]
    assert [s for s in range(1, 11) if periodic.is_time(s, 4, 10)] == [4, 8, 10]
    config.eval_every_steps = 3
    with pytest.raises(ConfigError, match="eval_every_steps 3 and eval_every_epochs 0.5"):
        periodic.period_steps(config, "eval", 30)
