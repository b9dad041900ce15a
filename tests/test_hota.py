"""PoseTrack21 keypoint HOTA and mAP: hand-computed cases, the official kit's own numbers.

The hand cases (`HAND_CASES`) are also scored by the kit: `tests/data/pt21/make_fixtures.py`
ran it on them and on generated cases and saved its results beside the inputs, so the tests
hold the hand arithmetic, the kit and ours to the same numbers without needing the kit.

Geometry of the hand cases: a person's 15 joints lie on a row 100 px apart, in the kit's joint
order; the head box is 30 x 40 (diagonal 50), so the head size is 0.6 x 50 = 30 px, d = |gt -
pred| / 30 and S = max(0, 1 - d / 0.5001): an exact prediction has S = 1 (a TP at all 19
alphas), one 100 px off has S = 0.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.data import posetrack21 as pt21
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError
from gnnpose_jax.evaluation import evaluate
from gnnpose_jax.evaluation.hota import ALPHAS, COUNTS, FIELDS, format_hota_table, keypoint_hota
from gnnpose_jax.evaluation.pt21 import (
    KIT_JOINT_NAMES,
    KIT_SLOTS,
    keypoint_map,
    labeled_view,
    prepare,
)

DATA = Path(__file__).resolve().parent / "data" / "pt21"
NAMES = (*KIT_JOINT_NAMES, "total")
J = len(KIT_SLOTS)
HEAD = np.array([0.0, 0.0, 30.0, 40.0])


def person(track_id, origin=(100.0, 100.0), shift=(), score=1.0, xy=None, head=True):
    """A person with joint e (kit order) at origin + (100 e, 0); `shift` moves joints by 100 px.

    Args:
      track_id: its id.
      origin: position of joint 0.
      shift: kit joint indices moved 100 px down (S = 0 against the unmoved person).
      score: every joint's score (None: no scores, as GT).
      xy: {kit joint index: (x, y)} overrides; (0, 0) removes the joint.
      head: give it the head box.
    """
    kp = np.zeros((joints.NUM_JOINTS, 3))
    for e, slot in enumerate(KIT_SLOTS):
        kp[slot] = (origin[0] + 100.0 * e, origin[1] + (100.0 if e in shift else 0.0), 1.0)
    for e, (x, y) in (xy or {}).items():
        kp[KIT_SLOTS[e]] = (x, y, 0.0 if (x, y) == (0, 0) else 1.0)
    scores = None if score is None else np.full(joints.NUM_JOINTS, float(score))
    return Person(keypoints=kp, track_id=track_id, scores=scores,
                  head_box=HEAD.copy() if head else None)


def gt_person(track_id, **kwargs):
    return person(track_id, score=None, **kwargs)


def sequence(frames, name="000001_mpii_test", labeled=None, regions=None):
    """A sequence of labeled frames (`labeled`: which are) with image ids shared by both sides."""
    labeled = [True] * len(frames) if labeled is None else labeled
    regions = regions or {}
    return Sequence(name=name, frames=[
        Frame(file_name=f"images/val/{name}/{t:06d}.jpg", frame_index=t, is_labeled=labeled[t],
              people=people, ignore_regions=regions.get(t, []),
              image_id=10_000_000_000 + int(name[:6]) * 10_000 + t)
        for t, people in enumerate(frames)])


def square(x0, y0, x1, y1):
    """An ignore region, counter-clockwise."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


def column(result, field):
    """(16,) values of a field: the 15 joints in the kit's order, then the total."""
    return np.array([result[field][n] for n in NAMES])


# --- hand cases: (gt sequences, predicted sequences), shared with make_fixtures.py ---------


def case_perfect():
    # Two frames, one person, predicted exactly under another id: per joint TP = 2 at every
    # alpha, FN = FP = 0, one id pair with c = 2 matches, n_gt = n_pred = 2:
    # DetA = 1, AssA = 2^2 / (2 + 2 - 2) / 2 = 1, LocA = 1: everything 100.
    return ([sequence([[gt_person(0)], [gt_person(0)]])],
            [sequence([[person(5)], [person(5)]])])


def case_switch():
    # One GT id over 4 frames, predicted exactly, ids 1, 2, 1, 2. Per joint TP = 4: DetA = 1.
    # Pairs (0, 1) and (0, 2): c = 2, n_gt = 4, n_pred = 2, union 4 + 2 - 2 = 4:
    # AssA = (4/4 + 4/4) / 4 = 0.5, AssRe = (4/4 + 4/4) / 4 = 0.5, AssPr = (4/2 + 4/2) / 4 = 1,
    # HOTA = sqrt(0.5) = 70.71. Runs alternate, 4 runs of length 1: FragA = 4 x 1/4 / 4 = 0.25,
    # FA-HOTA = sqrt(1 x sqrt(0.5 x 0.25)) = 0.125^(1/4) = 59.46.
    gt = sequence([[gt_person(0)] for _ in range(4)])
    return [gt], [sequence([[person(1 + t % 2)] for t in range(4)])]


