"""COCO-style box AP of one class (person), as pycocotools' `COCOeval` computes it (bbox, area
"all", at most 100 detections per image, no crowd GTs).

Per image and IoU threshold t, detections in descending score order (stable) each take the
unmatched GT of highest IoU ≥ t (a later GT of equal IoU wins, as in `evaluateImg`). Over all
images, detections are ranked by score (stable), precision is made non-increasing from the
right, and read at the 101 recall points 0, 0.01, …, 1 (0 past the last recall reached); AP is
their mean. AP@[.5:.95] averages the ten thresholds 0.5, 0.55, …, 0.95. IoUs of [x, y, w, h]
boxes without the +1 of older tools. Ignore regions (PoseTrack's, as poseval drops predictions
there): a detection whose centre lies strictly inside one of its image's polygons is removed
before anything else (`regions.points_in_polygons`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gnnpose_jax.evaluation.regions import points_in_polygons

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100


def box_iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of [x, y, w, h] boxes."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, :2] + a[:, None, 2:4], b[None, :, :2] + b[None, :, 2:4])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    union = np.prod(a[:, 2:4], -1)[:, None] + np.prod(b[:, 2:4], -1)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _match_image(dets: np.ndarray, gts: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(T, D) whether each detection (sorted by score) is a true positive at each threshold."""
    ious = box_iou_xywh(dets[:, :4], gts)
    hits = np.zeros((len(thresholds), len(dets)), bool)
    for ti, t in enumerate(thresholds):
        taken = np.zeros(len(gts), bool)
        for d in range(len(dets)):
            best, match = min(t, 1 - 1e-10), -1
            for g in range(len(gts)):
                if not taken[g] and ious[d, g] >= best:
                    best, match = ious[d, g], g
            if match >= 0:
                taken[match] = True
                hits[ti, d] = True
    return hits


def outside_regions(dets: np.ndarray, polygons: Sequence[np.ndarray]) -> np.ndarray:
    """The (D, 5+) detections whose box centre is not strictly inside any polygon."""
    if not len(polygons) or not len(dets):
        return dets
    centres = dets[:, :2] + dets[:, 2:4] / 2
    return dets[~points_in_polygons(centres, list(polygons))]


def average_precision(detections: Sequence[np.ndarray], ground_truth: Sequence[np.ndarray],
                      thresholds: np.ndarray = IOU_THRESHOLDS,
                      max_detections: int = MAX_DETECTIONS,
                      ignore_regions: Sequence[Sequence[np.ndarray]] | None = None
                      ) -> np.ndarray:
    """COCO AP at each IoU threshold.

    Args:
      detections: per image, (D_i, 5) [x, y, w, h, score].
      ground_truth: per image, (G_i, 4) [x, y, w, h].
      thresholds: (T,) IoU thresholds.
      max_detections: detections kept per image, highest scores first.
      ignore_regions: per image, (V, 2) [x, y] polygons; detections centred inside are
        removed. None: no regions.

    Returns:
      (T,) AP in [0, 1]; NaN when there is no GT at all.
    """
    if ignore_regions is None:
        ignore_regions = [[] for _ in detections]
    scores, hits = [], []
    for dets, gts, polygons in zip(detections, ground_truth, ignore_regions, strict=True):
        dets = outside_regions(np.asarray(dets, np.float64).reshape(-1, 5), polygons)
        gts = np.asarray(gts, np.float64).reshape(-1, 4)
        dets = dets[np.argsort(-dets[:, 4], kind="mergesort")][:max_detections]
        scores.append(dets[:, 4])
        hits.append(_match_image(dets, gts, thresholds))
    num_gt = sum(len(np.asarray(g).reshape(-1, 4)) for g in ground_truth)
    if num_gt == 0:
        return np.full(len(thresholds), np.nan)
    all_scores = np.concatenate(scores) if scores else np.zeros(0)
    all_hits = (np.concatenate(hits, axis=1) if hits
                else np.zeros((len(thresholds), 0), bool))
    order = np.argsort(-all_scores, kind="mergesort")
    out = np.zeros(len(thresholds))
    for ti in range(len(thresholds)):
        tp = np.cumsum(all_hits[ti, order])
        fp = np.cumsum(~all_hits[ti, order])
        recall = tp / num_gt
        precision = tp / (tp + fp + np.spacing(1))
        precision = np.append(np.maximum.accumulate(precision[::-1])[::-1], 0.0)
        picks = np.minimum(np.searchsorted(recall, RECALL_POINTS, side="left"), len(recall))
        out[ti] = precision[picks].mean()
    return out


def box_ap(detections: Sequence[np.ndarray], ground_truth: Sequence[np.ndarray],
           ignore_regions: Sequence[Sequence[np.ndarray]] | None = None) -> dict[str, float]:
    """`box_ap50` (AP at IoU 0.5) and `box_ap` (AP@[.5:.95]) in [0, 1] (NaN without GT);
    `ignore_regions` as in `average_precision`."""
    ap = average_precision(detections, ground_truth, ignore_regions=ignore_regions)
    return {"box_ap50": float(ap[0]), "box_ap": float(ap.mean())}
