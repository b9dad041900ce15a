"""The small hand-worked graph case the graphs tests share: K = 3 joints, a current crop, three
history crops and a box, with every candidate's image position worked out by hand."""

import numpy as np

from gnnpose_jax.graphs import CandidateGrid, GraphSpec

K = 3
# Current crop: crop = 0.5 * image - (10, 20). With feature stride 4 and candidate stride 2,
# candidate (row r, col c) sits at feature (2c + 0.5, 2r + 0.5), crop (8c + 2, 8r + 2) and
# image (16c + 24, 16r + 44).
CURRENT = np.array([[0.5, 0.0, -10.0], [0.0, 0.5, -20.0]])
HIST_AFFINES = np.array([[[0.5, 0.0, -12.0], [0.0, 0.5, -18.0]],
                         [[0.25, 0.0, 0.0], [0.0, 0.25, 2.0]],
                         [[1.0, 0.0, -30.0], [0.0, 1.0, -40.0]]])
BOX = np.array([20.0, 40.0, 40.0, 30.0])  # centre (40, 55), longer side 40


def spec(history=3, feature_hw=(4, 6), **kw):
    """A small spec: K = 3 joints, candidate grid (2, 3) by default."""
    return GraphSpec(grid=CandidateGrid(feature_hw, stride=2), history=history, num_joints=K,
                     joint_threshold=0.3, **kw)


def candidate_image_xy(grid_shape):
    """Image (x, y) of every candidate under CURRENT, worked out by hand (see above)."""
    rows, cols = np.meshgrid(np.arange(grid_shape[0]), np.arange(grid_shape[1]), indexing="ij")
    return np.stack([16.0 * cols.ravel() + 24.0, 16.0 * rows.ravel() + 44.0], axis=-1)


def history():
    """t-1: joints 0 and 2; t-2: joint 1 (joint 0 scores low, joint 2 is NaN); t-3: all."""
    hist = np.array([
        [[30.0, 50.0, 0.9], [35.0, 52.0, 0.1], [40.0, 60.0, 0.8]],
        [[31.0, 49.0, 0.2], [36.0, 51.0, 0.7], [np.nan, 61.0, 0.9]],
        [[32.0, 48.0, 0.6], [37.0, 50.0, 0.5], [42.0, 58.0, 0.4]],
    ])
    return hist
