"""The tracker's association rules of `tracking.association`: the low-score second round and
the inactive pool, on scripted people with hand-set estimators and predictors."""

import collections

import numpy as np
import pytest

from gnnpose_jax.errors import ConfigError
from gnnpose_jax.tracking.association import InactivePool, extrapolated_pose, low_boxes
from gnnpose_jax.tracking.tracker import OnlineTracker, Pose, Track, TrackerConfig
from tests.tracking.test_tracker import ConstantVelocityPredictor, K, ScriptedEstimator

IMAGE = np.zeros((240, 480, 3), np.uint8)


def _skeleton(x0: float, y0: float = 100.0) -> np.ndarray:
    """A fixed upright skeleton, about 40×90 px, with its neck at (x0, y0)."""
    offsets = np.random.default_rng(0).uniform([-20, -10], [20, 80], size=(K, 2))
    return np.array([x0, y0]) + offsets


def _box(pose: np.ndarray, score: float) -> list[float]:
    lo, hi = pose.min(0), pose.max(0)
    return [*lo, *(hi - lo), score]


class RecordingEstimator(ScriptedEstimator):
    """`ScriptedEstimator` that also records the boxes it was asked about, per frame."""

    def __init__(self, poses_per_frame):
        super().__init__(poses_per_frame)
        self.asked = {}

    def estimate(self, image, boxes):
        self.asked[self.frame] = np.array(boxes)
        return super().estimate(image, boxes)


class OraclePredictor(ConstantVelocityPredictor):
    """Predicts every track it is asked about at the scripted person's true pose (score 0.9),
    and records the ids asked per frame."""

    def __init__(self, truth):
        self.truth, self.asked = truth, {}

    def predict(self, image, frame_index, tracks, features=None):
        self.asked[frame_index] = [t.track_id for t in tracks]
        return [Pose(self.truth[frame_index], np.full(K, 0.9)) for _ in tracks]


def _track(people, scores, predictor=None, **config):
    """Tracks scripted people: `people[t]` their poses in frame t, `scores[t]` their boxes'
    scores (None: no box). Returns the estimator and the ids emitted per frame."""
    estimator = RecordingEstimator(people)
    tracker = OnlineTracker(estimator, TrackerConfig(history=3, **config), predictor)
    ids, outputs = [], []
    for t in range(len(people)):
        estimator.frame = t
        boxes = [_box(p, s) for p, s in zip(people[t], scores[t], strict=True) if s is not None]
        out = tracker.step(t, IMAGE, np.array(boxes).reshape(-1, 5))
        ids.append([o.track_id for o in out])
        outputs.append(out)
    return estimator, ids, outputs


def _walker(frames: int, speed: float, x0: float = 50.0) -> list[list[np.ndarray]]:
    return [[_skeleton(x0 + speed * t)] for t in range(frames)]


# ------------------------------------------------------------------ second round


def test_low_boxes_keep_those_overlapping_tracks_best_first_one_per_track():
    track_boxes = [np.array([0.0, 0.0, 10.0, 10.0]), np.array([100.0, 0.0, 10.0, 10.0])]
    boxes = np.array([[200.0, 0, 10, 10, 0.4],   # overlaps no track
                      [5.0, 0, 10, 10, 0.3],     # IoU 1/3 with the first track
                      [0.0, 0, 10, 10, 0.2],     # IoU 1
                      [101.0, 0, 10, 10, 0.45]])  # IoU 0.82 with the second
    np.testing.assert_array_equal(low_boxes(boxes, track_boxes), boxes[[2, 3]])
    np.testing.assert_array_equal(low_boxes(boxes, track_boxes[:1]), boxes[[2]])
    assert low_boxes(boxes, []).shape == (0, 5)


def test_an_id_survives_frames_where_the_box_scores_low():
    people = _walker(8, speed=2.0)
    scores = [[0.9]] * 3 + [[0.3]] * 3 + [[0.9]] * 2  # frames 3-5: below min_box_score
    settings = dict(min_box_score=0.5, max_misses=3)
    _, plain, _ = _track(people, scores, **settings)
    # Without the second round the low frames emit nothing and the id is lost after n frames.
    assert plain == [[0]] * 3 + [[]] * 3 + [[1]] * 2
    estimator, ids, outputs = _track(people, scores, low_box_score=0.25, low_oks_gate=0.5,
                                     **settings)
    assert ids == [[0]] * 8
    for t in (3, 4, 5):  # the low box's own estimate, emitted as a detection
        assert not outputs[t][0].recovered
        np.testing.assert_allclose(outputs[t][0].pose.keypoints, people[t][0])
        assert len(estimator.asked[t]) == 1


def test_a_low_box_never_starts_a_track_and_far_ones_skip_hrnet():
    a, b = _walker(4, 2.0), _walker(4, 2.0, x0=300.0)
    people = [pa + pb for pa, pb in zip(a, b, strict=True)]
    scores = [[0.3, 0.3], [0.9, 0.3], [0.9, 0.3], [0.9, 0.3]]
    estimator, ids, _ = _track(people, scores, min_box_score=0.5, low_box_score=0.25)
    # Frame 0 has no track, so no low box runs; B's box never overlaps A's track.
    assert ids == [[], [0], [0], [0]]
    assert [len(estimator.asked[t]) for t in range(4)] == [0, 1, 1, 1]


