"""The GNN predictor on detection-crop features (feature source "detections"): history features
come from the crop that produced each pose, current features from a covering detection's crop,
and only an uncovered track costs an extra crop; training windows cut the same crops."""

import collections

import numpy as np
import pytest

from gnnpose_jax.data import windows
from gnnpose_jax.models.gnn import GnnConfig, GnnPose
from gnnpose_jax.models.gnn_io import CropSettings
from gnnpose_jax.tracking import gnn_predictor
from gnnpose_jax.tracking.boxes import gt_boxes
from gnnpose_jax.tracking.gnn_predictor import GnnPredictor, box_iou
from gnnpose_jax.tracking.run import track_sequence
from gnnpose_jax.tracking.tracker import OnlineTracker, Pose, Track, TrackedPose, TrackerConfig
from tests.helpers.tiny_tracking import INPUT_HW, video_and_networks

THRESHOLD = 0.2


@pytest.fixture(scope="module")
def setup():
    return video_and_networks()


def _predictor(base: GnnPredictor, source: str) -> GnnPredictor:
    """The helper's random predictor (same network and weights) with crops of `source`."""
    module = GnnPose(GnnConfig(base.spec, hidden=16, layers=1, heads=2))
    return GnnPredictor(base.estimator, module, base.variables, base.spec, base.max_tracks,
                        CropSettings(INPUT_HW, feature_source=source))


def _spy(predictor: GnnPredictor) -> list:
    """Records the (graphs, features) of every GNN forward of `predictor`."""
    calls, forward = [], predictor._forward
    predictor._forward = lambda v, g, f, m: calls.append((g, f)) or forward(v, g, f, m)
    return calls


def _pose() -> np.ndarray:
    """(17, 3) [x, y, score], a person inside the helper's 144 x 192 frames."""
    rng = np.random.default_rng(0)
    pose = np.zeros((17, 3))
    pose[:, 0] = rng.uniform(70, 110, 17)
    pose[:, 1] = rng.uniform(30, 110, 17)
    pose[:, 2] = 0.9
    return pose


def test_box_iou_against_hand_computed_overlaps():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]], float)
    np.testing.assert_allclose(box_iou(np.array([0, 0, 10, 10.0]), boxes), [1, 50 / 150, 0])


def test_detection_crop_features_equal_a_dedicated_crop_with_the_same_affine(setup):
    """The detection's box is the pose's own crop box: both sources then feed the GNN the same
    affines and features, one from the detection's crop (cached), one from a crop of its own."""
    _, images, _, estimator, base, spec = setup
    poses_source, detections_source = _predictor(base, "poses"), _predictor(base, "detections")
    pose = _pose()
    last = Pose(pose[:, :2], pose[:, 2])
    box = windows.pose_box(pose, THRESHOLD)
    np.testing.assert_array_equal(
        windows.history_crop_matrix(pose, INPUT_HW, 1.25, THRESHOLD),
        windows.detection_crop_matrix(box, INPUT_HW, 1.25))

    est = estimator.estimate(images[0], box[None], features=True)
    detections_source.observe(images[0], 0, [TrackedPose(0, last, False, detection=0)],
                              detections=(est.features, est.crop_matrices))
    poses_source.observe(images[0], 0, [TrackedPose(0, last, False)])
    track = Track(0, collections.deque([(0, last)], maxlen=spec.history))

    own_calls, det_calls = _spy(poses_source), _spy(detections_source)
    crops = poses_source.crops(images[1], 1, [track])
    assert len(crops) == 2  # its own history crop, then the current crop
    (own,) = poses_source.predict(images[1], 1, [track], estimator.run(crops)[1])
    before = estimator.counts["crops"]
    extra = detections_source.crops(images[1], 1, [track], np.zeros((0, 4)), 0.3)
    assert len(extra) == 1  # no detection covers the track: exactly one extra crop
    est1 = estimator.estimate(images[1], np.zeros((0, 4)), extra=extra, features=True)
    assert estimator.counts["crops"] - before == 1
    (det,) = detections_source.predict(images[1], 1, [track], est1.extra_features,
                                       detections=(est1.features, est1.crop_matrices))

    (own_graphs, own_features), (det_graphs, det_features) = own_calls[0], det_calls[0]
    np.testing.assert_allclose(det_graphs.nodes["sample_xy"], own_graphs.nodes["sample_xy"],
                               atol=1e-4)
    np.testing.assert_allclose(det_features, own_features, atol=1e-5)
    np.testing.assert_allclose(det.keypoints, own.keypoints, atol=1e-3)
    np.testing.assert_allclose(det.scores, own.scores, atol=1e-5)


