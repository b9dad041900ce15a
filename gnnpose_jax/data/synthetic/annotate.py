"""What the world reports about a rendered frame: ground-truth people and simulated detections."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data.synthetic.config import WorldConfig
from gnnpose_jax.data.synthetic.motion import HEAD_CENTRE, Walker
from gnnpose_jax.data.synthetic.render import PersonView, clip_box, pixel_slices
from gnnpose_jax.data.types import Person


def annotate_person(walker: Walker, index: int, t: int, view: PersonView, label: np.ndarray,
                    ignore_mask: np.ndarray, min_joints: int) -> Person | None:
    """The ground truth of one walker in a labeled frame, or None when too little is in view."""
    height, width = label.shape
    xy = np.round(walker.points[t, : joints.NUM_JOINTS], 2)
    cols = np.clip(np.round(xy[:, 0]).astype(int), 0, width - 1)
    rows = np.clip(np.round(xy[:, 1]).astype(int), 0, height - 1)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    # (0, 0) would read as "absent" in PoseTrack 2018, and nothing is annotated where ignored.
    inside &= (xy[:, 0] > 0) | (xy[:, 1] > 0)
    inside &= ~ignore_mask[rows, cols]
    inside[list(joints.UNANNOTATED_SLOTS)] = False
    if np.count_nonzero(inside) < min_joints:
        return None
    visible = inside & (label[rows, cols] == index)
    keypoints = np.zeros((joints.NUM_JOINTS, 3))
    keypoints[inside, :2] = xy[inside]
    keypoints[inside, 2] = visible[inside].astype(np.float64)
    head = walker.points[t, [0, 1, 2, HEAD_CENTRE]]
    radius = walker.body.head_radius * walker.scale[t]
    head_lo = np.minimum(head.min(0), head[3] - radius)
    head_hi = np.maximum(head.max(0), head[3] + radius)
    x1, y1, x2, y2 = view.box
    return Person(keypoints=keypoints, track_id=index,
                  head_box=np.round(np.concatenate([head_lo, head_hi]), 2),
                  box=np.round(np.array([x1, y1, x2 - x1, y2 - y1]), 2))


def _detect(rng: np.random.Generator, box: np.ndarray, occluded: float, hw: tuple[int, int],
            config: WorldConfig) -> tuple[np.ndarray, float]:
    """A jittered detection box [x, y, w, h] and its score, for a visible box [x1, y1, x2, y2]."""
    w, h = box[2] - box[0], box[3] - box[1]
    cx = 0.5 * (box[0] + box[2]) + config.det_centre_jitter * w * rng.standard_normal()
    cy = 0.5 * (box[1] + box[3]) + config.det_centre_jitter * h * rng.standard_normal()
    w *= math.exp(config.det_scale_sd * rng.standard_normal())
    h *= math.exp(config.det_scale_sd * rng.standard_normal())
    clipped = clip_box(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]), hw)
    score = (config.det_score_base - config.det_score_occlusion * occluded
             + config.det_score_sd * rng.standard_normal())
    xywh = np.array([clipped[0], clipped[1], clipped[2] - clipped[0], clipped[3] - clipped[1]])
    return xywh, float(np.clip(score, config.det_score_min, 1.0))


def miss_probability(occluded: float, config: WorldConfig) -> float:
    """Probability that the detector misses a person with this occluded fraction (0..1)."""
    return config.miss_base + config.miss_gain * occluded ** config.miss_power


def _visible_box(label: np.ndarray, value: int, box: np.ndarray) -> np.ndarray | None:
    """[x1, y1, x2, y2] around the pixels labelled `value` inside `box`, or None."""
    rows, cols = pixel_slices(box)
    mine = label[rows, cols] == value
    ys = np.flatnonzero(mine.any(1))
    xs = np.flatnonzero(mine.any(0))
    if ys.size == 0:
        return None
    return np.array([cols.start + xs[0], rows.start + ys[0],
                     cols.start + xs[-1] + 1, rows.start + ys[-1] + 1], np.float64)


def simulate_detections(rng: np.random.Generator, label: np.ndarray, views: list[PersonView],
                        frame_image_id: int, config: WorldConfig) -> list[dict[str, Any]]:
    """The detector's output on frame t: visible figures, misses, false positives."""
    hw = label.shape
    counts = np.bincount(label.ravel(), minlength=256)
    min_pixels = max(1.0, config.det_min_area * hw[0] * hw[1])
    found = []
    for i, view in enumerate(views):
        if counts[i] < min_pixels:
            continue  # hidden, outside the frame, or a sliver: never detected
        occluded = 1.0 - min(1.0, counts[i] / view.alone_pixels)
        if rng.random() < miss_probability(occluded, config):
            continue
        found.append(_detect(rng, _visible_box(label, i, view.box), occluded, hw, config))
    for _ in range(rng.poisson(config.fp_rate)):
        h = rng.uniform(*config.fp_height) * hw[0]
        w = rng.uniform(*config.fp_aspect) * h
        x = rng.uniform(0, hw[1] - w)
        y = rng.uniform(0, hw[0] - h)
        found.append((np.array([x, y, w, h]), float(rng.uniform(*config.fp_score))))
    return [{"image_id": frame_image_id, "bbox": [round(float(v), 2) for v in xywh],
             "score": round(score, 4), "category_id": 1}
            for xywh, score in found if xywh[2] > 0 and xywh[3] > 0]
