"""YOLOX training samples: one letterboxed frame and its person boxes (detector mode).

The official YOLOX `TrainTransform` without mosaic (what runs in its last epochs): HSV jitter
(random gains of hue ±5, saturation ±30, value ±30 added in OpenCV's HSV space), a horizontal
flip with probability 0.5, then `preproc`: resize by r = min(H/h, W/w) (bilinear) into the
top-left of an (H, W) canvas filled with 114, BGR, 0..255, not normalised. We add an optional
scale jitter (r times U(1 − s, 1 + s); a frame larger than the canvas is cut at the right and
bottom). Mosaic, mixup and random affine are not implemented. Boxes are clipped to the visible
image and dropped when a side is at most 1 pixel (as officially), then the largest G are kept.

Person boxes come from the record (`tfds_posetrack`): the annotation's box, else the tight box
of the annotated joints; a person with fewer than `min_visible_joints` visible joints (flag > 0)
is not a target (the synthetic world's people hidden behind an occluder have a box but nothing
to see). Shapes: (H, W) the network input, G box slots; boxes are cx, cy, w, h input pixels.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import cv2
import numpy as np

from gnnpose_jax.data.tfds_posetrack import SequenceIndex

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
                         config: DetectorConfig, augment: bool) -> DetectorSample:
    """The sample of one frame.

    Args:
      rgb: (h, w, 3) uint8 RGB frame.
      boxes: (P, 4) [x, y, w, h] frame boxes.
      rng: the sample's generator (augmentation only).
      config: the settings.
      augment: draw the augmentation; otherwise the plain letterbox (validation).

    Returns:
      The sample.
    """
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    scale = 1.0
    if augment:
        if config.hsv:
            bgr = augment_hsv(bgr, rng)
        if rng.random() < config.flip_prob:
            bgr = np.ascontiguousarray(bgr[:, ::-1])
            corners = np.stack([bgr.shape[1] - corners[:, 2], corners[:, 1],
                                bgr.shape[1] - corners[:, 0], corners[:, 3]], axis=1)
        if config.scale_jitter:
            scale = rng.uniform(1 - config.scale_jitter, 1 + config.scale_jitter)
    image, r = letterbox(bgr, config.input_hw, scale)
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
                          box_mask=np.arange(g) < len(largest))
