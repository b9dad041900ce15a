"""A constant-velocity pose predictor: the simplest `PosePredictor`, with no learning.

Useful as an ablation beside the GNN (does learned dynamics beat extrapolation?) and as a
deterministic predictor for tests of the tracking loop.
"""

from __future__ import annotations

import numpy as np

from gnnpose_jax.tracking.tracker import Pose, Track, TrackedPose


class ConstantVelocityPredictor:
    """Extrapolates each joint linearly from the track's last two poses.

    Args:
      score_decay: predicted joint scores are the last scores times this, per frame ahead.
    """

    def __init__(self, score_decay: float = 0.9):
        self.score_decay = score_decay

    def predict(self, image: np.ndarray, frame_index: int, tracks: list[Track]
                ) -> list[Pose | None]:
        """One extrapolated pose per track."""
        out = []
        for track in tracks:
            (f1, p1) = track.history[-1]
            ahead = frame_index - f1
            if len(track.history) >= 2:
                f0, p0 = track.history[-2]
                velocity = (p1.keypoints - p0.keypoints) / max(f1 - f0, 1)
            else:
                velocity = np.zeros_like(p1.keypoints)
            out.append(Pose(p1.keypoints + velocity * ahead,
                            p1.scores * self.score_decay ** ahead))
        return out

    def observe(self, image: np.ndarray, frame_index: int, outputs: list[TrackedPose]) -> None:
        """Nothing to cache."""
