"""The learned merge rule's table (gnnpose_jax.tracking.merge_table) on hand-made pairs, its file,
and the tracker's use of it."""

import json

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.tracking.merge_table import MergeTable
from gnnpose_jax.tracking.tracker import OnlineTracker, Pose, TrackerConfig, merge_poses
from tests.tracking.test_tracker import ScriptedEstimator, _box, _person

K = joints.NUM_JOINTS


def _pairs(cells):
    """(N, K) arrays of `MergeTable.fit` from rows (joint, estimate score, prediction score,
    estimate right, prediction right, visible, count); other joints unannotated."""
    rows = [(k, e, p, er, pr, v) for k, e, p, er, pr, v, n in cells for _ in range(n)]
    out = {name: np.zeros((len(rows), K)) for name in
           ("prediction_scores", "estimate_scores", "prediction_right", "estimate_right",
            "annotated", "visible")}
    for i, (k, e, p, er, pr, v) in enumerate(rows):
        out["estimate_scores"][i, k], out["prediction_scores"][i, k] = e, p
        out["estimate_right"][i, k], out["prediction_right"][i, k] = er, pr
        out["annotated"][i, k], out["visible"][i, k] = 1, v
    return {k: (v if "scores" in k else v.astype(bool)) for k, v in out.items()}


#: Joint 0 at (estimate 0.3, prediction 0.7): hidden, the prediction right 15 of 20, the
#: estimate 2. Joint 1 at (0.9, 0.7): visible, the estimate right 25 of 25, the prediction 5.
#: Joint 2 at (0.9, 0.1): only 5 pairs, both right.
CELLS = [(0, 0.3, 0.7, False, True, False, 13), (0, 0.3, 0.7, True, True, False, 2),
         (0, 0.3, 0.7, False, False, False, 5),
         (1, 0.9, 0.7, True, False, True, 20), (1, 0.9, 0.7, True, True, True, 5),
         (2, 0.9, 0.1, True, True, True, 5)]


def test_the_table_counts_each_cell_by_visibility():
    table = MergeTable.fit(**_pairs(CELLS))
    b = table.bin_of
    assert table.pairs[0, b(0.3), b(0.7)].tolist() == [20, 0]  # [hidden, visible]
    assert table.prediction_right[0, b(0.3), b(0.7), 0] == 15
    assert table.estimate_right[0, b(0.3), b(0.7), 0] == 2
    assert table.pairs[1, b(0.9), b(0.7)].tolist() == [0, 25]
    assert table.estimate_right[1, b(0.9), b(0.7), 1] == 25
    assert table.pairs.sum() == 50 and table.bins == 5
    assert b(np.array([-0.1, 0.0, 0.2, 0.99, 1.0, 1.3])).tolist() == [0, 0, 1, 4, 4, 4]
    summary = table.summary()
    assert summary["hidden"]["pairs"] == 20 and summary["hidden"]["prediction_right"] == 0.75
    assert summary["visible"]["estimate_right"] == 30 / 30


def test_the_table_takes_the_source_right_more_often_and_falls_back_on_thin_cells():
    table = MergeTable.fit(**_pairs(CELLS))
    p, e = np.full(K, 0.7), np.full(K, 0.3)
    e[1], e[2], p[2] = 0.9, 0.9, 0.1
    take = table.take_prediction(p, e)
    assert take[0]  # the prediction: right 15 times against 2
    assert not take[1]  # the estimate: right 25 times against 5
    # Joint 2's cell has 5 pairs (< 20) and no joint fills (0.9, 0.1) in the pool: the
    # higher-scoring source, the estimate. Joints 3.. have no pairs: higher score too.
    assert not take[2]
    assert take[3:].all() and not table.take_prediction(p[::-1].copy(), p)[3:].any()
    # Joint 0 wins against the scores: the estimate scoring higher still loses the cell.
    lower = MergeTable.fit(**_pairs([(0, 0.7, 0.3, False, True, False, 20)]))
    assert lower.take_prediction(np.full(K, 0.3), np.full(K, 0.7))[0]
    # A thin joint cell falls back to the same cell pooled over joints: joints 3 and 4 each
    # give 10 pairs at (0.5, 0.5) where the estimate was right; joint 5 has none there.
    pooled = MergeTable.fit(**_pairs([(3, 0.5, 0.5, True, False, True, 10),
                                      (4, 0.5, 0.5, True, False, True, 10)]))
    slightly_higher = np.full(K, 0.55)
    assert not pooled.take_prediction(slightly_higher, np.full(K, 0.5))[5]
    # With min_pairs above every count, no cell decides: the higher score everywhere.
    assert MergeTable.fit(**_pairs(CELLS), min_pairs=100).take_prediction(
        np.full(K, 0.7), np.full(K, 0.3)).all()


def test_save_and_load_round_trip(tmp_path):
    table = MergeTable.fit(**_pairs(CELLS), edges=(0.0, 0.5, 1.0), min_pairs=7)
    table.save(tmp_path / "t.json")
    again = MergeTable.load(tmp_path / "t.json")
    np.testing.assert_array_equal(again.edges, table.edges)
    for key in ("pairs", "estimate_right", "prediction_right"):
        np.testing.assert_array_equal(getattr(again, key), getattr(table, key))
    assert again.min_pairs == 7 and again.pairs.shape == (K, 2, 2, 2)


def _corrupt(data, key, value):
    data = json.loads(json.dumps(data))
    data[key] = value
    return data


