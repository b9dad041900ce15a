"""Every (prediction, GT) pair of a frame and their PCKh-normalised joint distances."""

from __future__ import annotations

import dataclasses

import numpy as np

from gnnpose_jax.evaluation.prepare import Prepared

#: A joint matches when d <= PCK_THRESHOLD (PCKh@0.5).
PCK_THRESHOLD = 0.5


@dataclasses.dataclass(frozen=True)
class Pairs:
    """All prediction-GT pairs of the same frame, grouped by prediction, GTs ascending.

    Attributes:
      pred: (M,) int prediction index.
      gt: (M,) int GT index.
      dist: (M, J) float64 d = |pred - gt| / headSize; inf where either side lacks the joint.
      match: (M, J) bool d <= threshold.
      pred_start: (Np + 1,) int: the pairs of prediction p are `pred_start[p]:pred_start[p+1]`.
      gt_start: (F + 1,) int: the GT people of labeled frame f are `gt_start[f]:gt_start[f+1]`.
    """

    pred: np.ndarray
    gt: np.ndarray
    dist: np.ndarray
    match: np.ndarray
    pred_start: np.ndarray
    gt_start: np.ndarray

    def index(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        """Pair indices of (pred, gt) index arrays from the same frames."""
        frame_gt0 = self.gt_start[np.searchsorted(self.gt_start, gt, side="right") - 1]
        return self.pred_start[pred] + (gt - frame_gt0)


def make_pairs(prep: Prepared, threshold: float = PCK_THRESHOLD) -> Pairs:
    """Builds all same-frame pairs and their normalised distances, vectorised over frames.

    Args:
      prep: preprocessed data.
      threshold: PCKh threshold (a joint matches when d <= threshold, inclusive).

    Returns:
      The pairs.
    """
    gt_start = prep.gt.frame_starts(prep.num_frames)
    per_pred = np.diff(gt_start)[prep.pred.frame]  # GT people in each prediction's frame
    pred_start = np.concatenate([[0], np.cumsum(per_pred)])
    pred = np.repeat(np.arange(len(per_pred)), per_pred)
    gt = gt_start[prep.pred.frame][pred] + (np.arange(len(pred)) - pred_start[pred])
    diff = prep.pred.xy[pred] - prep.gt.xy[gt]
    both = prep.pred.present[pred] & prep.gt.present[gt]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1]) \
            / prep.gt.head_size[gt][:, None]
    dist = np.where(both, dist, np.inf)
    # A zero-size head box gives NaN or inf: never a match, as in the official toolkit.
    match = dist <= threshold
    return Pairs(pred=pred, gt=gt, dist=dist, match=match, pred_start=pred_start,
                 gt_start=gt_start)
