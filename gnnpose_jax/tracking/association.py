"""How the tracker pairs poses with tracks: OKS matching, the low-score second round, and the
inactive pool that re-identifies ended tracks (docs/method.md, Tracking loop).

- `match`: the Hungarian assignment on OKS with a gate (docs/spec/method.md §1 step 4).
- Second round [ByteTrack's idea, ours here]: boxes scored in [`low_box_score`,
  `min_box_score`) are not dropped. `low_boxes` picks the few of them that overlap an active
  track's last box, so HRNet runs on at most one per track; tracks left unmatched by the
  confident boxes are then matched to their poses under `low_oks_gate`. A low box never starts
  a track.
- Inactive pool [ours]: a track no longer active stays re-identifiable while its person has
  gone undetected for at most `reid_frames` frames (`InactivePool`). An unmatched estimate that
  would start a track is first matched to the pool's tracks (`reid_gate`, OKS) through each
  track's reference pose: the predictor's pose when it made one, else the last pose moved on
  at its box's last velocity (`extrapolated_pose`); a re-identified track keeps its id.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linear_sum_assignment

from gnnpose_jax.data import transforms
from gnnpose_jax.evaluation.box_ap import box_iou_xywh
from gnnpose_jax.tracking.oks import oks_matrix, pose_box_area

if TYPE_CHECKING:
    from gnnpose_jax.tracking.tracker import Pose, Track


def _present(poses: list[Pose], threshold: float) -> np.ndarray:
    return np.stack([p.scores >= threshold for p in poses]).reshape(len(poses), -1)


def pose_oks(a: list[Pose], b: list[Pose], threshold: float) -> np.ndarray:
    """OKS of each pose of `a` against each pose of `b`, with `b`'s box area as the scale;
    joints below `threshold` are missing."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    ak, bk = np.stack([p.keypoints for p in a]), np.stack([p.keypoints for p in b])
    ap, bp = _present(a, threshold), _present(b, threshold)
    return oks_matrix(ak, ap, bk, bp, pose_box_area(bk, bp))


def match(similarity: np.ndarray, gate: float) -> list[tuple[int, int]]:
    """Hungarian assignment maximising similarity; pairs below `gate` are dropped."""
    if similarity.size == 0:
        return []
    rows, cols = linear_sum_assignment(1.0 - similarity)
    return [(r, c) for r, c in zip(rows, cols, strict=True) if similarity[r, c] >= gate]


def pose_box(pose: Pose, threshold: float) -> np.ndarray | None:
    """`[x, y, w, h]` around the pose's joints at or above `threshold` (None under two)."""
    present = pose.scores >= threshold
    if present.sum() < 2:
        return None
    return np.array(transforms.box_from_keypoints(pose.keypoints, present=present))


def low_boxes(boxes: np.ndarray, track_boxes: list[np.ndarray]) -> np.ndarray:
    """The low-score boxes worth an HRNet crop: those overlapping some track's box, best
    overlap first, at most one per track (each track takes one pose in the second round).

    Args:
      boxes: (N, 4+) low-score boxes `[x, y, w, h, ...]`.
      track_boxes: the active tracks' last boxes.

    Returns:
      The chosen rows of `boxes`, in their order.
    """
    if not len(boxes) or not track_boxes:
        return boxes[:0]
    overlap = box_iou_xywh(boxes[:, :4], np.stack(track_boxes)).max(axis=1)
    best = np.argsort(-overlap, kind="stable")[:len(track_boxes)]
    return boxes[np.sort(best[overlap[best] > 0])]


def extrapolated_pose(track: Track, frame_index: int, threshold: float) -> Pose:
    """The track's last pose moved on to `frame_index` at the velocity of its box centre
    between the oldest and the newest pose of its history (unmoved with one pose)."""
    (f0, p0), (f1, p1) = track.history[0], track.history[-1]
    b0, b1 = pose_box(p0, threshold), pose_box(p1, threshold)
    if f1 == f0 or b0 is None or b1 is None:
        return p1
    velocity = (b1[:2] + b1[2:] / 2 - b0[:2] - b0[2:] / 2) / (f1 - f0)
    return p1._replace(keypoints=p1.keypoints + velocity * (frame_index - f1))


@dataclasses.dataclass
class InactivePool:
    """Tracks that are no longer active but may still be re-identified.

    Attributes:
      reid_frames: a track stays while its person has been undetected for at most this many
        frames (frames after `Track.seen`); 0 keeps none.
      tracks: the pool's tracks.
    """

    reid_frames: int
    tracks: list = dataclasses.field(default_factory=list)

    def add(self, tracks: list[Track]) -> None:
        """Takes ended tracks (kept only when re-identification is on)."""
        if self.reid_frames > 0:
            self.tracks.extend(tracks)

    def expire(self, frame_index: int) -> None:
        """Drops the tracks whose person would have been undetected too long by `frame_index`."""
        self.tracks = [t for t in self.tracks if frame_index - t.seen - 1 <= self.reid_frames]

    def reidentify(self, frame_index: int, estimates: list[Pose],
                   predictions: dict[int, Pose], gate: float, threshold: float
                   ) -> list[tuple[Track, int]]:
        """Matches estimates to the pool's tracks and takes the matched tracks out of it.

        Args:
          frame_index: this frame.
          estimates: the unmatched estimates that would start tracks.
          predictions: track id -> the predictor's pose for a pool track, where it made one;
            the others are compared through `extrapolated_pose`.
          gate: the least OKS of a pair.
          threshold: τ_joint.

        Returns:
          (track, estimate index) pairs.
        """
        if not self.tracks or not estimates:
            return []
        references = [predictions[t.track_id] if t.track_id in predictions
                      else extrapolated_pose(t, frame_index, threshold) for t in self.tracks]
        pairs = [(self.tracks[ti], ei) for ti, ei
                 in match(pose_oks(references, estimates, threshold), gate)]
        taken = {id(track) for track, _ in pairs}
        self.tracks = [t for t in self.tracks if id(t) not in taken]
        return pairs
