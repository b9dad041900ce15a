"""Object keypoint similarity between sets of poses, vectorised."""

from __future__ import annotations

import warnings

import numpy as np

from gnnpose_jax.data import joints


def pose_box_area(keypoints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Area of the tight box of each pose's present joints.

    Args:
      keypoints: (N, K, 2).
      present: (N, K) bool.

    Returns:
      (N,) areas in pixels² (0 for poses with fewer than two joints).
    """
    big = np.where(present[..., None], keypoints, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: poses without joints
        lo, hi = np.nanmin(big, axis=1), np.nanmax(big, axis=1)
    wh = np.nan_to_num(hi - lo)
    return wh[:, 0] * wh[:, 1]


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
