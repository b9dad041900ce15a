"""YOLOX training samples: one letterboxed frame and its person boxes (detector mode).

The official YOLOX `TrainTransform` without mosaic (what runs in its last epochs): HSV jitter
(random gains of hue ±5, saturation ±30, value ±30 added in OpenCV's HSV space), a horizontal
flip with probability 0.5, then `preproc`: resize by r = min(H/h, W/w) (bilinear) into the
top-left of an (H, W) canvas filled with 114, BGR, 0..255, not normalised. We add an optional
scale jitter (r times U(1 − s, 1 + s); a frame larger than the canvas is cut at the right and
bottom). Mosaic, mixup and random affine are not implemented. Boxes are clipped to the visible
image and dropped when a side is at most 1 pixel (as officially), then the largest G are kept.

Person boxes come from the record (`frame_records`): the annotation's box, else the tight box
of the annotated joints; a person with fewer than `min_visible_joints` visible joints (flag > 0)
is not a target (the synthetic world's people hidden behind an occluder have a box but nothing
to see). Ignore regions (unannotated people, e.g. the synthetic world's standing crowds) are
neither target nor background: their polygons are filled with the pad value 114 (after the HSV
jitter, before the flip) and a box whose centre lies strictly inside one is dropped. The sample
keeps the polygons in input pixels (`ignore_points`, `ignore_sizes`, the record's packing), so
that validation can ignore detections there (`evaluation/box_ap.py`). Shapes: (H, W) the network
input, G box slots, V polygon vertices and R polygon slots (the record's); boxes are cx, cy, w, h
input pixels.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import cv2
import numpy as np

from gnnpose_jax.data.frame_records import ignore_polygons
from gnnpose_jax.data.sequence_index import SequenceIndex

LETTERBOX_FILL = 114
PERSON = 0
#: Official HSV gains (`augment_hsv(hgain=5, sgain=30, vgain=30)`), in OpenCV HSV units.
HSV_GAINS = (5, 30, 30)
#: Boxes whose shorter side is at most this many input pixels are dropped (official).
MIN_BOX_SIDE = 1.0


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """The detector's input, targets and augmentation.

    Attributes:
      input_hw: (H, W), multiples of 32.
      max_boxes: G, box slots per image.
      min_visible_joints: people with fewer visible joints are not targets.
      flip_prob: probability of a horizontal flip.
      hsv: apply the official HSV jitter.
      scale_jitter: s, the letterbox scale is multiplied by U(1 − s, 1 + s) (0 = off).
    """

    input_hw: tuple[int, int]
    max_boxes: int = 32
    min_visible_joints: int = 1
    flip_prob: float = 0.5
    hsv: bool = True
    scale_jitter: float = 0.0


class DetectorSample(NamedTuple):
    """One training or validation image."""

    image: np.ndarray  # (H, W, 3) float32 BGR 0..255
    boxes: np.ndarray  # (G, 4) float32 cx, cy, w, h in input pixels; zeros where not valid
    classes: np.ndarray  # (G,) int32, PERSON
    box_mask: np.ndarray  # (G,) bool
    ignore_points: np.ndarray  # (V, 2) float32 ignore-polygon vertices [x, y] in input pixels
    ignore_sizes: np.ndarray  # (R,) int32 vertices of each polygon, 0 past the last


def pack_polygons(polygons: list[np.ndarray], max_points: int, max_regions: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """((V, 2) float32 vertices, (R,) int32 sizes): polygons packed as in the records."""
    points = np.zeros((max_points, 2), np.float32)
    sizes = np.zeros((max_regions,), np.int32)
    if polygons:
        flat = np.concatenate([np.asarray(p, np.float32).reshape(-1, 2) for p in polygons])
        points[: len(flat)] = flat
        sizes[: len(polygons)] = [len(np.asarray(p).reshape(-1, 2)) for p in polygons]
    return points, sizes


def unpack_polygons(points: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    """The polygons of `pack_polygons`' arrays, as (V_i, 2) float64 arrays."""
    ends = np.cumsum(sizes)
    return [np.asarray(points[end - size:end], np.float64)
            for size, end in zip(sizes, ends, strict=True) if size > 0]


def record_ignore_regions(record: dict[str, Any]) -> list[np.ndarray]:
    """The record's ignore polygons in frame pixels (none if the record has no such field)."""
    return ignore_polygons(record) if "ignore_regions" in record else []


def centres_in_polygons(boxes: np.ndarray, polygons: list[np.ndarray]) -> np.ndarray:
    """(P,) bool: whether each [x, y, w, h] box's centre lies strictly inside a polygon."""
    centres = boxes[:, :2] + boxes[:, 2:4] / 2
    inside = np.zeros(len(boxes), bool)
    for poly in polygons:
        contour = np.asarray(poly, np.float32).reshape(-1, 1, 2)
        if len(contour) < 3:
            continue
        inside |= np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) > 0
                            for x, y in centres], bool)
    return inside


