"""Object keypoint similarity (gnnpose_jax.tracking.oks) against the COCO formula."""

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.tracking.oks import oks_matrix

K = joints.NUM_JOINTS


def test_oks_matrix_against_coco_formula():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 100, (2, K, 2)), rng.uniform(0, 100, (3, K, 2))
    ap, bp = rng.random((2, K)) > 0.3, rng.random((3, K)) > 0.3
    area = np.array([900.0, 2500.0, 100.0])
    got = oks_matrix(a, ap, b, bp, area)
    for i in range(2):
        for j in range(3):
            both = ap[i] & bp[j]
            d2 = ((a[i] - b[j]) ** 2).sum(-1)
            e = d2 / (2 * joints.OKS_SIGMAS) ** 2 / area[j] / 2
            assert got[i, j] == pytest.approx(np.exp(-e[both]).mean())
    assert oks_matrix(a, ap, a, ap, np.full(2, 900.0)).diagonal() == pytest.approx([1, 1])
