"""Preview grids of annotated frames (ground truth, detections, ignore regions)."""

from __future__ import annotations

from collections.abc import Sequence as SequenceType
from typing import Any

import cv2
import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data.types import Frame, Sequence
from gnnpose_jax.viz.draw import SUBPIXEL, SUBPIXEL_BITS, subpixel, track_colour


def draw_ground_truth(image: np.ndarray, frame: Frame,
                      detections: SequenceType[dict[str, Any]] = ()) -> np.ndarray:
    """Draws a frame's annotations over a copy of its image.

    Limbs follow `joints.LIMBS` in each track's colour; visible joints are filled, occluded
    joints hollow; head boxes are thin; detections are white boxes; ignore regions yellow.

    Args:
      image: (H, W, 3) uint8 RGB.
      frame: the frame's annotations.
      detections: COCO detections of this frame.

    Returns:
      (H, W, 3) uint8 RGB.
    """
    out = image.copy()
    for region in frame.ignore_regions:
        cv2.polylines(out, [np.round(region).astype(np.int32)], True, (255, 230, 0), 1)
    for det in detections:
        x, y, w, h = det["bbox"]
        cv2.rectangle(out, (round(x), round(y)), (round(x + w), round(y + h)), (255, 255, 255), 1)
    for person in frame.people:
        colour = track_colour(person.track_id)
        kp, present = person.keypoints, person.present
        for a, b in joints.LIMBS:
            if present[a] and present[b]:
                cv2.line(out, subpixel(kp[a]), subpixel(kp[b]), colour, 1, cv2.LINE_AA,
                         SUBPIXEL_BITS)
        radius = int(2.5 * SUBPIXEL)
        for k in np.flatnonzero(present):
            fill = -1 if kp[k, 2] > 0 else 1
            cv2.circle(out, subpixel(kp[k]), radius, colour, fill, cv2.LINE_AA, SUBPIXEL_BITS)
        if person.head_box is not None:
            x1, y1, x2, y2 = (round(v) for v in person.head_box)
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, 1)
            cv2.putText(out, str(person.track_id), (x1, max(8, y1 - 2)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    cv2.putText(out, f"t={frame.frame_index}", (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (255, 255, 255), 1, cv2.LINE_AA)
    return out


def render_preview(sequence: Sequence, images: SequenceType[np.ndarray],
                   detections: SequenceType[dict[str, Any]], num_frames: int = 6,
                   columns: int = 3) -> np.ndarray:
    """A grid of annotated frames spread over a video, for eyeballing the world.

    Args:
      sequence: the video's annotations.
      images: its (H, W, 3) uint8 RGB frames.
      detections: its COCO detections.
      num_frames: how many labeled frames to show.
      columns: frames per grid row.

    Returns:
      (rows * H, columns * W, 3) uint8 RGB.
    """
    labeled = [f for f in sequence.frames if f.is_labeled] or sequence.frames
    picks = np.unique(np.round(np.linspace(0, len(labeled) - 1, num_frames)).astype(int))
    by_image: dict[int, list[dict[str, Any]]] = {}
    for det in detections:
        by_image.setdefault(det["image_id"], []).append(det)
    tiles = [draw_ground_truth(images[labeled[i].frame_index], labeled[i],
                               by_image.get(labeled[i].image_id, [])) for i in picks]
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.concatenate(tiles[i:i + columns], 1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, 0)
