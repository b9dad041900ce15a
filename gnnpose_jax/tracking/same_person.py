"""Rules that keep one person's evidence apart from another's (docs/method.md, Tracking loop).

- `agreement`: how much a matched prediction and estimate agree on the person, the share of
  the joints present in both that lie within the agreement distance. Below
  `TrackerConfig.merge_min_agree` the tracker takes the estimate whole instead of merging
  joint by joint, so a merge never yields joints of two people.
- `covered`: whether a recovered pose (an unmatched prediction) lies on a person detected in
  this frame, by OKS against each detected pose (the detected one the reference, as in
  matching); above `TrackerConfig.recovered_max_oks` it is suppressed.
"""

from __future__ import annotations

import numpy as np

from gnnpose_jax.data import transforms
from gnnpose_jax.tracking.oks import oks_matrix, pose_box_area


def box_diagonal(keypoints: np.ndarray, present: np.ndarray) -> float:
    """The diagonal of the tight box of the present joints (0 with fewer than two)."""
    if present.sum() < 2:
        return 0.0
    _, _, w, h = transforms.box_from_keypoints(keypoints, present=present)
    return float(np.linalg.norm((w, h)))


def close_joints(predicted, estimated, agree: float, threshold: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(K,) bool each: the joints present in both poses (score ≥ `threshold`), and those of
    them within `agree` × the estimate's box diagonal of each other."""
    both = (predicted.scores >= threshold) & (estimated.scores >= threshold)
    reach = agree * box_diagonal(estimated.keypoints, estimated.scores >= threshold)
    distance = np.linalg.norm(predicted.keypoints - estimated.keypoints, axis=1)
    return both, both & (distance < reach)


def agreement(predicted, estimated, agree: float, threshold: float) -> float:
    """The share of the joints present in both poses that lie within `agree` × the estimate's
    box diagonal of each other (0 when they share no joint)."""
    both, close = close_joints(predicted, estimated, agree, threshold)
    return float(close.sum() / both.sum()) if both.any() else 0.0


def covered(pose, detected: list, max_oks: float, threshold: float) -> bool:
    """Whether `pose`'s OKS against any of the `detected` poses (each the reference, with its
    joints scoring ≥ `threshold`) exceeds `max_oks` (never when `max_oks` ≥ 1)."""
    if not detected or max_oks >= 1.0:
        return False
    keypoints = np.stack([p.keypoints for p in detected])
    present = np.stack([p.scores >= threshold for p in detected])
    oks = oks_matrix(pose.keypoints[None], (pose.scores >= threshold)[None], keypoints, present,
                     pose_box_area(keypoints, present))
    return bool((oks > max_oks).any())
