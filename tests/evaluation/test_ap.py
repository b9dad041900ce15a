"""Per-joint AP (gnnpose_jax.evaluation.ap): assignment by PCKh, ranking by score, by hand."""

import logging
import math

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.evaluation import evaluate
from tests.helpers.poseval_people import SPACING, person, sequence

J = len(joints.EVAL_SLOTS)


def per_joint(block):
    """(15,) array of a block's per-joint values."""
    return np.array([block["per_joint"][n] for n in joints.EVAL_JOINT_NAMES])


def test_assignment_follows_pck_not_score():
    # p0 (score 0.9) matches 5 of 15 joints, p1 (score 0.1) all 15: p1 takes the GT, p0's
    # joints are all false positives ranked above p1's true positives: AP 50 per joint.
    xy = [(SPACING * e, 0.0) if e < 5 else (SPACING * e, 500.0) for e in range(J)]
    gt = sequence([[person(1)]])
    pred = sequence([[person(7, xy=xy, score=0.9), person(8, score=0.1)]])
    result = evaluate([gt], [pred])
    assert np.all(per_joint(result["ap"]) == 50.0) and result["ap"]["total"] == 50.0


def test_prediction_whose_best_gt_was_taken_stays_unassigned():
    # p1 matches 9 joints of g0 (pck 0.6) and 6 of g1 (pck 0.4): it keeps only g0, which p0
    # (pck 1) takes, so p1 is unassigned and all its joints are FP, even the 6 near g1.
    xy = [(SPACING * e, 0.0) if e < 9 else (SPACING * e, 1000.0) for e in range(J)]
    gt = sequence([[person(1), person(2, origin=(0.0, 1000.0))]])
    pred = sequence([[person(7, score=0.5), person(8, xy=xy, score=0.9)]])
    result = evaluate([gt], [pred])
    # Per joint: FP (0.9) then TP (0.5) out of 2 positives: 0.5 precision over 0.5 recall.
    assert np.all(per_joint(result["ap"]) == 25.0)


def test_joint_the_gt_lacks_is_a_false_positive():
    gt = sequence([[person(1, missing=(0,)), person(2, origin=(0.0, 1000.0))]])
    pred = sequence([[person(7, score=0.9), person(8, origin=(0.0, 1000.0), score=0.5)]])
    ap = per_joint(evaluate([gt], [pred])["ap"])
    assert ap[0] == 50.0 and np.all(ap[1:] == 100.0)


@pytest.mark.parametrize("tp_first_in_file, expected", [(True, 50.0), (False, 100.0)])
def test_equal_scores_rank_the_later_detection_first(tp_first_in_file, expected):
    tp, fp = person(7, score=0.5), person(8, origin=(0.0, 3000.0), score=0.5)
    gt = sequence([[person(1)]])
    pred = sequence([[tp, fp] if tp_first_in_file else [fp, tp]])
    assert np.all(per_joint(evaluate([gt], [pred])["ap"]) == expected)


def test_joint_without_detections_scores_0_and_joint_without_positives_is_nan():
    nose, right_ankle = joints.EVAL_JOINT_NAMES.index("nose"), 0
    gt = sequence([[person(1, missing=(right_ankle,))]])
    pred = sequence([[person(7, score=0.5, missing=(nose,))]])
    ap = evaluate([gt], [pred])["ap"]
    values = per_joint(ap)
    assert values[nose] == 0.0 and math.isnan(values[right_ankle])
    assert ap["total"] == pytest.approx(1300.0 / 14)  # NaN joints are left out of the total
    assert ap["head"] == pytest.approx(200.0 / 3) and math.isnan(ap["ankle"])


def test_missing_scores_fall_back_with_a_warning(caplog):
    gt = sequence([[person(1)], [person(1)]])
    with caplog.at_level(logging.WARNING):
        result = evaluate([gt], [gt])
    assert result["ap"]["total"] == 100.0
    assert any("no joint scores" in r.message for r in caplog.records)