def case_no_predictions_in_a_frame():
    # Issue #10, the kit's way: 3 labeled frames, one GT person; frames 0 and 1 predicted
    # exactly, frame 2 not at all. Per joint TP = 2; frame 2 adds the whole sequence's GT
    # joints, 3, to FN (its own would be 1): DetA = 2 / (2 + 3) = 0.4, DetRe = 0.4.
    # AssA: c = 2, n_gt = 3, n_pred = 2, union 3: 4/3 / 2 = 2/3. HOTA = sqrt(0.4 x 2/3) = 51.64.
    # With fix_empty_frames: FN = 1, DetA = 2/3, HOTA = sqrt(2/3 x 2/3) = 66.67.
    gt = sequence([[gt_person(0)] for _ in range(3)])
    return [gt], [sequence([[person(9)], [person(9)], []])]


def case_sequence_without_predictions():
    # Sequence 1 as case_perfect; sequence 2 has 2 labeled frames and no prediction at all.
    # The kit's shortcut counts its GT joints once, FN = 2 per joint (not 2 x 2 by the frame
    # rule). Combined per joint: TP = 2, FN = 2, DetA = 0.5; AssA = (1 x 2 + 0 x 0) / 2 = 1;
    # HOTA = sqrt(0.5) = 70.71 on every joint and in total.
    gt1, pred1 = case_perfect()
    gt2 = sequence([[gt_person(3)], [gt_person(3)]], name="000002_mpii_test")
    return gt1 + [gt2], pred1 + [sequence([[], []], name="000002_mpii_test")]


def case_validity():
    # One frame. Nose: predicted with score -1, still a TP (scores play no part): HOTA 100.
    # Neck: predicted at x = -5 (invalid): the GT joint is missed (FN 1) and the prediction
    # is no FP: DetA 0. Head: the GT joint is at x = 0 (invalid), so the prediction is a FP:
    # DetA 0. The other 12 joints: TP. Total: TP 13, FN 1, FP 1 pooled: DetA = 13/15;
    # AssA = the mean of the joints' AssA, (13 x 1 + 2 x 0) / 15 = 13/15; HOTA = 86.67.
    gt = gt_person(0, xy={2: (0, 100)})
    pred = person(4, xy={1: (-5, 100)})
    pred.scores[KIT_SLOTS[0]] = -1.0
    return [sequence([[gt]])], [sequence([[pred]])]


def case_joint_wise_matching():
    # GT people A (id 0) at y = 100 and B (id 1) at y = 1000; prediction X has A's joints 0-7
    # and B's joints 8-14, Y the reverse. Matched joint by joint, every GT joint finds its
    # exact prediction: TP = 2, FN = FP = 0 and (for joints 0-7: pairs A-X and B-Y) c = 1,
    # union 1 + 1 - 1 = 1, AssA = 2 / 2 = 1: HOTA 100 everywhere, although neither predicted
    # person is any GT person.
    a, b = gt_person(0, origin=(100.0, 100.0)), gt_person(1, origin=(100.0, 1000.0))
    x = person(7, xy={e: (100.0 + 100 * e, 1000.0) for e in range(8, J)})
    y = person(8, origin=(100.0, 1000.0), xy={e: (100.0 + 100 * e, 100.0) for e in range(8, J)})
    return [sequence([[a, b]])], [sequence([[x, y]])]


def case_ignore_regions():
    # Frame 0 has the region (50, 50)-(350, 150). Joints 0-2 of GT person A and of its exact
    # prediction (x = 100, 200, 300 at y = 100) are strictly inside: removed on both sides. GT
    # person B and prediction Z lie wholly inside (dropped), and so does the box-only GT person
    # C (no joints, dropped in a frame with a region).
    # Joints 0-2: nothing left, TP = FN = FP = 0: DetA = 0 / max(1, 0) = 0, AssA = 0, HOTA 0,
    # LocA 100 (1e-10 / 1e-10). Joints 3-14: TP 1, HOTA 100.
    # Total: TP 12, FN = FP = 0: DetA = 1; AssA = the mean of the joints' AssA = 12/15 = 0.8
    # (one sequence: the TP weights cancel); HOTA = sqrt(1 x 0.8) = 89.44, not the mean of the
    # joints' HOTA (80). LocA total = the mean of the joints' LocA = 100.
    region = square(50, 50, 350, 150)
    inside = {e: (60.0 + 10 * e, 120.0) for e in range(J)}
    gt = [gt_person(0), gt_person(1, xy=inside), gt_person(2, xy={e: (0, 0) for e in range(J)})]
    pred = [person(5), person(6, xy=inside)]
    return [sequence([gt], regions={0: [region]})], [sequence([pred])]


