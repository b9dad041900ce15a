"""Evaluation preprocessing (gnnpose_jax.evaluation.prepare): which frames are scored, ignore
regions on both sides."""

import logging

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.evaluation import evaluate
from tests.helpers.poseval_people import person, sequence

J = len(joints.EVAL_SLOTS)


def per_joint(block):
    """(15,) array of a block's per-joint values."""
    return np.array([block["per_joint"][n] for n in joints.EVAL_JOINT_NAMES])


def counts(result, name):
    """(15,) per-joint MOTA counts."""
    return np.array([result["mota"]["counts"][name][n] for n in joints.EVAL_JOINT_NAMES])


def test_last_labeled_frame_is_not_scored():
    gt = sequence([[person(1)], [person(1)], []])
    pred = sequence([[person(10, score=0.5)], [person(99, origin=(0.0, 5000.0), score=0.5)],
                     [person(98, score=0.5)]])
    result = evaluate([gt], [pred])
    assert np.all(counts(result, "objects") == 1) and result["mota"]["total"] == 100.0


def test_single_labeled_frame_sequence_is_skipped_with_a_warning(caplog):
    one = sequence([[], [person(1)]], name="000001_mpii_test")
    two = sequence([[person(1)], [person(1)]], name="000002_mpii_test")
    garbage = sequence([[], [person(5, origin=(0.0, 5000.0), score=0.5)]], name=one.name)
    with caplog.at_level(logging.WARNING):
        result = evaluate([one, two], [garbage, two])
    assert np.all(counts(result, "objects") == 1) and result["mota"]["total"] == 100.0
    assert any("000001_mpii_test: a single labeled frame" in w
               for w in result["info"]["warnings"])
    assert any("single labeled frame" in r.message for r in caplog.records)


def test_ignore_regions_remove_points_of_both_sides():
    # The region covers g1's (and p1's) first five joints and the whole FP person q.
    region = np.array([[80.0, 80.0], [280.0, 80.0], [280.0, 120.0], [80.0, 120.0]])
    q = person(30, xy=[(150.0 + 5 * e, 105.0) for e in range(J)], score=0.9)
    frame_gt = [person(1, origin=(100.0, 100.0)), person(2, origin=(100.0, 1000.0))]
    frame_pred = [person(11, origin=(100.0, 100.0), score=0.5), q,
                  person(12, origin=(100.0, 1000.0), score=0.5)]
    gt = sequence([frame_gt, frame_gt], regions=[region])
    pred = sequence([frame_pred, frame_pred])
    result = evaluate([gt], [pred])
    assert np.all(per_joint(result["ap"]) == 100.0)
    assert np.array_equal(counts(result, "objects"), [1] * 5 + [2] * 10)
    assert result["mota"]["total"] == 100.0