def fill_polygons(bgr: np.ndarray, polygons: list[np.ndarray]) -> np.ndarray:
    """A copy of the image with the polygons filled with the pad value."""
    out = bgr.copy()
    contours = [np.round(np.asarray(p, np.float64).reshape(-1, 2)).astype(np.int32)
                for p in polygons if len(np.asarray(p).reshape(-1, 2)) >= 3]
    if contours:
        cv2.fillPoly(out, contours, (LETTERBOX_FILL,) * 3)
    return out


def frame_refs(index: SequenceIndex) -> np.ndarray:
    """(N, 1) int64 record indices of the labeled frames (frames without people included)."""
    return np.flatnonzero(np.asarray(index.is_labeled, bool)).astype(np.int64).reshape(-1, 1)


def person_boxes(record: dict[str, Any], min_visible_joints: int) -> np.ndarray:
    """(P', 4) [x, y, w, h] frame boxes of the record's target people."""
    people = record["people"]
    count = int(people["count"])
    boxes = np.asarray(people["box"][:count], np.float64).reshape(-1, 4)
    visible = (np.asarray(people["keypoints"][:count])[..., 2] > 0).sum(-1)
    keep = (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & (visible >= min_visible_joints)
    return boxes[keep]


def augment_hsv(bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The official HSV jitter: integer gains added to H (mod 180), S and V (clipped)."""
    gains = rng.uniform(-1, 1, 3) * np.array(HSV_GAINS)
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + int(gains[0])) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] + int(gains[1]), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] + int(gains[2]), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def letterbox(bgr: np.ndarray, input_hw: tuple[int, int], scale: float = 1.0
              ) -> tuple[np.ndarray, float]:
    """(H, W, 3) float32 canvas with the frame resized by r = min(H/h, W/w) · scale at its
    top-left (filled with 114), and r."""
    h, w = bgr.shape[:2]
    r = min(input_hw[0] / h, input_hw[1] / w) * scale
    resized = cv2.resize(bgr, (max(1, int(w * r)), max(1, int(h * r))),
                         interpolation=cv2.INTER_LINEAR)
    canvas = np.full((*input_hw, 3), LETTERBOX_FILL, np.uint8)
    rows, cols = min(resized.shape[0], input_hw[0]), min(resized.shape[1], input_hw[1])
    canvas[:rows, :cols] = resized[:rows, :cols]
    return canvas.astype(np.float32), r


def make_detector_sample(rgb: np.ndarray, boxes: np.ndarray, rng: np.random.Generator,
                         config: DetectorConfig, augment: bool,
                         ignore_regions: list[np.ndarray] | None = None,
                         max_ignore: tuple[int, int] = (512, 16)) -> DetectorSample:
    """The sample of one frame.

    Args:
      rgb: (h, w, 3) uint8 RGB frame.
      boxes: (P, 4) [x, y, w, h] frame boxes.
      rng: the sample's generator (augmentation only).
      config: the settings.
      augment: draw the augmentation; otherwise the plain letterbox (validation).
      ignore_regions: (V_i, 2) [x, y] frame polygons: filled with 114, boxes centred inside
        them dropped.
      max_ignore: (V, R), the sample's polygon vertex and polygon slots.

    Returns:
      The sample.
    """
    polygons = [np.asarray(p, np.float64).reshape(-1, 2) for p in ignore_regions or []]
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    boxes = boxes[~centres_in_polygons(boxes, polygons)]
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    scale = 1.0
    if augment and config.hsv:
        bgr = augment_hsv(bgr, rng)
    bgr = fill_polygons(bgr, polygons)
    if augment:
        if rng.random() < config.flip_prob:
            bgr = np.ascontiguousarray(bgr[:, ::-1])
            corners = np.stack([bgr.shape[1] - corners[:, 2], corners[:, 1],
                                bgr.shape[1] - corners[:, 0], corners[:, 3]], axis=1)
            polygons = [np.stack([bgr.shape[1] - p[:, 0], p[:, 1]], axis=1) for p in polygons]
        if config.scale_jitter:
            scale = rng.uniform(1 - config.scale_jitter, 1 + config.scale_jitter)
    image, r = letterbox(bgr, config.input_hw, scale)
    ignore_points, ignore_sizes = pack_polygons([p * r for p in polygons], *max_ignore)
    visible_w = min(config.input_hw[1], bgr.shape[1] * r)
    visible_h = min(config.input_hw[0], bgr.shape[0] * r)
    corners = np.clip(corners * r, 0, [visible_w, visible_h, visible_w, visible_h])
    sizes = corners[:, 2:] - corners[:, :2]
    keep = sizes.min(axis=1) > MIN_BOX_SIDE
    corners, sizes = corners[keep], sizes[keep]
    largest = np.argsort(-sizes.prod(axis=1), kind="stable")[: config.max_boxes]
    g = config.max_boxes
    out = np.zeros((g, 4), np.float32)
    out[: len(largest)] = np.concatenate([corners[largest, :2] + sizes[largest] / 2,
                                          sizes[largest]], axis=1)
    return DetectorSample(image=image, boxes=out, classes=np.full(g, PERSON, np.int32),
                          box_mask=np.arange(g) < len(largest), ignore_points=ignore_points,
                          ignore_sizes=ignore_sizes)
