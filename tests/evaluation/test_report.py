"""`evaluate` and its report (gnnpose_jax.evaluation.report): the ground truth scores 100, both
file formats agree, per-sequence results add up, the console table, bad pairings."""

import json

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.data import posetrack as pt
from gnnpose_jax.errors import DataError
from gnnpose_jax.evaluation import evaluate, format_table, load_for_evaluation, to_json
from tests.helpers.poseval_people import ground_truth, noisy, person, sequence


def per_joint(block):
    """(15,) array of a block's per-joint values."""
    return np.array([block["per_joint"][n] for n in joints.EVAL_JOINT_NAMES])


def counts(result, name):
    """(15,) per-joint MOTA counts."""
    return np.array([result["mota"]["counts"][name][n] for n in joints.EVAL_JOINT_NAMES])


@pytest.mark.parametrize("fmt", ["2018", "2017"])
def test_ground_truth_against_itself_is_100_everywhere(fmt, tmp_path):
    gt = ground_truth()
    pt.write_sequences(gt, tmp_path / "gt", fmt=fmt)
    gt_seqs, pred_seqs = load_for_evaluation(tmp_path / "gt", tmp_path / "gt")
    result = evaluate(gt_seqs, pred_seqs)
    assert np.all(per_joint(result["ap"]) == 100.0) and result["ap"]["total"] == 100.0
    mota = result["mota"]
    assert np.all(per_joint(mota) == 100.0) and mota["total"] == 100.0
    for key in ("precision", "recall", "motp", "motp_matched"):
        assert mota[key] == 100.0
    assert counts(result, "switches").sum() == 0


def test_2017_and_2018_files_give_identical_numbers(tmp_path):
    gt, pred = ground_truth(), noisy(ground_truth())
    results = []
    for fmt in ("2018", "2017"):
        pt.write_sequences(gt, tmp_path / fmt / "gt", fmt=fmt)
        pt.write_sequences(pred, tmp_path / fmt / "pred", fmt=fmt)
        results.append(evaluate(*load_for_evaluation(tmp_path / fmt / "gt",
                                                     tmp_path / fmt / "pred")))
    assert json.dumps(to_json(results[0])) == json.dumps(to_json(results[1]))
    assert 0 < results[0]["ap"]["total"] < 100 and results[0]["mota"]["total"] < 100


def test_bad_pairing_and_missing_head_box_raise_data_error():
    gt = sequence([[person(1)], [person(1)]])
    with pytest.raises(DataError, match="no sequence named 000001_mpii_test"):
        evaluate([gt], [sequence([[person(1)]], name="000002_mpii_test")])
    with pytest.raises(DataError, match="1 frames, but the ground truth has 2"):
        evaluate([gt], [sequence([[person(1)]])])
    with pytest.raises(DataError, match="frame 0.*bbox_head"):
        evaluate([sequence([[person(1, head=False)], [person(1)]])], [gt])


def test_per_sequence_and_table():
    gt, pred = ground_truth(), noisy(ground_truth())
    result = evaluate(gt, pred, per_sequence=True)
    assert set(result["per_sequence"]) == {s.name for s in gt}
    objects = sum(np.array([r["mota"]["counts"]["objects"]["total"]])
                  for r in result["per_sequence"].values())
    assert objects == result["mota"]["counts"]["objects"]["total"]
    lines = format_table(to_json(result)).splitlines()
    assert lines[0].split("|")[0].strip() == "Metric" and lines[1].startswith("AP ")
    assert f"{result['mota']['total']:5.1f}" in lines[2]
