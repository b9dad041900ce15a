"""Best-checkpoint selection (gnnpose_jax.training.checkpoints): the lowest validation loss by
default, a mode's own metric (detector mode: the highest box AP@0.5) where it names one."""

from __future__ import annotations

import math

import grain
import jax
import numpy as np
import optax
import pytest

from gnnpose_jax.training import checkpoints, detector_mode, loop
from gnnpose_jax.training.state import create_state


def _save_all(workdir, selection, validations):
    """Saves steps 1.. with the given validation metrics (None: not validated); returns the
    kept steps and the best step."""
    state = create_state(lambda *a, **k: None, {"params": {"w": np.zeros(2, np.float32)}},
                         optax.sgd(0.1))
    iterator = iter(grain.MapDataset.range(8).to_iter_dataset())
    with checkpoints.make_manager(workdir, keep=1, asynchronous=False,
                                  selection=selection) as manager:
        for step, val in enumerate(validations, start=1):
            checkpoints.save(manager, state.replace(step=np.int32(step)), jax.random.key(0),
                             iterator, metrics=checkpoints.selection_metrics(val, selection))
        return sorted(manager.all_steps()), checkpoints.best_step(manager)


VALIDATIONS = [{"loss": 3.0, "box_ap50": 0.2}, {"loss": 1.0, "box_ap50": 0.5},
               {"loss": 2.0, "box_ap50": 0.8}, {"loss": 4.0, "box_ap50": math.nan}, None]


def test_the_default_keeps_and_picks_the_lowest_loss(tmp_path):
    kept, best = _save_all(tmp_path, checkpoints.LOWEST_LOSS, VALIDATIONS)
    assert best == 2 and kept == [2, 5]


def test_detector_mode_keeps_and_picks_the_highest_box_ap50(tmp_path):
    assert detector_mode.SELECTION == checkpoints.Selection("box_ap50", "max")
    # Step 4's NaN AP (no GT) ranks nothing; step 5 was not validated.
    kept, best = _save_all(tmp_path, detector_mode.SELECTION, VALIDATIONS)
    assert best == 3 and kept == [3, 5]


def test_modes_name_their_selection():
    config = type("C", (), {})()
    for mode, expected in [("hrnet", checkpoints.LOWEST_LOSS), ("gnn", checkpoints.LOWEST_LOSS),
                           ("detector", checkpoints.Selection("box_ap50", "max"))]:
        config.mode = mode
        assert loop.selection(config) == expected


def test_selection_metrics_and_modes():
    assert checkpoints.selection_metrics({"loss": 2.5}) == {"val_loss": 2.5}
    assert checkpoints.selection_metrics(None) is None
    assert checkpoints.selection_metrics({"pckh": 0.5}) is None
    with pytest.raises(ValueError, match="'min' or 'max'"):
        checkpoints.Selection("loss", "lowest")


def test_checkpoints_saved_under_another_selection_rank_last(tmp_path):
    # A workdir whose checkpoints hold only val_loss, resumed under the AP selection.
    _save_all(tmp_path, checkpoints.LOWEST_LOSS, VALIDATIONS[:2])
    state = create_state(lambda *a, **k: None, {"params": {"w": np.zeros(2, np.float32)}},
                         optax.sgd(0.1))
    iterator = iter(grain.MapDataset.range(8).to_iter_dataset())
    with checkpoints.make_manager(tmp_path, keep=1, asynchronous=False,
                                  selection=detector_mode.SELECTION) as manager:
        checkpoints.save(manager, state.replace(step=np.int32(3)), jax.random.key(0), iterator,
                         metrics={"val_box_ap50": 0.1})
        assert checkpoints.best_step(manager) == 3
