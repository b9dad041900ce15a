"""Geometry of the current-frame candidate grid, and the candidate training targets.

Points are mapped through the 2x3 matrices with `data.transforms.apply_affine(points, matrix)`
and inverted with `data.transforms.invert_affine`, and composed with
`data.transforms.compose_affine`, the project's one copy of each.

Coordinates (docs/spec/method.md §2-3), each as (x, y) with x along the width:
- image: pixels of the video frame.
- crop: pixels of an HRNet input crop; a 2x3 affine matrix maps image -> crop.
- feature: cells of HRNet's 1/4-resolution feature grid (Hf, Wf); feature = crop / feature_stride,
  so integer coordinates are cell centres (HRNet's heatmap convention).
- candidate grid: one candidate every `stride` feature cells, (Hc, Wc) = (Hf, Wf) / stride.
  Candidate (row r, col c) sits at feature (c * stride + o, r * stride + o) with
  o = (stride - 1) / 2, the centre of the stride x stride block of cells it stands for.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gnnpose_jax.data.transforms import compose_affine
from gnnpose_jax.errors import ConfigError

#: The 8 grid neighbours as (d_row, d_col), in the order every module uses.
NEIGHBOUR_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


@dataclasses.dataclass(frozen=True)
class CandidateGrid:
    """The candidate grid of one current-frame crop.

    Attributes:
      feature_hw: (Hf, Wf), HRNet's feature grid of the crop (the crop size / feature_stride).
      stride: s, a candidate every s feature cells (docs/spec/method.md §2 default 2).
      feature_stride: crop pixels per feature cell (4 for HRNet).
    """

    feature_hw: tuple[int, int]
    stride: int = 2
    feature_stride: int = 4

    def __post_init__(self):
        """Rejects grids the stride does not divide."""
        hf, wf = self.feature_hw
        if self.stride < 1 or self.feature_stride < 1:
            raise ConfigError(
                f"CandidateGrid: stride {self.stride} and feature_stride {self.feature_stride} "
                "must be >= 1")
        if hf % self.stride or wf % self.stride or hf < self.stride or wf < self.stride:
            raise ConfigError(
                f"CandidateGrid: feature grid {self.feature_hw} must be a positive multiple of "
                f"the candidate stride {self.stride}")

    @property
    def shape(self) -> tuple[int, int]:
        """(Hc, Wc), the candidate grid."""
        return self.feature_hw[0] // self.stride, self.feature_hw[1] // self.stride

    @property
    def size(self) -> int:
        """C = Hc * Wc, the number of candidates."""
        hc, wc = self.shape
        return hc * wc

    @property
    def offset(self) -> float:
        """Feature-grid position of candidate (0, 0) along each axis."""
        return (self.stride - 1) / 2.0

    def candidate_xy(self) -> np.ndarray:
        """Candidate-grid (col, row) of every candidate in row-major order, shape (C, 2)."""
        hc, wc = self.shape
        rows, cols = np.meshgrid(np.arange(hc), np.arange(wc), indexing="ij")
        return np.stack([cols.ravel(), rows.ravel()], axis=-1).astype(np.float64)


def crop_to_grid_affine(grid: CandidateGrid) -> np.ndarray:
    """The 2x3 affine from crop pixels to candidate-grid units."""
    scale = 1.0 / (grid.feature_stride * grid.stride)
    shift = -grid.offset / grid.stride
    return np.array([[scale, 0.0, shift], [0.0, scale, shift]])


def image_to_grid_affine(affine: np.ndarray, grid: CandidateGrid) -> np.ndarray:
    """Composes an image->crop affine with crop->candidate grid, giving image->grid (2, 3)."""
    return compose_affine(crop_to_grid_affine(grid), affine)


def candidate_targets(
    gt_grid_xy: np.ndarray,
    gt_present: np.ndarray,
    grid_shape: tuple[int, int],
    sigma: float = 2.0,
    threshold: float = 0.5,
) -> np.ndarray:
    """Class targets of the candidates (docs/spec/method.md §3 loss).

    With g_k the unnormalised Gaussian of GT joint k (peak 1, `sigma` in candidate cells), a
    candidate's target is argmax_k g_k when that maximum is >= threshold, else background K.
    Joints not present in the GT are never targets.

    Args:
      gt_grid_xy: (K, 2) GT joints in candidate-grid units (col, row).
      gt_present: (K,) bool, which GT joints exist.
      grid_shape: (Hc, Wc).
      sigma: Gaussian standard deviation in candidate cells.
      threshold: the minimum g for a foreground target.

    Returns:
      (C,) int32 targets in 0..K, candidates in row-major order.
    """
    num_joints = gt_grid_xy.shape[0]
    hc, wc = grid_shape
    rows, cols = np.meshgrid(np.arange(hc), np.arange(wc), indexing="ij")
    cand = np.stack([cols.ravel(), rows.ravel()], axis=-1).astype(np.float64)
    present = np.asarray(gt_present, bool) & np.all(np.isfinite(gt_grid_xy), axis=-1)
    d2 = np.sum((cand[:, None, :] - np.nan_to_num(gt_grid_xy)[None]) ** 2, axis=-1)  # (C, K)
    g = np.where(present[None], np.exp(-d2 / (2.0 * sigma**2)), -1.0)
    best = np.argmax(g, axis=1)
    return np.where(g.max(axis=1) >= threshold, best, num_joints).astype(np.int32)
