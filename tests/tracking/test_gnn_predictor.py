"""The GNN predictor inside the tracking loop: shapes, caching, and few compilations."""

import numpy as np

from gnnpose_jax.models.topdown import TopDownEstimator, padded_size
from gnnpose_jax.tracking.boxes import gt_boxes
from gnnpose_jax.tracking.run import track_sequence
from gnnpose_jax.tracking.tracker import OnlineTracker, TrackerConfig
from tests.helpers.tiny_tracking import INPUT_HW, video_and_networks


def test_gnn_predictor_tracks_a_synthetic_video_and_compiles_per_bucket():
    assert [padded_size(n, 8) for n in (1, 2, 3, 5, 8, 9)] == [1, 2, 4, 8, 8, 8]
    sequence, images, _, estimator, predictor, spec = video_and_networks()

    # A low keep score so that random-weight predictions are emitted and exercise every path.
    config = TrackerConfig(history=2, keep_score=0.0, new_track_score=0.0)
    tracker = OnlineTracker(estimator, config, predictor)
    drop = {3, 4}  # the detector goes blind for two frames: predictions must carry the tracks

    def boxes(frame, image):
        return np.zeros((0, 5)) if frame.frame_index in drop else gt_boxes(frame, image)

    predictions, raw, _ = track_sequence(tracker, sequence, images, boxes, 0.0)
    assert len(predictions.frames) == len(sequence.frames)
    ids_before = {o.track_id for o in raw[2]}
    for t in drop:
        assert raw[t] and all(o.recovered for o in raw[t])
        assert {o.track_id for o in raw[t]} <= ids_before
    for frame in raw:
        for o in frame:
            assert o.pose.keypoints.shape == (17, 2) and np.isfinite(o.pose.keypoints).all()
    # One compilation per padded track count used (powers of two up to max_tracks).
    used = {padded_size(len(f), 4) for f in raw[2:] if f}
    assert predictor._forward._cache_size() == len(predictor._budgets) <= 3
    assert used <= set(predictor._budgets)
    assert all(key[1] > len(images) - 1 - spec.history for key in predictor._cache)
    # Another video starts from an empty cache but reuses the compiled network.
    other = predictor.fresh()
    assert other._cache == {} and predictor._cache and other._forward is predictor._forward


def test_one_hrnet_call_per_frame_tracks_as_separate_calls_do():
    """The predictor's crops ride in the detections' HRNet call when both use one network;
    tracking the same video with the predictor on its own copy of that network (separate
    calls, as `track --hrnet X --gnn RUN` runs) gives the same people."""
    sequence, images, (module, variables), estimator, predictor, _ = video_and_networks()
    config = TrackerConfig(history=2, keep_score=0.0, new_track_score=0.0)

    def boxes(frame, image):
        return np.zeros((0, 5)) if frame.frame_index == 3 else gt_boxes(frame, image)

    _, shared, _ = track_sequence(OnlineTracker(estimator, config, predictor), sequence,
                                  images, boxes, 0.0)
    own = TopDownEstimator(module, variables, INPUT_HW, batch_size=4)
    separate_predictor = predictor.fresh()
    separate_predictor.estimator = own
    detections = TopDownEstimator(module, variables, INPUT_HW, batch_size=4)
    _, separate, _ = track_sequence(OnlineTracker(detections, config, separate_predictor),
                                    sequence, images, boxes, 0.0)

    assert [[(o.track_id, o.recovered) for o in f] for f in shared] == \
        [[(o.track_id, o.recovered) for o in f] for f in separate]
    assert any(o.recovered for f in shared for o in f)
    for a, b in zip(shared, separate, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x.pose.keypoints, y.pose.keypoints, atol=1e-3)
            np.testing.assert_allclose(x.pose.scores, y.pose.scores, atol=1e-4)
    # The same crops ran either way, in fewer calls when shared.
    assert estimator.counts["crops"] == detections.counts["crops"] + own.counts["crops"]
    assert own.counts["crops"] > 0
    assert estimator.counts["calls"] < detections.counts["calls"] + own.counts["calls"]