@pytest.mark.parametrize("change,field", [
    (lambda d: _corrupt(d, "format", "other"), "not a merge table"),
    (lambda d: _corrupt(d, "edges", [0.0, 0.5, 0.4, 1.0]), "edges"),
    (lambda d: _corrupt(d, "edges", list(np.linspace(0, 1, 40))), "edges"),
    (lambda d: _corrupt(d, "pairs", [[1, 2]]), "pairs"),
    (lambda d: _corrupt(d, "estimate_right", (np.array(d["pairs"]) + 1).tolist()),
     "estimate_right: expected at most"),
    (lambda d: _corrupt(d, "prediction_right", "many"), "prediction_right"),
    (lambda d: _corrupt(d, "min_pairs", 0), "min_pairs"),
    (lambda d: _corrupt(d, "joints", 16), "joints"),
])
def test_a_malformed_table_is_one_config_error_naming_the_file_and_field(tmp_path, change,
                                                                           field):
    good = MergeTable.fit(**_pairs(CELLS)).to_json()
    path = tmp_path / "merge_table.json"
    path.write_text(json.dumps(change(good)))
    with pytest.raises(ConfigError) as e:
        MergeTable.load(path)
    message = str(e.value)
    assert "\n" not in message and str(path) in message and field in message


def test_an_oversized_or_unreadable_table_is_refused(tmp_path):
    path = tmp_path / "merge_table.json"
    path.write_text(" " * (2 << 20))
    with pytest.raises(ConfigError, match="at most"):
        MergeTable.load(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        MergeTable.load(path)
    with pytest.raises(ConfigError, match="cannot read"):
        MergeTable.load(tmp_path / "missing.json")


def test_learned_merge_takes_the_tables_source_where_the_two_disagree():
    table = MergeTable.fit(**_pairs(CELLS))
    base = _person(100.0)
    predicted = Pose(base + 30.0, np.full(K, 0.7))  # 30 px off: they disagree on every joint
    e_scores = np.full(K, 0.3)
    e_scores[1] = 0.9
    estimated = Pose(base, e_scores)
    merged = merge_poses(predicted, estimated, "learned", 0.1, 0.2, table=table)
    np.testing.assert_array_equal(merged.keypoints[0], predicted.keypoints[0])
    np.testing.assert_array_equal(merged.keypoints[1], estimated.keypoints[1])
    np.testing.assert_array_equal(merged.scores, np.maximum(predicted.scores, e_scores))
    # Where the two agree, the score-weighted mean, as "weighted".
    close = Pose(base + 0.5, predicted.scores)
    np.testing.assert_array_equal(
        merge_poses(close, estimated, "learned", 0.1, 0.2, table=table).keypoints,
        merge_poses(close, estimated, "weighted", 0.1, 0.2).keypoints)
    with pytest.raises(ValueError, match="merge table"):
        merge_poses(predicted, estimated, "learned", 0.1, 0.2)


class ShiftedPredictor:
    """Predicts every track 30 px right of its last pose, scoring 0.7 per joint."""

    estimator = None

    def crops(self, image, frame_index, tracks, boxes, cover_iou):
        """No crops."""

    def predict(self, image, frame_index, tracks, features=None):
        return [Pose(t.last_pose.keypoints + (30.0, 0.0), np.full(K, 0.7)) for t in tracks]

    def observe(self, image, frame_index, outputs):
        """Nothing to cache."""


def test_the_tracker_merges_by_the_table_and_records_its_pairs():
    poses = {t: [_person(60.0)] for t in range(2)}
    estimator = ScriptedEstimator(poses)
    recorded = []
    config = TrackerConfig(history=2, merge="learned", oks_gate=0.0)
    scores = np.full(K, 0.35)
    estimator.estimate = lambda image, boxes, s=scores: (np.array([poses[0][0]]), s[None])
    # At (0.35, 0.7) the estimate of joint 0 was right 20 times, the prediction never; the
    # predictions of joints 1 and 2 were right in 25 thinner cells, so the pooled cell (45
    # pairs) favours the prediction.
    flipped = MergeTable.fit(**_pairs([(0, 0.35, 0.7, True, False, False, 20),
                                       (1, 0.35, 0.7, False, True, False, 10),
                                       (2, 0.35, 0.7, False, True, False, 15)]))
    tracker = OnlineTracker(estimator, config, ShiftedPredictor(), merge_table=flipped,
                            on_pair=lambda f, p, e: recorded.append((f, p, e)))
    image = np.zeros((240, 320, 3), np.uint8)
    box = np.array([_box(poses[0][0])])
    tracker.step(0, image, box)
    out = tracker.step(1, image, box)
    assert [f for f, _, _ in recorded] == [1]
    _, predicted, estimated = recorded[0]
    np.testing.assert_array_equal(estimated.keypoints, poses[0][0])
    # Joint 0: its cell's choice, the estimate (the higher score would take the prediction);
    # the others: the pooled cell's, the prediction.
    np.testing.assert_array_equal(out[0].pose.keypoints[0], estimated.keypoints[0])
    np.testing.assert_array_equal(out[0].pose.keypoints[1:], predicted.keypoints[1:])
    # The baseline tracker never merges, so it needs no table.
    OnlineTracker(estimator, config)


def test_learned_merge_without_a_table_is_refused_with_the_way_to_make_one():
    with pytest.raises(ConfigError, match="fit_merge") as e:
        OnlineTracker(ScriptedEstimator({}), TrackerConfig(merge="learned"), ShiftedPredictor())
    assert "\n" not in str(e.value) and "merge_table.json" in str(e.value)
