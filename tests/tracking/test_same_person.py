"""The rules that keep people apart in the tracker: merge agreement, recovered-pose
suppression and pose-bounds pruning, with hand-made poses."""

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.tracking.plausibility import PoseBounds
from gnnpose_jax.tracking.same_person import agreement, covered
from gnnpose_jax.tracking.tracker import OnlineTracker, Pose, TrackerConfig, merge_poses
from tests.helpers.walkers import walker_poses
from tests.tracking.test_plausibility import LOWER, UPPER, stitched
from tests.tracking.test_tracker import ScriptedEstimator, _box, _person

K = joints.NUM_JOINTS
IMAGE = np.zeros((240, 480, 3), np.uint8)


def far_apart_pair():
    """A prediction and an estimate of two people 250 px apart, each the higher-scoring
    source on half of the joints."""
    scores = np.linspace(0.3, 0.9, K)
    return Pose(_person(50.0), scores), Pose(_person(300.0), scores[::-1].copy())


@pytest.mark.parametrize("rule", ["weighted", "max"])
def test_a_merge_of_two_far_apart_poses_never_yields_joints_of_both(rule):
    predicted, estimated = far_apart_pair()
    merged = merge_poses(predicted, estimated, rule, 0.1, 0.2, min_agree=0.5)
    np.testing.assert_array_equal(merged.keypoints, estimated.keypoints)
    np.testing.assert_array_equal(merged.scores, estimated.scores)
    # The default (0: always joint by joint) takes each joint from the higher-scoring source,
    # so the result spans both people.
    mixed = merge_poses(predicted, estimated, rule, 0.1, 0.2)
    from_prediction = np.all(mixed.keypoints == predicted.keypoints, axis=1)
    from_estimate = np.all(mixed.keypoints == estimated.keypoints, axis=1)
    assert from_prediction.any() and from_estimate.any()


def test_agreeing_poses_still_merge_joint_by_joint():
    predicted, estimated = far_apart_pair()
    close = Pose(estimated.keypoints + 1.0, predicted.scores)
    for rule in ("weighted", "max"):
        merged = merge_poses(close, estimated, rule, 0.1, 0.2, min_agree=0.9)
        plain = merge_poses(close, estimated, rule, 0.1, 0.2)
        np.testing.assert_array_equal(merged.keypoints, plain.keypoints)
        np.testing.assert_array_equal(merged.scores, plain.scores)
        assert not np.array_equal(merged.keypoints, estimated.keypoints)


def test_agreement_counts_the_shared_joints_within_reach():
    keypoints = np.zeros((K, 2))
    keypoints[:4] = [[0, 0], [100, 0], [0, 100], [100, 100]]  # diagonal 141 px
    scores = np.zeros(K)
    scores[:4] = 0.9
    estimated = Pose(keypoints, scores)
    moved = keypoints.copy()
    moved[0] += 20.0  # 28 px away: beyond 0.1 x 141
    assert agreement(Pose(moved, scores), estimated, 0.1, 0.2) == 0.75
    assert agreement(Pose(moved, scores), estimated, 0.3, 0.2) == 1.0
    other = np.zeros(K)
    other[4:8] = 0.9  # no joint in common
    assert agreement(Pose(keypoints, other), estimated, 0.1, 0.2) == 0.0


def test_covered_compares_against_each_detected_pose():
    person = Pose(_person(100.0), np.full(K, 0.9))
    near = Pose(person.keypoints + 3.0, person.scores)
    far = Pose(_person(300.0), person.scores)
    assert covered(near, [far, person], 0.5, 0.2)
    assert not covered(far, [person], 0.5, 0.2)
    assert not covered(near, [person], 1.0, 0.2)  # 1: the rule is off
    assert not covered(near, [], 0.5, 0.2)


class OnTopPredictor:
    """Predicts every track at its last pose, except track 0, predicted onto `target`."""

    estimator = None

    def __init__(self, target):
        self.target = target

    def crops(self, image, frame_index, tracks, boxes=None, cover_iou=None):
        """No crops."""

    def predict(self, image, frame_index, tracks, features=None):
        return [Pose(self.target if t.track_id == 0 and frame_index >= 2 else
                     t.last_pose.keypoints, np.full(K, 0.9)) for t in tracks]

    def observe(self, image, frame_index, outputs):
        """Nothing to cache."""


def run_on_top(**config):
    """Two people, A (track 0) and B (track 1); from frame 2 A's box is missing and A's track
    is predicted 4 px off B."""
    a, b = _person(60.0), _person(250.0)
    estimator = ScriptedEstimator({t: [a, b] for t in range(4)})
    tracker = OnlineTracker(estimator, TrackerConfig(**config), OnTopPredictor(b + 4.0))
    out = []
    for t in range(4):
        estimator.frame = t
        boxes = [_box(a), _box(b)] if t < 2 else [_box(b)]
        out.append(tracker.step(t, IMAGE, np.array(boxes)))
    return out


def test_a_recovered_pose_on_a_detected_person_is_suppressed():
    default = run_on_top()
    assert [sorted((o.track_id, o.recovered) for o in f) for f in default][2] == [
        (0, True), (1, False)]
    suppressed = run_on_top(recovered_max_oks=0.5)
    assert [[(o.track_id, o.recovered) for o in f] for f in suppressed][2:] == [
        [(1, False)], [(1, False)]]


@pytest.fixture(scope="module")
def bounds():
    return PoseBounds.fit(*walker_poses(0, 100))


def test_plausibility_needs_bounds():
    with pytest.raises(ConfigError, match="tracker.plausibility needs pose bounds"):
        OnlineTracker(ScriptedEstimator({}), TrackerConfig(plausibility=True))


def test_an_estimate_stitched_from_two_people_is_pruned_to_one(bounds):
    pose = walker_poses(11, 1, frames=1)[0][0]
    pose = stitched(pose, pose + [2 * np.ptp(pose[:, 1]), 0.0, 0.0])[:, :2]
    estimator = ScriptedEstimator({0: [pose]})
    box = np.array([_box(pose)])
    plain = OnlineTracker(estimator, TrackerConfig()).step(0, IMAGE, box)
    assert (plain[0].pose.scores[UPPER + LOWER] == 0.9).all()
    pruned = OnlineTracker(estimator, TrackerConfig(plausibility=True), None,
                           bounds).step(0, IMAGE, box)
    # Equal scores: the upper body has more joints, so its group wins.
    assert (pruned[0].pose.scores[UPPER] == 0.9).all()
    assert (pruned[0].pose.scores[LOWER] == 0.0).all()


def test_defaults_keep_every_rule_off():
    config = TrackerConfig()
    assert (config.merge_min_agree, config.recovered_max_oks, config.plausibility) == (
        0.0, 1.0, False)
    # Bounds given without the setting are not applied.
    tracker = OnlineTracker(ScriptedEstimator({}), config, None, bounds=object())
    assert tracker.bounds is None
