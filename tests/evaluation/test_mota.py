"""Per-joint CLEAR-MOT counts (gnnpose_jax.evaluation.mota): carried matches, switches, misses,
MOTP, by hand."""

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.evaluation import evaluate
from tests.helpers.poseval_people import person, sequence


def counts(result, name):
    """(15,) per-joint MOTA counts."""
    return np.array([result["mota"]["counts"][name][n] for n in joints.EVAL_JOINT_NAMES])


def test_match_is_carried_forward_when_a_closer_hypothesis_appears():
    gt = sequence([[person(1)], [person(1)], [person(1)]])
    pred = sequence([[person(10, score=0.5, offset=(3.0, 0.0))],
                     [person(10, score=0.5, offset=(12.0, 0.0)), person(20, score=0.5)],
                     [person(10, score=0.5)]])
    result = evaluate([gt], [pred])
    assert np.all(counts(result, "matches") == 2) and np.all(counts(result, "switches") == 0)
    assert np.all(counts(result, "false_positives") == 1)
    assert result["mota"]["total"] == 50.0


def test_switch_is_counted():
    gt = sequence([[person(1)], [person(1)], [person(1)]])
    pred = sequence([[person(10, score=0.5)], [person(20, score=0.5)], [person(20, score=0.5)]])
    result = evaluate([gt], [pred])
    assert np.all(counts(result, "switches") == 1) and np.all(counts(result, "matches") == 2)
    assert result["mota"]["total"] == 50.0


def _crowd(n=3):
    return [person(k, origin=(0.0, 1000.0 * k)) for k in range(n)]


def _perfect(n=3):
    return [person(k + 10, origin=(0.0, 1000.0 * k), score=0.5) for k in range(n)]


def test_frame_without_predictions_counts_one_miss_and_one_fp_per_joint():
    gt = sequence([_crowd(), _crowd(), _crowd()])
    pred = sequence([_perfect(), [], _perfect()])
    result = evaluate([gt], [pred])
    assert np.all(counts(result, "objects") == 4) and np.all(counts(result, "misses") == 1)
    assert np.all(counts(result, "false_positives") == 1)
    mota = result["mota"]
    assert mota["total"] == 50.0 and mota["precision"] == 75.0 and mota["recall"] == 75.0
    plain = evaluate([gt], [pred], official_quirks=False)  # every frame, real misses
    assert np.all(counts(plain, "objects") == 9) and np.all(counts(plain, "misses") == 3)
    assert plain["mota"]["total"] == pytest.approx(100.0 * (1 - 3 / 9))


def test_official_motp_also_sums_unmatched_candidate_pairs():
    # GT 1 matches A (d = 0.1); B is a candidate too (d = 0.3) but a false positive.
    gt = sequence([[person(1)], [person(1)]])
    pred = sequence([[person(10, score=0.5, offset=(3.0, 0.0)),
                      person(20, score=0.5, offset=(0.0, 9.0))], [person(10, score=0.5)]])
    mota = evaluate([gt], [pred])["mota"]
    assert mota["motp_matched"] == pytest.approx(90.0)
    assert mota["motp"] == pytest.approx(100.0 * (1 - (0.1 + 0.3 + 0.1)))
