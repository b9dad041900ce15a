"""PoseTrack21 keypoint HOTA and mAP: hand-computed cases, the official kit's own numbers.

The hand cases (`HAND_CASES`) are also scored by the kit: `tests/fixtures/pt21/make_fixtures.py`
ran it on them and on generated cases and saved its results beside the inputs, so the tests
hold the hand arithmetic, the kit and ours to the same numbers without needing the kit.

Geometry of the hand cases: a person's 15 joints lie on a row 100 px apart, in the kit's joint
order; the head box is 30 x 40 (diagonal 50), so the head size is 0.6 x 50 = 30 px, d = |gt -
pred| / 30 and S = max(0, 1 - d / 0.5001): an exact prediction has S = 1 (a TP at all 19
alphas), one 100 px off has S = 0.
"""

import math

import numpy as np
import pytest

from gnnpose_jax.data import posetrack21 as pt21
from gnnpose_jax.errors import DataError
from gnnpose_jax.evaluation import evaluate
from gnnpose_jax.evaluation.hota import ALPHAS, COUNTS, FIELDS, format_hota_table, keypoint_hota
from gnnpose_jax.evaluation.pt21 import keypoint_map, labeled_view, prepare
from tests.helpers.pt21_cases import (
    CRASH_CASES,
    DATA,
    HAND_CASES,
    KIT_HAND,
    NAMES,
    J,
    assert_map_equal,
    case_ignore_regions,
    case_joint_wise_matching,
    case_no_predictions_in_a_frame,
    case_partial_similarity,
    case_perfect,
    case_sequence_without_predictions,
    case_switch,
    case_validity,
    column,
    crash_labeled_frame_without_gt,
    kit_fixture,
    person,
    sequence,
)

# --- hand arithmetic ----------------------------------------------------------------------


def _hota(case, **kwargs):
    return keypoint_hota(*case(), **kwargs)


def test_perfect_prediction_is_100_everywhere():
    result = _hota(case_perfect)
    assert all(np.all(column(result, f) == 100.0) for f in FIELDS)


def test_identity_switch():
    result = _hota(case_switch)
    expected = {"HOTA": math.sqrt(0.5), "DetA": 1, "AssA": 0.5, "AssRe": 0.5, "AssPr": 1,
                "FragA": 0.25, "FA-HOTA": 0.125 ** 0.25, "LocA": 1}
    for field, value in expected.items():
        assert column(result, field) == pytest.approx(np.full(J + 1, 100 * value))


def test_frame_without_predictions_counts_the_whole_sequence_issue_10():
    kit_way = _hota(case_no_predictions_in_a_frame)
    assert column(kit_way, "DetA") == pytest.approx(np.full(J + 1, 40.0))
    assert column(kit_way, "DetRe") == pytest.approx(np.full(J + 1, 40.0))
    assert column(kit_way, "AssA") == pytest.approx(np.full(J + 1, 200 / 3))
    assert column(kit_way, "HOTA") == pytest.approx(np.full(J + 1, 100 * math.sqrt(0.4 * 2 / 3)))
    fixed = _hota(case_no_predictions_in_a_frame, fix_empty_frames=True)
    assert column(fixed, "DetA") == pytest.approx(np.full(J + 1, 200 / 3))
    assert column(fixed, "HOTA") == pytest.approx(np.full(J + 1, 200 / 3))


def test_frame_without_gt_counts_the_whole_sequence_unless_fixed():
    # Frame 0: TP 1 per joint. Frame 1, no GT: the kit's code adds the sequence's predicted
    # joints, 2, to FP: DetA = 1 / (1 + 2) (the kit itself crashes on this input, see
    # test_inputs_the_kit_crashes_on_are_scored). Fixed, the frame's own: DetA = 1 / 2.
    gts, preds = crash_labeled_frame_without_gt()
    assert column(keypoint_hota(gts, preds), "DetA") == pytest.approx(np.full(J + 1, 100 / 3))
    fixed = keypoint_hota(gts, preds, fix_empty_frames=True)
    assert column(fixed, "DetA") == pytest.approx(np.full(J + 1, 50.0))


def test_sequence_without_any_prediction_counts_its_gt_once():
    result = _hota(case_sequence_without_predictions)
    assert column(result, "DetA") == pytest.approx(np.full(J + 1, 50.0))
    assert column(result, "HOTA") == pytest.approx(np.full(J + 1, 100 * math.sqrt(0.5)))
    # The fix changes nothing here: the shortcut already counts each GT joint once.
    assert _hota(case_sequence_without_predictions, fix_empty_frames=True) == result


