"""The `heatmap_average` merge rule: resampling, hand-computed averages, and the tracker."""

import numpy as np
import pytest

from gnnpose_jax.data import joints, transforms
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.tracking import tracker as tracker_module
from gnnpose_jax.tracking.boxes import gt_boxes
from gnnpose_jax.tracking.heatmap_merge import JointMaps, heatmap_average, resample
from gnnpose_jax.tracking.run import track_sequence
from gnnpose_jax.tracking.tracker import OnlineTracker, Pose, TrackerConfig, merge_poses
from tests.helpers.tiny_tracking import video_and_networks

K = joints.NUM_JOINTS
#: HRNet's grid: 16×12 cells of 4 px, cell (u, v) at image (100 + 4u, 50 + 4v).
HRNET_TO_IMAGE = np.array([[4.0, 0.0, 100.0], [0.0, 4.0, 50.0]])
#: The GNN's grid, the same cell size shifted: its cell (c, r) is HRNet's (c - 3, r - 2).
GNN_TO_IMAGE = np.array([[4.0, 0.0, 88.0], [0.0, 4.0, 42.0]])
PROFILE = np.array([1.0, 3.0, 4.0, 3.0, 1.0])  # a compact blob's 1-D profile, peak at 2


def _blob(shape, col, row):
    """(h, w, K) maps with the separable `PROFILE` blob centred at (col, row) in every joint."""
    out = np.zeros(shape)
    out[row - 2:row + 3, col - 2:col + 3] = np.outer(PROFILE, PROFILE)
    return np.repeat(out[:, :, None], K, axis=2)


def _merge(hrnet_col, gnn_col, hrnet_score, gnn_score):
    """Keypoints of merging an HRNet blob at HRNet cell (hrnet_col, 8) with a GNN blob at
    HRNet cell (gnn_col, 8) (drawn on the GNN's own grid)."""
    e = Pose(np.zeros((K, 2)), np.full(K, hrnet_score),
             JointMaps(_blob((16, 12), hrnet_col, 8), HRNET_TO_IMAGE))
    p = Pose(np.zeros((K, 2)), np.full(K, gnn_score),
             JointMaps(_blob((20, 18), gnn_col + 3, 10), GNN_TO_IMAGE))
    merged = merge_poses(p, e, "heatmap_average", 0.1, 0.2)
    assert merged.maps is None
    np.testing.assert_array_equal(merged.scores, max(hrnet_score, gnn_score))
    return merged.keypoints


def test_equal_scores_land_between_the_blobs():
    # Profiles at columns 5 and 7 average to (1, 3, 5, 6, 5, 3, 1) / 2 over columns 3..9: the
    # peak at 6 with equal neighbours, so no sub-cell shift; HRNet cell (6, 8) is (124, 82),
    # halfway between the blobs at x = 120 and 128.
    np.testing.assert_allclose(_merge(5, 7, 0.8, 0.8), np.tile([124.0, 82.0], (K, 1)))


def test_the_stronger_source_wins_far_apart_blobs():
    np.testing.assert_allclose(_merge(4, 9, 0.9, 0.3), np.tile([116.0, 82.0], (K, 1)))
    np.testing.assert_allclose(_merge(4, 9, 0.3, 0.9), np.tile([136.0, 82.0], (K, 1)))
    # Scores 0.6 and 0.4 on blobs two cells apart: the average (.6·(1,3,4,3,1) at columns
    # 3..7 plus .4·(1,3,4,3,1) at 5..9) is 1.8, 2.8, 3.0, 2.2 at columns 4..7: the peak at 6,
    # shifted 0.25 towards column 5, x = 100 + 4 · 5.75 = 123, nearer the stronger blob (120).
    np.testing.assert_allclose(_merge(5, 7, 0.6, 0.4), np.tile([123.0, 82.0], (K, 1)))


def test_a_joint_only_one_source_has_is_taken_from_it():
    e = Pose(np.full((K, 2), 1.0), np.full(K, 0.9), JointMaps(_blob((16, 12), 5, 8),
                                                              HRNET_TO_IMAGE))
    scores = np.full(K, 0.1)
    scores[0] = 0.5
    p = Pose(np.full((K, 2), 2.0), scores, JointMaps(np.zeros((20, 18, K)), GNN_TO_IMAGE))
    merged = merge_poses(p, e, "heatmap_average", 0.1, 0.2)
    # Joint 0: both present but the GNN's map has no mass: the higher-scoring source (HRNet).
    # Every other joint: only HRNet has it.
    np.testing.assert_array_equal(merged.keypoints, e.keypoints)
    with pytest.raises(ValueError, match="maps"):
        merge_poses(p._replace(maps=None), e, "heatmap_average", 0.1, 0.2)


