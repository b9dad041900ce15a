"""PoseTrack21 HOTA/mAP cases for the tests and for `tests/fixtures/pt21/make_fixtures.py`: the
hand-made cases (`HAND_CASES`, `MAP_CASES`, `CRASH_CASES`), the kit's saved results on them
(`KIT_HAND`, `kit_fixture`), and comparisons against those results.

Geometry of the hand cases: a person's 15 joints lie on a row 100 px apart, in the kit's joint
order; the head box is 30 x 40 (diagonal 50), so the head size is 0.6 x 50 = 30 px.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.evaluation.pt21 import KIT_JOINT_NAMES, KIT_SLOTS

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "pt21"
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


# --- hand cases: (gt sequences, predicted sequences), shared with makekit_fixtures.py ---------


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


def kit_fixture(*parts):
    return json.loads(DATA.joinpath(*parts).read_text())


KIT_HAND = kit_fixture("hand.json")


_MAP_GROUPS = {"Head": "head", "Shou": "shoulder", "Elb": "elbow", "Wri": "wrist", "Hip": "hip",
               "Knee": "knee", "Ankl": "ankle", "Total": "total"}


def assert_map_equal(ours: dict, kit: dict) -> None:
    for block, kit_block in (("ap", "map"), ("precision", "precision"), ("recall", "recall")):
        for kit_key, key in _MAP_GROUPS.items():
            assert ours[block][key] == pytest.approx(kit[kit_block][kit_key], abs=1e-9)
