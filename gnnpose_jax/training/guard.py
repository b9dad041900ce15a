"""The NaN/Inf guard: stop a diverged run before a bad state reaches a checkpoint.

The loop keeps every step's metrics on the device and fetches them only at log, validation and
checkpoint times; `check_finite` looks at all of them before anything is written, so the last
checkpoint on disk is always one whose steps were all finite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gnnpose_jax.errors import GnnPoseError

#: Metrics whose non-finite value means the state is (or is about to be) corrupt.
WATCHED = ("loss", "grad_norm", "param_norm")


class TrainingDiverged(GnnPoseError):
    """A step produced a NaN or Inf loss, gradient or parameter."""


def check_finite(rows: Sequence[tuple[int, dict[str, float]]], last_good: int | None,
                 checkpoint_dir: str) -> None:
    """Raises `TrainingDiverged` at the first step with a non-finite watched metric.

    Args:
      rows: (step, host metrics) of the steps since the last check, in order.
      last_good: the step of the newest checkpoint, if any.
      checkpoint_dir: where the checkpoints are, for the message.

    Raises:
      TrainingDiverged: one line naming the step, the bad values and the checkpoint kept.
    """
    for step, metrics in rows:
        bad = {k: metrics[k] for k in WATCHED if k in metrics and not math.isfinite(metrics[k])}
        if bad:
            values = ", ".join(f"{k} {v}" for k, v in bad.items())
            kept = (f"the last good checkpoint is step {last_good} in {checkpoint_dir}"
                    if last_good is not None else "no checkpoint was written")
            raise TrainingDiverged(
                f"step {step}: training diverged ({values}); stopped, {kept}; lower "
                f"optimizer.learning_rate or set optimizer.grad_clip_norm")