def test_tracked_poses_reuse_their_detection_crops(setup, monkeypatch):
    """With every track covered, HRNet runs on the detections' crops alone (as the baseline
    does), each emitted pose's history features are its detection crop's; on frames without
    detections each usable track costs exactly one extra crop."""
    sequence, images, _, estimator, base, _ = setup
    predictor = _predictor(base, "detections")
    config = TrackerConfig(history=2, keep_score=0.0, new_track_score=0.0)
    drop = {4}
    extra_crops, features = [], []  # per frame with tracks: (extra, usable, covered)
    crops, estimate = predictor.crops, estimator.estimate

    def counted_crops(image, frame_index, *args):
        out = crops(image, frame_index, *args)
        plans = [p for p in predictor._plans if p is not None]
        extra_crops.append((frame_index, len(out), len(plans),
                            sum(p.detection is not None for p in plans)))
        return out

    def kept_estimate(*args, **kwargs):
        out = estimate(*args, **kwargs)
        features.append(out.features)
        return out

    monkeypatch.setattr(predictor, "crops", counted_crops)
    monkeypatch.setattr(estimator, "estimate", kept_estimate)
    boxes_run = []

    def boxes(frame, image):
        out = np.zeros((0, 5)) if frame.frame_index in drop else gt_boxes(frame, image)
        boxes_run.append(len(out))
        return out

    before = estimator.counts["crops"]
    _, raw, _ = track_sequence(OnlineTracker(estimator, config, predictor), sequence, images,
                               boxes, 0.0)
    assert estimator.counts["crops"] - before == sum(boxes_run) + sum(
        n for _, n, _, _ in extra_crops)
    for frame_index, extra, usable, covered in extra_crops:
        assert extra == usable - covered  # one extra crop per uncovered track, no other
        if frame_index in drop:
            assert covered == 0 and extra == usable > 0
    assert sum(covered for *_, covered in extra_crops) > 0
    assert any(o.recovered for o in raw[4])
    # The cache holds the last frame's emitted poses: each pose from a detection with that
    # detection crop's features, a recovered one with its current crop's.
    last = len(images) - 1
    assert {(o.track_id, last) for o in raw[last]} <= set(predictor._cache)
    for out in raw[last]:
        assert (out.detection is None) == out.recovered
        if out.recovered:
            continue
        cached = predictor._cache[out.track_id, last]
        assert cached is not None and np.shares_memory(cached, features[last])
        np.testing.assert_array_equal(cached, features[last][out.detection])


def test_training_windows_cut_the_crops_inference_cuts(setup, monkeypatch):
    """A window of feature source "detections" (no augmentation) crops the history frame and
    the current frame where the predictor takes them: the detections' crops; an uncovered
    window's current crop is the predictor's extra crop."""
    _, images, _, estimator, base, spec = setup
    predictor = _predictor(base, "detections")
    pose = _pose()
    last = Pose(pose[:, :2], pose[:, 2])
    box0 = np.array([60.0, 25.0, 55.0, 95.0])
    box1 = np.array([66.0, 28.0, 52.0, 90.0])
    graphs = []
    build = gnn_predictor.build_graph
    monkeypatch.setattr(gnn_predictor, "build_graph",
                        lambda *args: graphs.append(args) or build(*args))

    est0 = estimator.estimate(images[0], box0[None], features=True)
    predictor.observe(images[0], 0, [TrackedPose(0, last, False, detection=0)],
                      detections=(est0.features, est0.crop_matrices))
    track = Track(0, collections.deque([(0, last)], maxlen=spec.history))
    results = {}
    for name, frame_boxes in (("covered", box1[None]), ("uncovered", np.zeros((0, 4)))):
        assert box_iou(windows.pose_box(pose, THRESHOLD), box1)[0] > 0.3
        extra = predictor.crops(images[1], 1, [track], frame_boxes, 0.3)
        est1 = estimator.estimate(images[1], frame_boxes, extra=extra, features=True)
        predictor.predict(images[1], 1, [track], est1.extra_features,
                          detections=(est1.features, est1.crop_matrices))
        results[name] = graphs[-1]
        predictor._current = {}

    config = windows.WindowConfig(history=spec.history, input_hw=INPUT_HW,
                                  box_threshold=THRESHOLD, history_from_estimates=True,
                                  feature_source="detections", scale_factor=0.0,
                                  rotation_prob=0.0, flip_prob=0.0, uncovered_prob=1.0)
    poses = [pose, pose] + [None] * (spec.history - 1)
    covered = windows.make_window([images[1], images[0], None], poses, np.random.default_rng(0),
                                  config, augment=False, boxes=[box1, box0, None])
    uncovered = windows.make_window([images[1], images[0], None], poses,
                                    np.random.default_rng(0), config, augment=True,
                                    boxes=[None, box0, None])
    for name, window in (("covered", covered), ("uncovered", uncovered)):
        _, history, history_affines, current, box = results[name]
        np.testing.assert_allclose(current, window.crop_matrices[0], rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(history_affines[0], window.crop_matrices[1], rtol=1e-6,
                                   atol=1e-5)
        np.testing.assert_allclose(box, window.box, rtol=1e-6, atol=1e-4)
    # Both are the estimator's own crops of the boxes.
    np.testing.assert_allclose(covered.crop_matrices[1], est0.crop_matrices[0], rtol=1e-6,
                               atol=1e-5)
    np.testing.assert_array_equal(windows.detection_crop_matrix(box0, INPUT_HW, 1.25),
                                  est0.crop_matrices[0])
