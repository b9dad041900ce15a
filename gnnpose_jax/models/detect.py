"""Person boxes from YOLOX exactly as the official demo finds them, jitted with fixed shapes.

The official pipeline is `data_augment.preproc` (letterbox), the network, and
`utils.boxes.postprocess`: per anchor, class_conf and class_pred are the max and argmax of the
class probabilities, the score is obj · class_conf, anchors with score ≥ conf are kept, and
torchvision's class-aware `batched_nms` runs at the nms threshold. Boxes of different classes
never suppress each other, so the person boxes of that output are those of a greedy NMS among
the anchors whose argmax class is person, which is what runs here, inside the jitted graph:

- candidates: the top K person anchors by score (K = all anchors by default);
- greedy suppression in a `lax.while_loop`, in descending score order: a box is dropped when
  its IoU with a kept box is > the threshold (strictly), the IoU computed as torchvision's
  kernel does in float32 and compared as it does against the threshold in double precision;
- the first M kept boxes come back, padded and masked, batched over frames.

Ties: anchors of exactly equal score are taken in anchor order (`lax.top_k` puts the lower
index first); torchvision sorts scores with an unstable sort, so its order among equal scores
is unspecified. With K below the number of candidates the result is still exact as long as the
official output's first M boxes all rank within the top K candidates (greedy NMS decides each
box from higher-scoring boxes only). torchvision's `batched_nms` separates classes by offsetting
boxes by class × (max coordinate + 1) on its fast path; boxes with negative coordinates can then
overlap another class's, an artefact this class-aware NMS does not reproduce.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import cv2
import jax
import jax.numpy as jnp
import numpy as np

LETTERBOX_FILL = 114
PERSON_CLASS = 0  # COCO's first category, as the official weights number them


class PersonBoxes(NamedTuple):
    """At most M person boxes per frame, in descending score order."""

    boxes: jax.Array  # (N, M, 5) [x, y, w, h, score], frame pixels; zeros where not valid
    valid: jax.Array  # (N, M) bool


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """The official `preproc`: resize by r = min(S/h, S/w) (bilinear) into the top-left of an
    S×S canvas filled with 114.

    Args:
      frame: (H, W, 3) uint8; the channel order is kept.
      size: S.

    Returns:
      ((S, S, 3) float32 0..255, r); frame pixels are network pixels / r.
    """
    h, w = frame.shape[:2]
    r = min(size / h, size / w)
    resized = cv2.resize(frame, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), LETTERBOX_FILL, np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    return canvas.astype(np.float32), r


def iou_threshold_f32(threshold: float) -> np.float32:
    """The largest float32 ≤ `threshold`: for a float32 IoU x, x > it ⟺ x > threshold in double,
    which is how torchvision's NMS kernel compares."""
    below = np.float32(threshold)
    return np.nextafter(below, np.float32(-np.inf)) if float(below) > threshold else below


def _frame_person_boxes(prediction, ratio, conf: np.float32, iou_max: np.float32, max_boxes: int,
                        candidates: int):
    """`person_boxes` for one frame: prediction (A, 5 + C) → ((M, 5), (M,))."""
    half = prediction[:, 2:4] / 2
    corners = jnp.concatenate([prediction[:, :2] - half, prediction[:, :2] + half], axis=-1)
    probs = prediction[:, 5:]
    score = prediction[:, 4] * probs.max(-1)
    is_person = (score >= conf) & (jnp.argmax(probs, -1) == PERSON_CLASS)
    ranked, order = jax.lax.top_k(jnp.where(is_person, score, -jnp.inf), candidates)
    valid = ranked > -jnp.inf
    boxes = corners[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    rank = jnp.arange(candidates)

    def more(state):
        i, _, _, count = state
        return (i < candidates) & valid[jnp.minimum(i, candidates - 1)] & (count < max_boxes)

    def visit(state):
        i, suppressed, kept, count = state
        box = boxes[i]
        w = jnp.maximum(0.0, jnp.minimum(box[2], boxes[:, 2]) - jnp.maximum(box[0], boxes[:, 0]))
        h = jnp.maximum(0.0, jnp.minimum(box[3], boxes[:, 3]) - jnp.maximum(box[1], boxes[:, 1]))
        inter = w * h
        iou = inter / (areas[i] + areas - inter)
        keep = ~suppressed[i]
        suppressed = suppressed | (keep & (iou > iou_max) & (rank > i))
        return i + 1, suppressed, kept.at[i].set(keep), count + keep

    init = (jnp.int32(0), ~valid, jnp.zeros(candidates, bool), jnp.int32(0))
    _, _, kept, count = jax.lax.while_loop(more, visit, init)
    (picked,) = jnp.nonzero(kept, size=max_boxes, fill_value=0)
    mask = jnp.arange(max_boxes) < count
    # XLA turns a division by a broadcast scalar into a product with its reciprocal, which
    # can differ by an ulp from torch's division; the barrier hides the broadcast.
    corners = boxes[picked] / jax.lax.optimization_barrier(jnp.broadcast_to(ratio, (max_boxes, 4)))
    out = jnp.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2],
                           ranked[picked, None]], axis=-1)
    return jnp.where(mask[:, None], out, 0.0), mask