def test_validity_is_x_and_y_above_zero_and_scores_play_no_part():
    result = _hota(case_validity)
    hota = column(result, "HOTA")
    assert hota[:3] == pytest.approx([100, 0, 0]) and np.all(hota[3:J] == 100)
    assert result["DetA"]["total"] == pytest.approx(100 * 13 / 15)
    assert result["HOTA"]["total"] == pytest.approx(100 * 13 / 15)
    assert result["DetRe"]["total"] == pytest.approx(100 * 13 / 14)


def test_matching_is_per_joint():
    result = _hota(case_joint_wise_matching)
    assert all(np.all(column(result, f) == 100.0) for f in ("HOTA", "DetA", "AssA"))


def test_ignore_regions_and_the_total_column():
    result = _hota(case_ignore_regions)
    assert column(result, "HOTA") == pytest.approx([0, 0, 0] + [100] * 12 + [100 * 0.8 ** 0.5])
    assert column(result, "AssA")[-1] == pytest.approx(80.0)
    assert column(result, "DetA")[-1] == pytest.approx(100.0)
    assert np.all(column(result, "LocA") == pytest.approx(100.0))


def test_similarity_between_thresholds_and_the_alpha_mean():
    result = _hota(case_partial_similarity, per_alpha=True)
    s = 1 - 0.2 / 0.5001
    assert result["HOTA"]["nose"] == pytest.approx(100 * 12 / 19)
    assert result["LocA"]["nose"] == pytest.approx(100 * (12 * s + 7) / 19)
    assert result["DetA"]["total"] == pytest.approx(100 * (12 + 7 * 0.875) / 19)
    assert result["AssA"]["total"] == pytest.approx(100 * (12 + 7 * 14 / 15) / 19)
    assert result["HOTA"]["total"] == pytest.approx(100 * (12 + 7 * math.sqrt(0.875 * 14 / 15))
                                                    / 19)
    assert result["LocA"]["total"] == pytest.approx(100 * (12 * (14 + s) / 15 + 7) / 19)
    curves = result["per_alpha"]
    assert curves["alpha"] == pytest.approx(ALPHAS.tolist())
    assert curves["TP"]["nose"] == [1] * 12 + [0] * 7
    assert curves["FN"]["total"] == [0] * 12 + [1] * 7
    assert curves["HOTA"]["left_ankle"] == [100.0] * 19


# --- the kit's own numbers ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HAND_CASES))
def test_hand_cases_equal_the_kit(name):
    ours = keypoint_hota(*HAND_CASES[name]())
    for field in FIELDS:
        kit = 100 * np.array(KIT_HAND["hota"][name][field])
        assert column(ours, field) == pytest.approx(kit, abs=1e-9), field


def test_varied_case_equals_the_kit_at_every_alpha_and_sequence():
    # Missed people and joints, false positives, identity switches, ignore regions, box-only
    # GT people, frames without predictions, unlabeled frames, scores <= 0, x < 0.
    kit = kit_fixture("varied", "kit.json")
    ours = keypoint_hota(DATA / "varied" / "gt", DATA / "varied" / "pred", per_alpha=True,
                         per_sequence=True)
    for field in FIELDS:
        curve = np.array([ours["per_alpha"][field][n] for n in NAMES]).T
        assert curve == pytest.approx(100 * np.array(kit["hota"]["combined"][field]), abs=1e-8)
        assert column(ours, field) == pytest.approx(100 * np.mean(
            kit["hota"]["combined"][field], axis=0), abs=1e-8)
        for seq, values in kit["hota"]["per_sequence"].items():
            assert column(ours["per_sequence"][seq], field) == pytest.approx(
                100 * np.array(values[field]), abs=1e-8)
    for field in COUNTS:
        curve = np.array([ours["per_alpha"][field][n] for n in NAMES]).T
        assert np.array_equal(curve, kit["hota"]["combined"]["HOTA_" + field])
    assert 20 < ours["HOTA"]["total"] < 80
    assert_map_equal(keypoint_map(DATA / "varied" / "gt", DATA / "varied" / "pred"), kit["map"])


def test_crowd_case_with_exact_ties_in_the_assignment_equals_the_kit():
    kit = kit_fixture("crowd", "kit.json")
    gts, preds = (pt21.read_sequences(DATA / "crowd" / side) for side in ("gt", "pred"))
    prep = prepare(gts, preds)
    ours = keypoint_hota(prep)
    for field in FIELDS:
        assert column(ours, field) == pytest.approx(
            100 * np.array(kit["hota"]["combined"][field]), abs=1e-8)
    assert_map_equal(keypoint_map(prep), kit["map"])


