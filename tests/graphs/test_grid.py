"""The candidate grid and its training targets (gnnpose_jax.graphs.grid), by hand."""

import numpy as np
import pytest

from gnnpose_jax.errors import ConfigError
from gnnpose_jax.graphs import CandidateGrid, GraphSpec, candidate_targets

K = 3


def _spec(history=3, feature_hw=(4, 6), **kw):
    """A small spec: K = 3 joints, candidate grid (2, 3) by default."""
    return GraphSpec(grid=CandidateGrid(feature_hw, stride=2), history=history, num_joints=K,
                     joint_threshold=0.3, **kw)


def test_targets_by_hand_single_joint():
    # sigma = 2 cells: g >= 0.5 iff d^2 <= 8 ln 2 = 5.55, so every cell but the corners.
    targets = candidate_targets(np.array([[2.0, 2.0]]), np.array([True]), (5, 5))
    expected = np.zeros((5, 5), int)
    expected[[0, 0, 4, 4], [0, 4, 0, 4]] = 1  # background is class K = 1
    np.testing.assert_array_equal(targets.reshape(5, 5), expected)


def test_targets_by_hand_two_joints_and_a_missing_one():
    gt = np.array([[0.0, 0.0], [3.0, 0.0], [1.0, 1.0]])  # (col, row); joint 2 is missing
    targets = candidate_targets(gt, np.array([True, True, False]), (2, 7))
    np.testing.assert_array_equal(targets.reshape(2, 7), [[0, 0, 1, 1, 1, 1, 3],
                                                          [0, 0, 1, 1, 1, 1, 3]])
    # sigma = 1: g >= 0.5 iff d^2 <= 2 ln 2 = 1.39, the joint's cell and its 4 neighbours.
    targets = candidate_targets(gt, np.array([True, True, False]), (2, 7), sigma=1.0)
    np.testing.assert_array_equal(targets.reshape(2, 7), [[0, 0, 1, 1, 1, 3, 3],
                                                          [0, 3, 3, 1, 3, 3, 3]])


def test_grid_rejects_a_stride_that_does_not_divide():
    with pytest.raises(ConfigError, match="multiple of the candidate stride"):
        CandidateGrid((5, 6), stride=2)
    with pytest.raises(ConfigError, match="target_sigma"):
        _spec(target_sigma=0.0)