def person_boxes(predictions: jax.Array, ratios: jax.Array, conf: float, nms: float,
                 max_boxes: int, candidates: int | None = None) -> PersonBoxes:
    """The official postprocess's person boxes, as fixed-shape arrays (jittable).

    Args:
      predictions: (N, A, 5 + C) decoded YOLOX output (cx, cy, w, h, obj, class probabilities).
      ratios: (N,) letterbox ratios r, as float32 (torch divides by the float32 r too); boxes
        come back divided by them.
      conf: the score threshold: score ≥ conf is kept, compared in float32 as torch does.
      nms: the IoU threshold: IoU > nms suppresses.
      max_boxes: M, boxes returned per frame.
      candidates: K, person anchors considered for NMS (all A when None).

    Returns:
      PersonBoxes with (N, M, 5) [x, y, w, h, score] in frame pixels and the (N, M) mask.
    """
    num_anchors = predictions.shape[1]
    candidates = num_anchors if candidates is None else min(candidates, num_anchors)
    one = functools.partial(_frame_person_boxes, conf=np.float32(conf),
                            iou_max=iou_threshold_f32(nms), max_boxes=max_boxes,
                            candidates=candidates)
    boxes, valid = jax.vmap(one)(predictions.astype(jnp.float32),
                                 jnp.asarray(ratios, jnp.float32))
    return PersonBoxes(boxes, valid)


class PersonDetector:
    """YOLOX person boxes for RGB frames, batched; compiles once for any frame size.

    Frames are letterboxed on the host (OpenCV, as officially), flipped to the BGR order the
    official weights expect, and padded to `batch_size`, so every call runs the same jitted
    graph (network, decode and NMS).

    Args:
      module: a `YOLOX`.
      variables: its variables.
      conf: score threshold (official demo 0.25; COCO evaluation 0.001).
      nms: IoU threshold (official demo 0.45; COCO evaluation 0.65).
      max_boxes: M, the most boxes per frame.
      batch_size: frames per jitted call.
      candidates: K, person anchors considered for NMS (all when None).
      input_size: S, the letterbox size (a multiple of 32); the config's by default.
    """

    def __init__(self, module, variables: dict[str, Any], conf: float = 0.25, nms: float = 0.45,
                 max_boxes: int = 100, batch_size: int = 1, candidates: int | None = None,
                 input_size: int | None = None):
        self.size = input_size or module.config.input_size
        self.batch_size = batch_size
        self.dtype = module.dtype  # the compute dtype, for the log
        self.variables = jax.device_put(variables)

        def forward(variables, images, ratios):
            return person_boxes(module.apply(variables, images), ratios, conf, nms, max_boxes,
                                candidates)

        self._forward = jax.jit(forward)

    def detect(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Person boxes of each (H, W, 3) uint8 RGB frame, as (K, 5) [x, y, w, h, score]."""
        out = []
        for start in range(0, len(frames), self.batch_size):
            chunk = frames[start:start + self.batch_size]
            images = np.zeros((self.batch_size, self.size, self.size, 3), np.float32)
            ratios = np.ones(self.batch_size, np.float32)
            for i, frame in enumerate(chunk):
                image, ratios[i] = letterbox(frame, self.size)
                images[i] = image[..., ::-1]  # RGB → BGR
            boxes, valid = jax.device_get(
                self._forward(self.variables, images, ratios))
            out.extend(b[v] for b, v in zip(boxes[:len(chunk)], valid[:len(chunk)], strict=True))
        return out

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """One RGB frame's (K, 5) boxes: a box source for `tracking.run.track_sequence`."""
        return self.detect([frame])[0]