def test_integer_keypoints_leave_hota_alone_but_move_the_kit_map():
    # The varied case with keypoints rounded to whole pixels (JSON integers): the kit's
    # truncated scores (see case_map_integer_keypoints) do not touch HOTA, but its mAP is far
    # from ours (all scores below 1 become 0, ranked in numpy's unstable-sort order).
    kit = kit_fixture("integer_keypoints", "kit.json")
    gt_dir, pred_dir = DATA / "varied" / "gt", DATA / "integer_keypoints" / "pred"
    ours = keypoint_hota(gt_dir, pred_dir)
    for field in FIELDS:
        assert column(ours, field) == pytest.approx(
            100 * np.array(kit["hota"]["combined"][field]), abs=1e-8)
    assert keypoint_map(gt_dir, pred_dir)["ap"]["total"] - kit["map"]["map"]["Total"] > 2


def test_inputs_the_kit_crashes_on_are_scored():
    kit = kit_fixture("crashes.json")
    assert set(kit) == set(CRASH_CASES) and all("error" in r for r in kit.values())
    deta = {name: column(keypoint_hota(*case()), "DetA") for name, case in CRASH_CASES.items()}
    assert deta["labeled_frame_without_gt"] == pytest.approx(np.full(J + 1, 100 / 3))
    # Frame 1 loses everyone on both sides; still, being without GT, it adds the sequence's
    # predicted joints (1, frame 0's) as FP: DetA = 1 / (1 + 1).
    assert deta["labeled_frame_whose_gt_all_lie_in_ignore_regions"] == pytest.approx(
        np.full(J + 1, 50.0))
    assert np.all(deta["two_point_ignore_region"] == 100.0)
    # Frame 0: no match (FN 1, FP 1); frame 1: TP 1. DetA 1/3.
    assert deta["zero_size_head_box_and_an_exact_prediction"] == pytest.approx(
        np.full(J + 1, 100 / 3))


# --- inputs -----------------------------------------------------------------------------------


def test_folders_and_sequences_give_the_same_result():
    gts = pt21.read_sequences(DATA / "varied" / "gt")
    preds = pt21.read_sequences(DATA / "varied" / "pred")
    assert keypoint_hota(gts, preds[::-1]) == keypoint_hota(DATA / "varied" / "gt",
                                                             DATA / "varied" / "pred")


def _one_line_error(match, *args):
    with pytest.raises(DataError, match=match) as info:
        keypoint_hota(*args)
    assert "\n" not in str(info.value)


def test_image_ids_must_agree_in_labeled_frames():
    gts, preds = case_switch()
    preds[0].frames[2].image_id += 1
    _one_line_error("frame 2: field 'image_id': expected 10000010002", gts, preds)
    gts[0].frames[2].is_labeled = False  # not scored: not checked, as by the kit
    assert keypoint_hota(gts, preds)["DetA"]["total"] == 100.0


def test_bad_pairings_and_missing_head_boxes(tmp_path):
    gts, preds = case_switch()
    _one_line_error("predictions: no sequence named 000001_mpii_test", gts, [])
    _one_line_error("ground truth: no sequences", [], preds)
    short = sequence([[person(1)]] * 3)
    _one_line_error("3 frames, but the ground truth has 4", gts, [short])
    gts[0].frames[1].people[0].head_box = None
    _one_line_error("frame 1 .*person 0: field 'bbox_head'", gts, preds)
    pt21.write_sequences(case_switch()[0], tmp_path / "gt")
    (tmp_path / "pred").mkdir()
    _one_line_error("missing prediction file", tmp_path / "gt", tmp_path / "pred")


def test_format_hota_table():
    table = format_hota_table(_hota(case_switch)).splitlines()
    assert table[0].split("|")[1].split() == ["Nose"] and table[0].endswith("Total")
    assert [row.split("|")[0].strip() for row in table[1:]] == list(FIELDS)
    assert table[1].split("|")[-1].strip() == "70.7"


def test_poseval_mota_on_posetrack21_files_scores_the_labeled_frames():
    # The varied case's GT has people (with joints) in its 12 unlabeled frames too; poseval's
    # MOTA scores frames with GT people, so it needs the labeled view: 40 labeled frames.
    gts = pt21.read_sequences(DATA / "varied" / "gt")
    preds = pt21.read_sequences(DATA / "varied" / "pred")
    assert evaluate(gts, preds)["info"]["labeled_frames"] == 52
    result = evaluate(labeled_view(gts), preds)
    assert result["info"]["labeled_frames"] == 40 and 0 < result["mota"]["total"] < 100
    assert [f.people != [] for f in gts[0].frames].count(True) == 13  # the input is untouched
