"""Scoring the tracker's recorded pairs against the GT people (gnnpose_jax.tracking.merge_fit)."""

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data.types import Frame, Person
from gnnpose_jax.evaluation.prepare import HEAD_SIZE_FACTOR
from gnnpose_jax.tracking.merge_fit import ScoredPairs
from gnnpose_jax.tracking.tracker import Pose
from tests.tracking.test_tracker import _person

K = joints.NUM_JOINTS


def _gt(x0: float, track_id: int) -> Person:
    """A GT person at `_person(x0)` with a head box of diagonal 20 / 0.6 (PCKh@0.5 reach: 10 px),
    joint 5 hidden and joint 6 not annotated."""
    keypoints = np.concatenate([_person(x0), np.ones((K, 1))], axis=1)
    keypoints[5, 2] = 0.0
    keypoints[6] = 0.0
    side = 20.0 / HEAD_SIZE_FACTOR / np.sqrt(2.0)
    return Person(keypoints, track_id, head_box=np.array([x0, 0.0, x0 + side, side]))


def test_each_pair_goes_to_the_gt_person_its_estimate_covers():
    people = [_gt(60.0, 0), _gt(200.0, 1)]
    frame = Frame("f.jpg", 0, True, people)
    scores = np.full(K, 0.9)
    # Pair 1 on person 1: the estimate exact; the prediction 8 px off (right) except joint 0,
    # 12 px off (wrong). Pair 2 on nobody (far away): not kept.
    on_second = Pose(people[1].keypoints[:, :2].copy(), scores)
    shifted = people[1].keypoints[:, :2] + (8.0, 0.0)
    shifted[0] += (4.0, 0.0)
    nowhere = Pose(_person(900.0), scores)
    scored = ScoredPairs()
    scored.add_frame(frame, [(Pose(shifted, np.full(K, 0.5)), on_second), (nowhere, nowhere)],
                     joint_threshold=0.2)
    assert scored.recorded == 2 and len(scored.annotated) == 1
    annotated = people[1].present
    np.testing.assert_array_equal(scored.annotated[0], annotated)
    np.testing.assert_array_equal(scored.visible[0], annotated & (np.arange(K) != 5))
    assert scored.estimate_right[0][annotated].all()
    assert not scored.prediction_right[0][0] and scored.prediction_right[0][1:][annotated[1:]].all()
    table = scored.table()
    assert table.pairs.sum() == annotated.sum()
    assert table.pairs[5, :, :, 0].sum() == 1  # the hidden joint
    np.testing.assert_array_equal(scored.prediction_scores[0], 0.5)


def test_no_gt_person_or_no_head_box_keeps_nothing():
    scored = ScoredPairs()
    pose = Pose(_person(60.0), np.full(K, 0.9))
    headless = _gt(60.0, 0)
    headless.head_box = None
    scored.add_frame(Frame("f.jpg", 0, True, [headless]), [(pose, pose)], 0.2)
    scored.add_frame(Frame("g.jpg", 1, True, []), [(pose, pose)], 0.2)
    assert scored.recorded == 2 and not scored.annotated
    assert scored.table().pairs.sum() == 0
