"""Validation accuracies computed inside the jitted eval steps, as (correct, count) pairs.

PCKh-like@t: a joint is correct when its predicted position lies within t times the person's
head size of the ground truth; only annotated joints count. Training samples carry joints, not
head boxes, so the head size here is the length of the GT head segment (head_bottom to
head_top), which is close to PoseTrack's 0.6 x head-box diagonal for a square head box
(0.85 x the segment). People without both head joints are not counted. These figures track
training; the official metrics come from `evaluate.py`.
"""

from __future__ import annotations

import jax.numpy as jnp

from gnnpose_jax.data import transforms
from gnnpose_jax.data.joints import JOINT_NAMES

HEAD_BOTTOM = JOINT_NAMES.index("head_bottom")
HEAD_TOP = JOINT_NAMES.index("head_top")

#: PCKh threshold, as a fraction of the head size.
PCKH_THRESHOLD = 0.5


def heatmap_peaks(heatmaps: jnp.ndarray, shift: float = transforms.SUBPIXEL_SHIFT) -> jnp.ndarray:
    """Heatmap-cell (x, y) of every joint: the argmax moved `shift` towards the higher neighbour.

    The jittable twin of `transforms.decode_heatmaps` before its affine map, with the same
    official bounds (the shift applies only when 1 < u < w - 1 and 1 < v < h - 1).

    Args:
      heatmaps: (N, h, w, K).
      shift: the sub-cell shift, in cells.

    Returns:
      (N, K, 2) float32 cell coordinates.
    """
    n, h, w, k = heatmaps.shape
    flat = heatmaps.reshape(n, h * w, k)
    index = jnp.argmax(flat, axis=1)  # (N, K)
    v, u = index // w, index % w

    def at(dv: int, du: int) -> jnp.ndarray:
        """Heatmap value at (v + dv, u + du), clipped into the map."""
        flat_index = jnp.clip(v + dv, 0, h - 1) * w + jnp.clip(u + du, 0, w - 1)
        return jnp.take_along_axis(flat, flat_index[:, None, :], axis=1)[:, 0, :]

    inside = (u > 1) & (u < w - 1) & (v > 1) & (v < h - 1)
    du = jnp.where(inside, jnp.sign(at(0, 1) - at(0, -1)) * shift, 0.0)
    dv = jnp.where(inside, jnp.sign(at(1, 0) - at(-1, 0)) * shift, 0.0)
    return jnp.stack([u + du, v + dv], axis=-1).astype(jnp.float32)


def head_sizes(joints: jnp.ndarray) -> jnp.ndarray:
    """(N,) head-segment lengths of (N, K, 3) [x, y, present] poses; 0 without both joints."""
    both = (joints[:, HEAD_BOTTOM, 2] > 0) & (joints[:, HEAD_TOP, 2] > 0)
    length = jnp.linalg.norm(joints[:, HEAD_TOP, :2] - joints[:, HEAD_BOTTOM, :2], axis=-1)
    return jnp.where(both, length, 0.0)


def pckh_counts(predicted: jnp.ndarray, target: jnp.ndarray, present: jnp.ndarray,
                head_size: jnp.ndarray, threshold: float = PCKH_THRESHOLD
                ) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Correct and counted joints for PCKh.

    Args:
      predicted: (N, K, 2) predicted (x, y).
      target: (N, K, 2) ground-truth (x, y), same units.
      present: (N, K) bool, annotated joints (padding examples all False).
      head_size: (N,) head size in the same units; examples with no positive size count nothing.
      threshold: the fraction of the head size.

    Returns:
      (correct, count), float32 scalars.
    """
    valid = present & (head_size[:, None] > 0)
    distance = jnp.linalg.norm(predicted - target, axis=-1)
    correct = valid & (distance <= threshold * head_size[:, None])
    return jnp.sum(correct).astype(jnp.float32), jnp.sum(valid).astype(jnp.float32)
