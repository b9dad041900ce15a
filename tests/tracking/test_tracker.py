"""The online tracking loop on a scripted occlusion, with a hand-set predictor."""

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.tracking.tracker import (
    OnlineTracker,
    Pose,
    TrackedPose,
    TrackerConfig,
    match,
    merge_poses,
    output_keypoints,
    pose_nms,
)

K = joints.NUM_JOINTS


class ConstantVelocityPredictor:
    """A deterministic `tracker.PosePredictor` for these tests: each joint moves on linearly
    from the track's last two poses, its score decaying by `score_decay` per frame ahead."""

    estimator = None  # reads no image features

    def __init__(self, score_decay: float = 0.9):
        self.score_decay = score_decay

    def crops(self, image, frame_index, tracks, boxes, cover_iou):
        """No crops: the extrapolation reads no image."""

    def predict(self, image, frame_index, tracks, features=None):
        """One extrapolated pose per track."""
        out = []
        for track in tracks:
            f1, p1 = track.history[-1]
            ahead = frame_index - f1
            velocity = np.zeros_like(p1.keypoints)
            if len(track.history) >= 2:
                f0, p0 = track.history[-2]
                velocity = (p1.keypoints - p0.keypoints) / max(f1 - f0, 1)
            out.append(Pose(p1.keypoints + velocity * ahead, p1.scores * self.score_decay**ahead))
        return out

    def observe(self, image, frame_index, outputs):
        """Nothing to cache."""


def _person(x0: float, y0: float = 100.0) -> np.ndarray:
    """A fixed upright skeleton, about 40×90 px, with its neck at (x0, y0)."""
    rng = np.random.default_rng(0)
    offsets = rng.uniform([-20, -10], [20, 80], size=(K, 2))
    return np.array([x0, y0]) + offsets


class ScriptedEstimator:
    """Returns, for each box, the scripted pose whose centre lies inside it."""

    def __init__(self, poses_per_frame):
        self.poses_per_frame, self.frame = poses_per_frame, 0

    def estimate(self, image, boxes):
        poses = self.poses_per_frame[self.frame]
        out = []
        for x, y, w, h in boxes[:, :4]:
            for p in poses:
                cx, cy = p.mean(0)
                if x <= cx <= x + w and y <= cy <= y + h:
                    out.append(p)
        kpts = np.array(out).reshape(-1, K, 2)
        return kpts, np.full(kpts.shape[:2], 0.9)


def _box(pose):
    lo, hi = pose.min(0), pose.max(0)
    return [*lo, *(hi - lo), 0.95]


def _run(predictor, missing=range(4, 7), frames=11, speed=12.0, **config):
    """One person walking right at `speed` px/frame; the detector misses `missing` frames."""
    poses = {t: [_person(50 + speed * t)] for t in range(frames)}
    estimator = ScriptedEstimator(poses)
    tracker = OnlineTracker(estimator, TrackerConfig(history=3, max_misses=3, **config),
                            predictor)
    results = []
    for t in range(frames):
        estimator.frame = t
        boxes = np.zeros((0, 5)) if t in missing else np.array([_box(poses[t][0])])
        results.append(tracker.step(t, np.zeros((240, 320, 3), np.uint8), boxes))
    return poses, results


def test_predictor_keeps_id_through_occlusion_and_baseline_loses_it():
    poses, with_pred = _run(ConstantVelocityPredictor(score_decay=0.95))
    ids = [[o.track_id for o in frame] for frame in with_pred]
    assert ids == [[0]] * 11
    assert [o.recovered for frame in with_pred for o in frame][4:7] == [True] * 3
    for t in (4, 5, 6):  # recovered poses are where the person really is
        assert np.abs(with_pred[t][0].pose.keypoints - poses[t][0]).max() < 1e-6

    _, baseline = _run(None)
    assert [len(f) for f in baseline] == [1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1]
    assert baseline[3][0].track_id == 0 and baseline[7][0].track_id == 1


def test_recovered_confidence_scales_unmatched_predictions_by_the_track():
    plain = _run(ConstantVelocityPredictor(score_decay=0.95))[1]
    scaled = _run(ConstantVelocityPredictor(score_decay=0.95), recovered_confidence=True)[1]
    # Frame 4: the prediction's scores (0.9 * 0.95) times the last pose's mean score (0.9);
    # frame 5 extrapolates from that recovered pose, so the doubt compounds.
    np.testing.assert_allclose(plain[4][0].pose.scores, 0.9 * 0.95)
    s4 = 0.9 * 0.95 * 0.9
    np.testing.assert_allclose(scaled[4][0].pose.scores, s4)
    np.testing.assert_allclose(scaled[5][0].pose.scores, s4 * 0.95 * s4)
    # With keep_score between the two, only the unscaled prediction is emitted.
    kept = _run(ConstantVelocityPredictor(score_decay=0.95), keep_score=0.8,
                recovered_confidence=True)[1]
    assert [len(f) for f in kept][4:7] == [0, 0, 0]
    assert [len(f) for f in _run(ConstantVelocityPredictor(score_decay=0.95),
                                 keep_score=0.8)[1]][4] == 1


def test_baseline_keeps_id_for_a_short_gap_of_slow_motion():
    _, baseline = _run(None, missing=[4], speed=1.0)
    assert {o.track_id for f in baseline for o in f} == {0}


def test_match_respects_gate():
    sim = np.array([[0.9, 0.2], [0.8, 0.25]])
    assert match(sim, 0.3) == [(0, 0)]
    assert match(sim, 0.2) == [(0, 0), (1, 1)]


def test_merge_rules():
    p = Pose(np.array([[0.0, 0.0], [10.0, 0.0]] + [[0.0, 0.0]] * (K - 2)), np.full(K, 0.3))
    e_kp = p.keypoints.copy()
    e_kp[0] = [1.0, 0.0]  # agrees with the prediction
    e_kp[1] = [50.0, 0.0]  # disagrees: the higher score wins
    e = Pose(e_kp, np.full(K, 0.6))
    merged = merge_poses(p, e, "weighted", agree=0.1, threshold=0.2)
    assert merged.keypoints[0, 0] == pytest.approx((0.3 * 0 + 0.6 * 1) / 0.9)
    assert merged.keypoints[1, 0] == 50.0
    assert np.all(merged.scores == 0.6)
    assert merge_poses(p, e, "hrnet_only", 0.1, 0.2) is e
    with pytest.raises(ConfigError, match="tracker.merge"):
        TrackerConfig(merge="heatmap")


def test_pose_nms_and_output_thresholds():
    a = Pose(_person(100), np.full(K, 0.9))
    b = Pose(a.keypoints + 0.5, np.full(K, 0.5))
    c = Pose(_person(300), np.full(K, 0.4))
    kept = pose_nms([TrackedPose(1, b, False), TrackedPose(0, a, False),
                     TrackedPose(2, c, True)], 0.9, 0.2)
    assert [o.track_id for o in kept] == [0, 2]
    scores = np.linspace(0, 1, K)
    rows = output_keypoints(Pose(a.keypoints, scores), 0.5)
    assert np.all(rows[scores < 0.5] == 0) and np.all(rows[scores >= 0.5, 2] == 1)