def test_a_low_box_below_the_gate_stays_unmatched():
    people = _walker(4, speed=2.0)
    people[2] = [_skeleton(72.0)]  # 22 px from the track: OKS well below 0.9
    scores = [[0.9], [0.9], [0.3], [0.9]]
    _, ids, _ = _track(people, scores, min_box_score=0.5, low_box_score=0.25,
                       low_oks_gate=0.9)
    assert ids[2] == []


# ------------------------------------------------------------------ inactive pool


def _gap_run(gap: int, reid_frames: int):
    """A person walking 6 px a frame, undetected for `gap` frames after frame 3. The predictor
    never emits (keep_score 1), so the track leaves the active set n frames after frame 3."""
    people = _walker(4 + gap + 2, speed=6.0)
    scores = [[None] if 4 <= t < 4 + gap else [0.9] for t in range(len(people))]
    return _track(people, scores, ConstantVelocityPredictor(score_decay=1.0), keep_score=1.0,
                  max_misses=10, reid_frames=reid_frames)[1]


@pytest.mark.parametrize("gap", [3, 5])
def test_a_person_back_within_reid_frames_keeps_the_id(gap):
    assert {i for frame in _gap_run(gap, reid_frames=5) for i in frame} == {0}


def test_a_person_back_after_reid_frames_gets_a_new_id():
    ids = _gap_run(6, reid_frames=5)
    assert ids[3] == [0] and ids[10] == [1]
    without_pool = _gap_run(4, reid_frames=0)  # the track has ended: a new id
    assert without_pool[3] == [0] and without_pool[8] == [1]


def test_reid_uses_the_predictors_pose_of_a_recent_pool_track():
    """The person jumps while undetected: the last pose moved on at its box's velocity is far
    from where they return, the predictor's pose is not."""
    truth = [_skeleton(50.0 + 6 * t) for t in range(4)] + [_skeleton(200.0)] * 4
    people = [[p] for p in truth]
    scores = [[0.9]] * 4 + [[None]] * 2 + [[0.9]] * 2
    # max_misses 1: frame 4 emits the prediction, frame 5 ends the track; frame 6 finds it in
    # the pool with its last pose 2 frames old, so the predictor is asked about it.
    settings = dict(max_misses=1, keep_score=0.0, reid_oks_gate=0.5)
    predictor = OraclePredictor(truth)
    _, ids, _ = _track(people, scores, predictor, reid_frames=3, **settings)
    assert predictor.asked[6] == [0] and ids[6] == [0] and ids[7] == [0]
    _, ids, _ = _track(people, scores, OraclePredictor(truth), reid_frames=0, **settings)
    assert ids[6] == [1]


def test_extrapolated_pose_moves_at_the_box_velocity():
    track = Track(0, collections.deque(maxlen=3))
    for f in (2, 4):
        track.history.append((f, Pose(_skeleton(10.0 * f), np.full(K, 0.9))))
    moved = extrapolated_pose(track, 7, threshold=0.2)
    np.testing.assert_allclose(moved.keypoints, _skeleton(70.0))


def test_pool_expires_after_reid_frames_of_absence():
    pool = InactivePool(reid_frames=2)
    pool.add([Track(0, None, seen=5)])
    pool.expire(8)  # frames 6 and 7 undetected
    assert len(pool.tracks) == 1
    pool.expire(9)
    assert pool.tracks == []
    off = InactivePool(reid_frames=0)
    off.add([Track(0, None, seen=5)])
    assert off.tracks == []


# ------------------------------------------------------------------ defaults


def test_defaults_ignore_low_boxes_as_before():
    """Under the defaults a low box is dropped before HRNet: the same outputs as without it."""
    a, b = _walker(8, 4.0), _walker(8, 4.0, x0=60.0)
    people = [pa + pb for pa, pb in zip(a, b, strict=True)]
    scores = [[0.9, 0.3 if t % 2 else 0.9] for t in range(8)]
    dropped = [[s if s >= 0.5 else None for s in frame] for frame in scores]
    est, ids, outputs = _track(people, scores, min_box_score=0.5)
    est_ref, ids_ref, outputs_ref = _track(people, dropped, min_box_score=0.5)
    assert ids == ids_ref
    for out, ref in zip(outputs, outputs_ref, strict=True):
        for o, r in zip(out, ref, strict=True):
            np.testing.assert_array_equal(o.pose.keypoints, r.pose.keypoints)
    for t in range(8):
        np.testing.assert_array_equal(est.asked[t], est_ref.asked[t])


def test_reid_frames_must_be_a_whole_number():
    with pytest.raises(ConfigError, match="tracker.reid_frames"):
        TrackerConfig(reid_frames=-1)
    with pytest.raises(ConfigError, match="tracker.reid_frames"):
        TrackerConfig(reid_frames=2.5)
