"""The divergence guard's message (gnnpose_jax.training.guard; a diverging run is in
test_loop.py)."""

from __future__ import annotations

import pytest

from gnnpose_jax.training import guard


def test_guard_names_the_first_bad_step_and_the_kept_checkpoint():
    guard.check_finite([(1, {"loss": 1.0, "grad_norm": 2.0})], None, "ckpt")
    rows = [(7, {"loss": 1.0, "grad_norm": 1.0}), (8, {"loss": float("nan"), "grad_norm": 1.0}),
            (9, {"loss": float("inf")})]
    with pytest.raises(guard.TrainingDiverged) as info:
        guard.check_finite(rows, 6, "/w/checkpoints")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("step 8: training diverged (loss nan)")
    assert "last good checkpoint is step 6 in /w/checkpoints" in message
