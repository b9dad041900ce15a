"""The `heatmap_average` merge rule (docs/spec/method.md §1 step 5): joints from averaged maps.

A matched prediction and estimate each carry per-joint maps (`JointMaps`): HRNet's heatmaps
on the detection's crop (flip-averaged when flip test is on) and the GNN's candidate
probabilities P_k on the grid of the track's current crop, each with its cell → image
affine. For joint k:

1. The GNN's map is sampled bilinearly at the image position of every HRNet heatmap cell
   (through the composed affine; zero outside its grid), so both lie on HRNet's grid.
2. Each map is clipped at 0 and normalised to sum 1 over that grid (a distribution).
3. The two are averaged with the joint scores as weights [ours: score-weighted, as the
   `weighted` rule; equal weights when both scores are 0], so an unconfident source counts
   little.
4. The average is decoded as HRNet decodes its heatmaps (`transforms.decode_heatmaps`: argmax,
   0.25 cell towards the higher neighbour inside the official bounds) and mapped to the image.

Where only one source has the joint (score ≥ τ_joint), that source's position is taken. Where
neither has it, or a map has no mass on HRNet's grid (the GNN's crop misses the detection's,
or a COCO network's head slots, which its heatmaps do not map), the higher-scoring source's.
The joint score is the higher of the two in every case, as in the other rules [ours]: a
normalised map's peak says how concentrated it is on the grid, not how confident the source
is, so it is not on the scale τ_joint and the output thresholds are set on.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gnnpose_jax.data import transforms


class JointMaps(NamedTuple):
    """One source's per-joint maps of a pose and where their cells lie in the image."""

    values: np.ndarray  # (h, w, K): HRNet heatmaps or GNN candidate probabilities
    to_image: np.ndarray  # (2, 3): map cell (x = column, y = row) → image pixels


def resample(maps: JointMaps, onto: JointMaps) -> np.ndarray:
    """`maps.values` sampled bilinearly at the cells of `onto`'s grid, (h, w, K); zero
    outside `maps`' grid (cells within one cell of its edge fade linearly to zero)."""
    h, w = onto.values.shape[:2]
    to_source = transforms.compose_affine(transforms.invert_affine(maps.to_image),
                                          onto.to_image)
    rows, cols = np.mgrid[0:h, 0:w]
    xy = transforms.apply_affine(np.stack([cols.ravel(), rows.ravel()], -1), to_source)
    src = maps.values
    sh, sw = src.shape[:2]
    x0, y0 = np.floor(xy[:, 0]).astype(np.int64), np.floor(xy[:, 1]).astype(np.int64)
    fx, fy = xy[:, 0] - x0, xy[:, 1] - y0
    out = np.zeros((h * w, src.shape[2]), np.float64)
    for dy, dx, weight in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)),
                           (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        x, y = x0 + dx, y0 + dy
        inside = (x >= 0) & (x < sw) & (y >= 0) & (y < sh)
        out[inside] += weight[inside, None] * src[y[inside], x[inside]]
    return out.reshape(h, w, -1)


def _distribution(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, K) maps clipped at 0 and normalised per joint, and which joints had mass."""
    values = np.clip(values, 0.0, None)
    total = values.sum(axis=(0, 1))
    return values / np.where(total > 0, total, 1.0), total > 0


def heatmap_average(predicted: JointMaps, predicted_scores: np.ndarray, estimated: JointMaps,
                    estimated_scores: np.ndarray, predicted_keypoints: np.ndarray,
                    estimated_keypoints: np.ndarray, threshold: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Merged keypoints (K, 2) and scores (K,) of a matched pair by the rule above.

    Args:
      predicted, estimated: the GNN's and HRNet's maps of the pair.
      predicted_scores, estimated_scores: (K,) the two poses' joint scores.
      predicted_keypoints, estimated_keypoints: (K, 2) the two poses' joints, image pixels.
      threshold: τ_joint, the score a source needs to have a joint.
    """
    p_scores, e_scores = np.asarray(predicted_scores), np.asarray(estimated_scores)
    p_map, p_mass = _distribution(resample(predicted, estimated))
    e_map, e_mass = _distribution(np.asarray(estimated.values, np.float64))
    total = p_scores + e_scores
    w = np.where(total > 0, p_scores / np.where(total > 0, total, 1.0), 0.5)
    average = w * p_map + (1 - w) * e_map
    averaged, _ = transforms.decode_heatmaps(average[None], estimated.to_image[None],
                                             input_hw=average.shape[:2])
    p_has, e_has = p_scores >= threshold, e_scores >= threshold
    higher = np.where((p_scores > e_scores)[:, None], predicted_keypoints, estimated_keypoints)
    keypoints = np.where((p_has & ~e_has)[:, None], predicted_keypoints,
                         np.where((e_has & ~p_has)[:, None], estimated_keypoints, higher))
    use_average = p_has & e_has & p_mass & e_mass
    keypoints = np.where(use_average[:, None], averaged[0].astype(np.float64), keypoints)
    return keypoints, np.maximum(p_scores, e_scores)