def test_resample_reproduces_a_linear_map_through_the_composed_affine():
    # A coarser GNN grid (8 px cells) whose values are their image x, which bilinear sampling
    # reproduces exactly inside the grid; zero more than a cell outside it.
    def gnn_grid(x0):
        to_image = np.array([[8.0, 0.0, x0], [0.0, 8.0, 46.0]])
        rows, cols = np.mgrid[0:12, 0:9]
        xy = transforms.apply_affine(np.stack([cols, rows], -1).reshape(-1, 2), to_image)
        return JointMaps(xy[:, 0].reshape(12, 9, 1), to_image)

    hrnet = JointMaps(np.zeros((16, 12, 1)), HRNET_TO_IMAGE)
    x = np.broadcast_to(100.0 + 4.0 * np.arange(12), (16, 12))  # HRNet cells' image x
    np.testing.assert_allclose(resample(gnn_grid(96.0), hrnet)[..., 0], x)
    shifted = resample(gnn_grid(120.0), hrnet)[..., 0]  # covers x >= 120 only
    np.testing.assert_allclose(shifted[:, x[0] >= 120], x[:, x[0] >= 120])
    assert not shifted[:, x[0] <= 112].any()
    assert not resample(gnn_grid(1000.0), hrnet).any()


def test_identical_sources_give_the_hrnet_pose_back():
    rng = np.random.default_rng(0)
    heatmaps = rng.uniform(0.0, 0.1, (1, 16, 12, K))
    for k in range(K):
        heatmaps[0, rng.integers(3, 13), rng.integers(3, 9), k] = rng.uniform(0.3, 0.9)
    inverse = np.array([[[1.5, 0.2, 30.0], [-0.1, 1.4, 20.0]]])
    keypoints, scores = transforms.decode_heatmaps(heatmaps, inverse, (64, 48))
    to_image = inverse[0].copy()
    to_image[:, :2] *= 4.0  # heatmap cell → crop pixel → image
    e = Pose(keypoints[0].astype(np.float64), scores[0].astype(np.float64),
             JointMaps(heatmaps[0], to_image))
    merged = merge_poses(e, e, "heatmap_average", 0.1, 0.2)
    np.testing.assert_allclose(merged.keypoints, e.keypoints, atol=1e-4)
    np.testing.assert_array_equal(merged.scores, e.scores)


def test_unknown_rule_is_a_one_line_config_error():
    assert TrackerConfig(merge="heatmap_average").merge == "heatmap_average"
    with pytest.raises(ConfigError, match="heatmap_average") as info:
        TrackerConfig(merge="heatmap_avg")
    assert "\n" not in str(info.value)


def test_heatmap_average_tracks_a_video_and_other_rules_fetch_no_maps(monkeypatch):
    sequence, images, _, estimator, predictor, _ = video_and_networks()
    asked, averaged = [], []
    estimate = estimator.estimate

    def spy(*args, **kwargs):
        asked.append(kwargs.get("maps", False))
        return estimate(*args, **kwargs)

    def counting(predicted, *args):
        averaged.append(int((resample(predicted, args[1]).sum(axis=(0, 1)) > 0).sum()))
        return heatmap_average(predicted, *args)

    estimator.estimate = spy
    monkeypatch.setattr(tracker_module, "heatmap_average", counting)

    def boxes(frame, image):
        return np.zeros((0, 5)) if frame.frame_index in (3, 4) else gt_boxes(frame, image)

    runs = {}
    for rule in ("weighted", "heatmap_average"):
        # Random networks: every prediction matches (gate 0) and every joint counts (τ 0), so
        # the rule averages every joint whose two maps overlap.
        config = TrackerConfig(history=2, joint_threshold=0.0, oks_gate=0.0, keep_score=0.0,
                               new_track_score=0.0, merge=rule)
        tracker = OnlineTracker(estimator, config, predictor.fresh())
        runs[rule] = track_sequence(tracker, sequence, images, boxes, 0.0)[1]
        if rule == "weighted":  # no maps asked of either network
            assert not any(asked) and predictor._forward_maps._cache_size() == 0
    assert any(asked) and predictor._forward_maps._cache_size() > 0
    # 3 people × 5 frames with detections, less a track whose history gave no prediction.
    assert len(averaged) >= 12 and sum(averaged) > 0.9 * K * len(averaged)
    raw = runs["heatmap_average"]
    assert [sorted(o.track_id for o in f) for f in raw] == [[0, 1, 2]] * len(images)
    assert [o.recovered for f in raw for o in f] == [t in (3, 4) for t in range(8)
                                                       for _ in range(3)]
    for frame in raw:
        for o in frame:
            assert o.pose.maps is None and np.isfinite(o.pose.keypoints).all()
