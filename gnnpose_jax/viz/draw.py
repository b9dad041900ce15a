"""Skeleton rendering: poses over frames, one stable colour per track id.

People recovered by the GNN (no detection in that frame) are drawn with dashed limbs so that a
viewer sees what the method added.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from gnnpose_jax import atomic
from gnnpose_jax.data import joints


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB colour for a track id (golden-ratio hue walk)."""
    hue = (track_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


#: cv2 draws with sub-pixel precision: coordinates carry this many fractional bits.
SUBPIXEL_BITS = 4
SUBPIXEL = float(1 << SUBPIXEL_BITS)


def subpixel(point) -> tuple[int, int]:
    """A point in cv2's fixed-point coordinates (`SUBPIXEL_BITS` fractional bits)."""
    return int(round(point[0] * SUBPIXEL)), int(round(point[1] * SUBPIXEL))


def _dashed_line(image, p, q, colour, thickness, dash=6):
    length = float(np.hypot(*(q - p)))
    steps = max(int(length // dash), 1)
    for i in range(0, steps, 2):
        a = p + (q - p) * (i / steps)
        b = p + (q - p) * (min(i + 1, steps) / steps)
        cv2.line(image, tuple(int(v) for v in a), tuple(int(v) for v in b), colour, thickness,
                 cv2.LINE_AA)


def draw_pose(image: np.ndarray, keypoints: np.ndarray, colour: tuple[int, int, int],
              present: np.ndarray | None = None, dashed: bool = False,
              label: str | None = None, thickness: int = 2) -> np.ndarray:
    """Draws one skeleton in place and returns the image.

    Args:
      image: (H, W, 3) uint8 RGB.
      keypoints: (K, 2+) image coordinates.
      colour: RGB colour of the limbs.
      present: (K,) bool, joints to draw (default: all non-zero joints).
      dashed: draw limbs dashed (a GNN-recovered person).
      label: text drawn above the head (e.g. the track id).
      thickness: limb thickness in pixels.
    """
    xy = np.asarray(keypoints, dtype=np.float64)[:, :2]
    if present is None:
        present = np.any(xy != 0, axis=1)
    for a, b in joints.LIMBS:
        if present[a] and present[b]:
            if dashed:
                _dashed_line(image, xy[a], xy[b], colour, thickness)
            else:
                cv2.line(image, tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b]),
                         colour, thickness, cv2.LINE_AA)
    for k in np.flatnonzero(present):
        cv2.circle(image, (int(xy[k, 0]), int(xy[k, 1])), thickness + 1, colour, -1, cv2.LINE_AA)
    if label is not None and present.any():
        top = xy[present]
        x, y = int(top[:, 0].min()), int(top[:, 1].min()) - 6
        cv2.putText(image, label, (x, max(y, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1,
                    cv2.LINE_AA)
    return image


def write_png(path, image_rgb: np.ndarray) -> None:
    """Writes an RGB image as PNG (OpenCV wants BGR), atomically."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    atomic.write_bytes(path, png.tobytes())
