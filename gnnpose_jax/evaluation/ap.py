"""Per-frame multi-person AP (docs/spec/metrics.md §3), vectorised over frames/people/joints."""

from __future__ import annotations

import numpy as np

from gnnpose_jax.evaluation.pairs import Pairs
from gnnpose_jax.evaluation.prepare import Prepared

#: Scores are reported in percent.
PERCENT = 100.0


def assign_people(prep: Prepared, pairs: Pairs) -> np.ndarray:
    """The official score-blind person assignment.

    pck[p, g] = matched joints / annotated joints of g. Each prediction keeps only its best GT
    (first maximum, i.e. the lower GT index on ties); each GT then takes, among the predictions
    that kept it, the one with the highest pck (the lower prediction index on ties). pck 0 is
    no assignment.

    Args:
      prep: preprocessed data.
      pairs: all same-frame pairs.

    Returns:
      (Np,) int: the GT index assigned to each prediction, or -1.
    """
    num_pred = len(prep.pred.frame)
    pred_to_gt = np.full(num_pred, -1)
    if not len(pairs.pred):
        return pred_to_gt
    annotated = np.count_nonzero(prep.gt.present, axis=1)[pairs.gt]
    matched = np.count_nonzero(pairs.match, axis=1).astype(np.float64)
    pck = np.where(annotated > 0, matched / np.maximum(annotated, 1), matched)
    has_pairs = np.diff(pairs.pred_start) > 0
    starts = pairs.pred_start[:-1][has_pairs]
    best = np.maximum.reduceat(pck, starts)
    is_best = pck == np.repeat(best, np.diff(np.append(starts, len(pck))))
    position = np.where(is_best, np.arange(len(pck)), len(pck))
    first_best = np.minimum.reduceat(position, starts)
    first_best = first_best[pck[first_best] > 0]
    # Among predictions that kept the same GT: highest pck, then the lower prediction index.
    order = np.lexsort((pairs.pred[first_best], -pck[first_best], pairs.gt[first_best]))
    ranked = first_best[order]
    winner = np.ones(len(ranked), bool)
    winner[1:] = pairs.gt[ranked][1:] != pairs.gt[ranked][:-1]
    pred_to_gt[pairs.pred[ranked[winner]]] = pairs.gt[ranked[winner]]
    return pred_to_gt


def detection_labels(prep: Prepared, pairs: Pairs, pred_to_gt: np.ndarray) -> np.ndarray:
    """(Np, J) bool: predicted joint j of p is a true positive (matches its assigned GT).

    Joints of unassigned predictions and joints the assigned GT lacks are false positives; only
    entries where the prediction has the joint are detections.
    """
    labels = np.zeros(prep.pred.present.shape, dtype=bool)
    assigned = np.flatnonzero(pred_to_gt >= 0)
    labels[assigned] = pairs.match[pairs.index(assigned, pred_to_gt[assigned])]
    return labels & prep.pred.present


def voc_ap(scores: np.ndarray, labels: np.ndarray, num_positives: float) -> float:
    """VOC all-point interpolated AP in percent, as the official toolkit computes it.

    Detections are sorted by descending score; equal scores keep the official order, which is
    numpy's stable `argsort()[::-1]`: the later detection first.

    Args:
      scores: (D,) float detection scores.
      labels: (D,) bool true positives.
      num_positives: number of GT joints (0 gives NaN when there are detections).

    Returns:
      AP in percent; 0 with no detections.
    """
    if not len(scores):
        return 0.0
    order = np.argsort(scores, kind="stable")[::-1]
    tp = np.cumsum(labels[order], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = tp / np.float64(num_positives)
    precision = tp / np.arange(1, len(tp) + 1)
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps])) * PERCENT


def ap_per_joint(prep: Prepared, labels: np.ndarray, pred_mask: np.ndarray | None = None,
                 gt_mask: np.ndarray | None = None) -> np.ndarray:
    """(J,) AP in percent, detections pooled over all frames in file order.

    Args:
      prep: preprocessed data.
      labels: (Np, J) from `detection_labels`.
      pred_mask: (Np,) bool predictions to pool (default all), e.g. one sequence's.
      gt_mask: (Ng,) bool GT people whose joints count as positives (default all).

    Returns:
      (J,) float AP per joint.
    """
    present = prep.pred.present if pred_mask is None else prep.pred.present & pred_mask[:, None]
    gt_present = prep.gt.present if gt_mask is None else prep.gt.present[gt_mask]
    positives = np.count_nonzero(gt_present, axis=0)
    return np.array([voc_ap(prep.pred.score[present[:, j], j], labels[present[:, j], j],
                            positives[j]) for j in range(present.shape[1])])