def case_partial_similarity():
    # One frame, one person; the prediction is exact but for the nose, 6 px off: d = 6 / 30 =
    # 0.2, S = 1 - 0.2 / 0.5001 = 0.600080: a TP at the 12 alphas 0.05..0.60, a FN and a FP at
    # the other 7. Nose: DetA = AssA = HOTA = 12/19 = 63.16; LocA = (12 x 0.600080 + 7 x 1) /
    # 19 = 74.742 (1 where there is no TP).
    # Total, 12 alphas: DetA = AssA = HOTA = 1; 7 alphas: DetA = 14 / (14 + 1 + 1) = 0.875,
    # AssA = 14/15, HOTA = sqrt(0.875 x 14/15) = 0.903696. Means: DetA = (12 + 7 x 0.875) / 19
    # = 95.395, AssA = (12 + 7 x 14/15) / 19 = 97.544, HOTA = (12 + 7 x 0.903696) / 19 =
    # 96.452; LocA = (12 x (14 + 0.600080) / 15 + 7) / 19 = 98.316.
    gt = gt_person(0)
    pred = person(1, xy={0: (106.0, 100.0)})
    return [sequence([[gt]])], [sequence([[pred]])]


HAND_CASES = {
    "perfect": case_perfect,
    "switch": case_switch,
    "no_predictions_in_a_frame": case_no_predictions_in_a_frame,
    "sequence_without_predictions": case_sequence_without_predictions,
    "validity": case_validity,
    "joint_wise_matching": case_joint_wise_matching,
    "ignore_regions": case_ignore_regions,
    "partial_similarity": case_partial_similarity,
}


def case_map_ties():
    # mAP, one GT person. Prediction P (far: every joint 100 px off) comes first in the file,
    # exact prediction Q second, both with score 0.5. Equal scores rank the later one first
    # (numpy's argsort()[::-1]): Q's TP then P's FP, precision 1 at recall 1: AP 100 per joint
    # (50 the other way round). Precision 1/2, recall 1. Half-pixel coordinates: see
    # case_map_integer_keypoints.
    far = person(1, origin=(100.5, 200.5), score=0.5)
    return ([sequence([[gt_person(0)]])],
            [sequence([[far, person(2, origin=(100.5, 100.5), score=0.5)]])])


def case_map_validity():
    # mAP. GT frame 0: A without head top (x = 0); frame 1: A. Predictions 0.5 px off, but in
    # frame 0 the head top is predicted and the neck is at x = -5 (no detection). Head top: one
    # GT joint (frame 1); detections: frame 0 (FP, score 0.9) and frame 1 (TP, score 0.8):
    # precision 1/2 at recall 1, AP 50. Neck: one detection (frame 1, TP), 2 GT joints: AP =
    # 1/2 x 1 = 50. Other joints: AP 100. Head = (50 + 50 + 100) / 3 = 66.67.
    a0 = gt_person(0, xy={2: (0, 100)})
    p0 = person(3, origin=(100.5, 100.0), score=0.9, xy={1: (-5.0, 100.0)})
    return ([sequence([[a0], [gt_person(0)]])],
            [sequence([[p0], [person(3, origin=(100.5, 100.0), score=0.8)]])])


def case_map_integer_keypoints():
    # mAP, one GT person; exact prediction X (score 0.9), then far prediction Y (score 0.3).
    # Ours: X's TP ranks first, AP 100. All keypoint numbers of the frame are whole, so the
    # kit's numpy array of them is an integer array, into which it writes the scores: 0.9 and
    # 0.3 become 0, a tie, the later Y first: AP 50.
    return ([sequence([[gt_person(0)]])],
            [sequence([[person(1, score=0.9), person(2, origin=(100.0, 200.0), score=0.3)]])])


MAP_CASES = {"ties": case_map_ties, "validity": case_map_validity,
             "integer_keypoints": case_map_integer_keypoints}


def crash_labeled_frame_without_gt():
    # Frame 1 is labeled with no GT person and one exact prediction.
    return [sequence([[gt_person(0)], []])], case_perfect()[1]


