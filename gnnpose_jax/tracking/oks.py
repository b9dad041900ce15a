"""Object keypoint similarity between sets of poses, vectorised."""

from __future__ import annotations

import numpy as np

from gnnpose_jax.data import joints, transforms


def pose_box_area(keypoints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Area of the tight box (`transforms.box_from_keypoints`) of each pose's present joints.

    Args:
      keypoints: (N, K, 2).
      present: (N, K) bool.

    Returns:
      (N,) areas in pixels² (0 for poses with fewer than two joints).
    """
    areas = np.zeros(len(keypoints))
    for i, (pose, mask) in enumerate(zip(keypoints, present, strict=True)):
        if mask.any():
            _, _, w, h = transforms.box_from_keypoints(pose, present=mask)
            areas[i] = w * h
    return areas


def oks_matrix(a: np.ndarray, a_present: np.ndarray, b: np.ndarray, b_present: np.ndarray,
               b_area: np.ndarray, sigmas: np.ndarray = joints.OKS_SIGMAS) -> np.ndarray:
    """COCO OKS of every pose of `a` against every pose of `b`, `b` taken as the reference.

    The similarity is averaged over the joints present in both poses; pairs that share no joint
    have OKS 0.

    Args:
      a: (P, K, 2) keypoints; a_present: (P, K) bool.
      b: (Q, K, 2) reference keypoints; b_present: (Q, K) bool.
      b_area: (Q,) reference areas in pixels² (the box area of the reference pose).
      sigmas: (K,) per-joint sigmas.

    Returns:
      (P, Q) OKS in [0, 1].
    """
    d2 = np.sum((a[:, None] - b[None]) ** 2, axis=-1)  # (P, Q, K)
    variances = (2 * sigmas) ** 2
    e = d2 / variances / (np.maximum(b_area, 1.0)[None, :, None] * 2)
    both = a_present[:, None] & b_present[None]
    count = both.sum(-1)
    total = np.where(both, np.exp(-e), 0.0).sum(-1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)
