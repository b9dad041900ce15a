"""Prediction-GT pairs (gnnpose_jax.evaluation.pairs): the head size and the PCKh threshold."""

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.evaluation import evaluate
from tests.helpers.poseval_people import person, sequence


def per_joint(block):
    """(15,) array of a block's per-joint values."""
    return np.array([block["per_joint"][n] for n in joints.EVAL_JOINT_NAMES])


@pytest.mark.parametrize("offset, expected", [((9.0, 12.0), 100.0), ((9.0, 12.01), 0.0)])
def test_head_size_is_0_6_diagonal_and_threshold_is_inclusive(offset, expected):
    # |(9, 12)| = 15 = 0.5 x (0.6 x |(30, 40)|): exactly on the threshold still matches.
    gt = sequence([[person(1)]])
    pred = sequence([[person(7, score=0.5, offset=offset)]])
    assert np.all(per_joint(evaluate([gt], [pred])["ap"]) == expected)