def crash_gt_all_in_ignore_regions():
    # Frame 1's region covers everything: its GT person and prediction are dropped.
    gt = sequence([[gt_person(0)], [gt_person(0)]], regions={1: [square(0, 0, 3000, 3000)]})
    return [gt], case_perfect()[1]


def crash_two_point_ignore_region():
    # A "region" of 2 points has no inside: nothing is removed, both frames score 100.
    gt = sequence([[gt_person(0)], [gt_person(0)]],
                  regions={0: [np.array([[0.0, 0.0], [5000.0, 5000.0]])]})
    return [gt], case_perfect()[1]


def crash_zero_head_box():
    # Frame 0's GT head box has size 0 and the prediction is exact: d = 0 / 0, no match.
    a = gt_person(0)
    a.head_box = np.array([10.0, 10.0, 10.0, 10.0])
    return [sequence([[a], [gt_person(0)]])], case_perfect()[1]


CRASH_CASES = {
    "labeled_frame_without_gt": crash_labeled_frame_without_gt,
    "labeled_frame_whose_gt_all_lie_in_ignore_regions": crash_gt_all_in_ignore_regions,
    "two_point_ignore_region": crash_two_point_ignore_region,
    "zero_size_head_box_and_an_exact_prediction": crash_zero_head_box,
}


def _fixture(*parts):
    return json.loads(DATA.joinpath(*parts).read_text())


KIT_HAND = _fixture("hand.json")


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


def test_map_ties_and_validity():
    ties = keypoint_map(*case_map_ties())
    assert ties["ap"]["total"] == 100.0 and ties["precision"]["total"] == 50.0
    assert ties["recall"]["total"] == 100.0
    validity = keypoint_map(*case_map_validity())["ap"]
    assert validity["per_joint"]["head_top"] == 50.0
    assert validity["per_joint"]["head_bottom"] == 50.0
    assert validity["per_joint"]["nose"] == validity["per_joint"]["left_ankle"] == 100.0
    assert validity["head"] == pytest.approx(200 / 3)


def test_map_integer_keypoints_quirk_is_not_reproduced():
    gts, preds = case_map_integer_keypoints()
    assert keypoint_map(gts, preds)["ap"]["total"] == 100.0
    assert KIT_HAND["map"]["integer_keypoints"]["map"]["Total"] == 50.0
    for p in preds[0].frames[0].people:
        p.scores = np.trunc(p.scores)  # what the kit does to them
    assert_map_equal(keypoint_map(gts, preds), KIT_HAND["map"]["integer_keypoints"])


# --- the kit's own numbers ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HAND_CASES))
def test_hand_cases_equal_the_kit(name):
    ours = keypoint_hota(*HAND_CASES[name]())
    for field in FIELDS:
        kit = 100 * np.array(KIT_HAND["hota"][name][field])
        assert column(ours, field) == pytest.approx(kit, abs=1e-9), field


_MAP_GROUPS = {"Head": "head", "Shou": "shoulder", "Elb": "elbow", "Wri": "wrist", "Hip": "hip",
               "Knee": "knee", "Ankl": "ankle", "Total": "total"}


def assert_map_equal(ours: dict, kit: dict) -> None:
    for block, kit_block in (("ap", "map"), ("precision", "precision"), ("recall", "recall")):
        for kit_key, key in _MAP_GROUPS.items():
            assert ours[block][key] == pytest.approx(kit[kit_block][kit_key], abs=1e-9)


@pytest.mark.parametrize("name", sorted(set(MAP_CASES) - {"integer_keypoints"}))
def test_map_cases_equal_the_kit(name):
    assert_map_equal(keypoint_map(*MAP_CASES[name]()), KIT_HAND["map"][name])


def test_varied_case_equals_the_kit_at_every_alpha_and_sequence():
    # Missed people and joints, false positives, identity switches, ignore regions, box-only
    # GT people, frames without predictions, unlabeled frames, scores <= 0, x < 0.
    kit = _fixture("varied", "kit.json")
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
    kit = _fixture("crowd", "kit.json")
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
    kit = _fixture("integer_keypoints", "kit.json")
    gt_dir, pred_dir = DATA / "varied" / "gt", DATA / "integer_keypoints" / "pred"
    ours = keypoint_hota(gt_dir, pred_dir)
    for field in FIELDS:
        assert column(ours, field) == pytest.approx(
            100 * np.array(kit["hota"]["combined"][field]), abs=1e-8)
    assert keypoint_map(gt_dir, pred_dir)["ap"]["total"] - kit["map"]["map"]["Total"] > 2


def test_inputs_the_kit_crashes_on_are_scored():
    kit = _fixture("crashes.json")
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
