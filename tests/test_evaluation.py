"""PoseTrack AP/MOTA semantics on hand-built cases with hand-computed numbers, and the CLI."""

import json
import logging
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.data import posetrack as pt
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError
from gnnpose_jax.evaluation import evaluate, format_table, load_for_evaluation, to_json
from gnnpose_jax.evaluation.regions import points_in_polygons

ROOT = Path(__file__).resolve().parents[1]
J = len(joints.EVAL_SLOTS)
#: Head box 30 x 40: diagonal 50, head size 0.6 * 50 = 30, so a joint matches within 15 px.
HEAD = np.array([0.0, 0.0, 30.0, 40.0])
SPACING = 40.0  # joints of a person lie on a row, far apart relative to 15 px


def person(track_id, origin=(0.0, 0.0), score=None, missing=(), offset=(0.0, 0.0), xy=None,
           head=True):
    """A person whose 15 evaluated joints lie on a row from `origin` (2017 order)."""
    kp = np.zeros((joints.NUM_JOINTS, 3))
    for e, slot in enumerate(joints.EVAL_SLOTS):
        pos = (origin[0] + SPACING * e, origin[1]) if xy is None else xy[e]
        kp[slot] = (pos[0] + offset[0], pos[1] + offset[1], 1.0)
    for e in missing:
        kp[joints.EVAL_SLOTS[e]] = 0.0
    scores = None if score is None else np.full(joints.NUM_JOINTS, float(score))
    return Person(keypoints=kp, track_id=track_id, scores=scores,
                  head_box=HEAD.copy() if head else None)


def sequence(frames, name="000001_mpii_test", regions=None):
    """A sequence from per-frame people lists (an empty list is an unlabeled frame)."""
    return Sequence(name=name, frames=[
        Frame(file_name=f"images/val/{name}/{t:06d}.jpg", frame_index=t, is_labeled=bool(ppl),
              people=ppl, ignore_regions=list(regions or []))
        for t, ppl in enumerate(frames)])


def per_joint(block):
    """(15,) array of a block's per-joint values."""
    return np.array([block["per_joint"][n] for n in joints.EVAL_JOINT_NAMES])


def counts(result, name):
    """(15,) per-joint MOTA counts."""
    return np.array([result["mota"]["counts"][name][n] for n in joints.EVAL_JOINT_NAMES])


def _walkers(rng, frames=5):
    """A GT video: three walkers (one missing a joint sometimes), an ignore region."""
    out = []
    for t in range(frames):
        out.append([person(k, origin=(100.0 + 7 * t, 200.0 + 900 * k),
                           missing=(3,) if (t + k) % 3 == 0 else ()) for k in range(3)])
    return out


def _ground_truth():
    """Two GT sequences with unlabeled frames and an ignore region."""
    rng = np.random.default_rng(0)
    a = _walkers(rng) + [[]]
    b = [[]] + _walkers(rng, 4)
    region = [np.array([[90.0, 2000.0], [400.0, 2000.0], [400.0, 2100.0], [90.0, 2100.0]])]
    return [sequence(a, "000001_mpii_test"), sequence(b, "000002_bonn_test", regions=region)]


def _noisy(gt_seqs, seed=1):
    """Predictions: jitter up to ~1 head size, dropped joints and people, id changes."""
    rng = np.random.default_rng(seed)
    preds = []
    for seq in gt_seqs:
        frames = []
        for frame in seq.frames:
            people = []
            for p in frame.people:
                if rng.random() < 0.1:
                    continue
                q = person(p.track_id + 100 * int(rng.random() < 0.2), score=0.5)
                q.keypoints = p.keypoints.copy()
                q.keypoints[:, :2] += rng.normal(0, 10, (joints.NUM_JOINTS, 2)).round(1)
                q.keypoints[~p.present] = 0.0
                q.scores = rng.random(joints.NUM_JOINTS).round(2)
                people.append(q)
            frames.append(Frame(file_name=frame.file_name, frame_index=frame.frame_index,
                                is_labeled=frame.is_labeled, people=people))
        preds.append(Sequence(name=seq.name, frames=frames))
    return preds


# --- sanity anchors ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["2018", "2017"])
def test_ground_truth_against_itself_is_100_everywhere(fmt, tmp_path):
    gt = _ground_truth()
    pt.write_sequences(gt, tmp_path / "gt", fmt=fmt)
    gt_seqs, pred_seqs = load_for_evaluation(tmp_path / "gt", tmp_path / "gt")
    result = evaluate(gt_seqs, pred_seqs)
    assert np.all(per_joint(result["ap"]) == 100.0) and result["ap"]["total"] == 100.0
    mota = result["mota"]
    assert np.all(per_joint(mota) == 100.0) and mota["total"] == 100.0
    for key in ("precision", "recall", "motp", "motp_matched"):
        assert mota[key] == 100.0
    assert counts(result, "switches").sum() == 0


def test_2017_and_2018_files_give_identical_numbers(tmp_path):
    gt, pred = _ground_truth(), _noisy(_ground_truth())
    results = []
    for fmt in ("2018", "2017"):
        pt.write_sequences(gt, tmp_path / fmt / "gt", fmt=fmt)
        pt.write_sequences(pred, tmp_path / fmt / "pred", fmt=fmt)
        results.append(evaluate(*load_for_evaluation(tmp_path / fmt / "gt",
                                                     tmp_path / fmt / "pred")))
    assert json.dumps(to_json(results[0])) == json.dumps(to_json(results[1]))
    assert 0 < results[0]["ap"]["total"] < 100 and results[0]["mota"]["total"] < 100


# --- AP ------------------------------------------------------------------------------------


def test_assignment_follows_pck_not_score():
    # p0 (score 0.9) matches 5 of 15 joints, p1 (score 0.1) all 15: p1 takes the GT, p0's
    # joints are all false positives ranked above p1's true positives: AP 50 per joint.
    xy = [(SPACING * e, 0.0) if e < 5 else (SPACING * e, 500.0) for e in range(J)]
    gt = sequence([[person(1)]])
    pred = sequence([[person(7, xy=xy, score=0.9), person(8, score=0.1)]])
    result = evaluate([gt], [pred])
    assert np.all(per_joint(result["ap"]) == 50.0) and result["ap"]["total"] == 50.0


def test_prediction_whose_best_gt_was_taken_stays_unassigned():
    # p1 matches 9 joints of g0 (pck 0.6) and 6 of g1 (pck 0.4): it keeps only g0, which p0
    # (pck 1) takes, so p1 is unassigned and all its joints are FP, even the 6 near g1.
    xy = [(SPACING * e, 0.0) if e < 9 else (SPACING * e, 1000.0) for e in range(J)]
    gt = sequence([[person(1), person(2, origin=(0.0, 1000.0))]])
    pred = sequence([[person(7, score=0.5), person(8, xy=xy, score=0.9)]])
    result = evaluate([gt], [pred])
    # Per joint: FP (0.9) then TP (0.5) out of 2 positives: 0.5 precision over 0.5 recall.
    assert np.all(per_joint(result["ap"]) == 25.0)


def test_joint_the_gt_lacks_is_a_false_positive():
    gt = sequence([[person(1, missing=(0,)), person(2, origin=(0.0, 1000.0))]])
    pred = sequence([[person(7, score=0.9), person(8, origin=(0.0, 1000.0), score=0.5)]])
    ap = per_joint(evaluate([gt], [pred])["ap"])
    assert ap[0] == 50.0 and np.all(ap[1:] == 100.0)


@pytest.mark.parametrize("tp_first_in_file, expected", [(True, 50.0), (False, 100.0)])
def test_equal_scores_rank_the_later_detection_first(tp_first_in_file, expected):
    tp, fp = person(7, score=0.5), person(8, origin=(0.0, 3000.0), score=0.5)
    gt = sequence([[person(1)]])
    pred = sequence([[tp, fp] if tp_first_in_file else [fp, tp]])
    assert np.all(per_joint(evaluate([gt], [pred])["ap"]) == expected)


def test_joint_without_detections_scores_0_and_joint_without_positives_is_nan():
    nose, right_ankle = joints.EVAL_JOINT_NAMES.index("nose"), 0
    gt = sequence([[person(1, missing=(right_ankle,))]])
    pred = sequence([[person(7, score=0.5, missing=(nose,))]])
    ap = evaluate([gt], [pred])["ap"]
    values = per_joint(ap)
    assert values[nose] == 0.0 and math.isnan(values[right_ankle])
    assert ap["total"] == pytest.approx(1300.0 / 14)  # NaN joints are left out of the total
    assert ap["head"] == pytest.approx(200.0 / 3) and math.isnan(ap["ankle"])


@pytest.mark.parametrize("offset, expected", [((9.0, 12.0), 100.0), ((9.0, 12.01), 0.0)])
def test_head_size_is_0_6_diagonal_and_threshold_is_inclusive(offset, expected):
    # |(9, 12)| = 15 = 0.5 x (0.6 x |(30, 40)|): exactly on the threshold still matches.
    gt = sequence([[person(1)]])
    pred = sequence([[person(7, score=0.5, offset=offset)]])
    assert np.all(per_joint(evaluate([gt], [pred])["ap"]) == expected)


def test_missing_scores_fall_back_with_a_warning(caplog):
    gt = sequence([[person(1)], [person(1)]])
    with caplog.at_level(logging.WARNING):
        result = evaluate([gt], [gt])
    assert result["ap"]["total"] == 100.0
    assert any("no joint scores" in r.message for r in caplog.records)


# --- MOTA ----------------------------------------------------------------------------------


def test_match_is_carried_forward_when_a_closer_hypothesis_appears():
    gt = sequence([[person(1)], [person(1)], [person(1)]])
    pred = sequence([[person(10, score=0.5, offset=(3.0, 0.0))],
                     [person(10, score=0.5, offset=(12.0, 0.0)), person(20, score=0.5)],
                     [person(10, score=0.5)]])
    result = evaluate([gt], [pred])
    assert np.all(counts(result, "matches") == 2) and np.all(counts(result, "switches") == 0)
    assert np.all(counts(result, "false_positives") == 1)
    assert result["mota"]["total"] == 50.0


def test_switch_is_counted():
    gt = sequence([[person(1)], [person(1)], [person(1)]])
    pred = sequence([[person(10, score=0.5)], [person(20, score=0.5)], [person(20, score=0.5)]])
    result = evaluate([gt], [pred])
    assert np.all(counts(result, "switches") == 1) and np.all(counts(result, "matches") == 2)
    assert result["mota"]["total"] == 50.0


def _crowd(n=3):
    return [person(k, origin=(0.0, 1000.0 * k)) for k in range(n)]


def _perfect(n=3):
    return [person(k + 10, origin=(0.0, 1000.0 * k), score=0.5) for k in range(n)]


def test_frame_without_predictions_counts_one_miss_and_one_fp_per_joint():
    gt = sequence([_crowd(), _crowd(), _crowd()])
    pred = sequence([_perfect(), [], _perfect()])
    result = evaluate([gt], [pred])
    assert np.all(counts(result, "objects") == 4) and np.all(counts(result, "misses") == 1)
    assert np.all(counts(result, "false_positives") == 1)
    mota = result["mota"]
    assert mota["total"] == 50.0 and mota["precision"] == 75.0 and mota["recall"] == 75.0
    plain = evaluate([gt], [pred], official_quirks=False)  # every frame, real misses
    assert np.all(counts(plain, "objects") == 9) and np.all(counts(plain, "misses") == 3)
    assert plain["mota"]["total"] == pytest.approx(100.0 * (1 - 3 / 9))


def test_last_labeled_frame_is_not_scored():
    gt = sequence([[person(1)], [person(1)], []])
    pred = sequence([[person(10, score=0.5)], [person(99, origin=(0.0, 5000.0), score=0.5)],
                     [person(98, score=0.5)]])
    result = evaluate([gt], [pred])
    assert np.all(counts(result, "objects") == 1) and result["mota"]["total"] == 100.0


def test_single_labeled_frame_sequence_is_skipped_with_a_warning(caplog):
    one = sequence([[], [person(1)]], name="000001_mpii_test")
    two = sequence([[person(1)], [person(1)]], name="000002_mpii_test")
    garbage = sequence([[], [person(5, origin=(0.0, 5000.0), score=0.5)]], name=one.name)
    with caplog.at_level(logging.WARNING):
        result = evaluate([one, two], [garbage, two])
    assert np.all(counts(result, "objects") == 1) and result["mota"]["total"] == 100.0
    assert any("000001_mpii_test: a single labeled frame" in w
               for w in result["info"]["warnings"])
    assert any("single labeled frame" in r.message for r in caplog.records)


def test_ignore_regions_remove_points_of_both_sides():
    # The region covers g1's (and p1's) first five joints and the whole FP person q.
    region = np.array([[80.0, 80.0], [280.0, 80.0], [280.0, 120.0], [80.0, 120.0]])
    q = person(30, xy=[(150.0 + 5 * e, 105.0) for e in range(J)], score=0.9)
    frame_gt = [person(1, origin=(100.0, 100.0)), person(2, origin=(100.0, 1000.0))]
    frame_pred = [person(11, origin=(100.0, 100.0), score=0.5), q,
                  person(12, origin=(100.0, 1000.0), score=0.5)]
    gt = sequence([frame_gt, frame_gt], regions=[region])
    pred = sequence([frame_pred, frame_pred])
    result = evaluate([gt], [pred])
    assert np.all(per_joint(result["ap"]) == 100.0)
    assert np.array_equal(counts(result, "objects"), [1] * 5 + [2] * 10)
    assert result["mota"]["total"] == 100.0


def test_official_motp_also_sums_unmatched_candidate_pairs():
    # GT 1 matches A (d = 0.1); B is a candidate too (d = 0.3) but a false positive.
    gt = sequence([[person(1)], [person(1)]])
    pred = sequence([[person(10, score=0.5, offset=(3.0, 0.0)),
                      person(20, score=0.5, offset=(0.0, 9.0))], [person(10, score=0.5)]])
    mota = evaluate([gt], [pred])["mota"]
    assert mota["motp_matched"] == pytest.approx(90.0)
    assert mota["motp"] == pytest.approx(100.0 * (1 - (0.1 + 0.3 + 0.1)))


def test_points_on_polygon_edges_are_not_inside():
    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    bow_tie = np.array([[0.0, 0.0], [10.0, 10.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.array([[5.0, 5.0], [0.0, 5.0], [10.0, 10.0], [11.0, 5.0], [5.0, 0.0],
                       [2.0, 5.0]])
    assert points_in_polygons(points, [square]).tolist() == [True, False, False, False, False,
                                                              True]
    assert points_in_polygons(points, [bow_tie]).tolist() == [False, False, False, False, False,
                                                               True]
    assert not points_in_polygons(points, [square[:2]]).any()


def test_bad_pairing_and_missing_head_box_raise_data_error():
    gt = sequence([[person(1)], [person(1)]])
    with pytest.raises(DataError, match="no sequence named 000001_mpii_test"):
        evaluate([gt], [sequence([[person(1)]], name="000002_mpii_test")])
    with pytest.raises(DataError, match="1 frames, but the ground truth has 2"):
        evaluate([gt], [sequence([[person(1)]])])
    with pytest.raises(DataError, match="frame 0.*bbox_head"):
        evaluate([sequence([[person(1, head=False)], [person(1)]])], [gt])


def test_per_sequence_and_table():
    gt, pred = _ground_truth(), _noisy(_ground_truth())
    result = evaluate(gt, pred, per_sequence=True)
    assert set(result["per_sequence"]) == {s.name for s in gt}
    objects = sum(np.array([r["mota"]["counts"]["objects"]["total"]])
                  for r in result["per_sequence"].values())
    assert objects == result["mota"]["counts"]["objects"]["total"]
    lines = format_table(to_json(result)).splitlines()
    assert lines[0].split("|")[0].strip() == "Metric" and lines[1].startswith("AP ")
    assert f"{result['mota']['total']:5.1f}" in lines[2]


# --- evaluate.py ---------------------------------------------------------------------------


def _run(*args):
    """Runs evaluate.py; returns (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_cli_writes_metrics_table_and_converted_copies(tmp_path):
    gt, pred = _ground_truth(), _noisy(_ground_truth())
    pt.write_sequences(gt, tmp_path / "gt")
    pt.write_sequences(pred, tmp_path / "pred")
    out = tmp_path / "out.json"
    code, stdout, _ = _run("--ground-truth", tmp_path / "gt", "--predictions",
                           tmp_path / "pred", "--output", out, "--per-sequence", "--format",
                           "2017", "--converted-out", tmp_path / "conv")
    assert code == 0 and stdout.splitlines()[1].startswith("AP ")
    written = json.loads(out.read_text())
    assert {"ap", "mota", "per_sequence"} <= set(written)
    again = evaluate(*load_for_evaluation(tmp_path / "conv/ground_truth",
                                          tmp_path / "conv/predictions"), per_sequence=True)
    assert "annolist" in json.loads(next((tmp_path / "conv/predictions").iterdir()).read_text())
    assert to_json(again) == written


def _corrupt(path, edit):
    """Applies `edit` to the JSON in `path`."""
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


CLI_ERRORS = {
    "missing_prediction_file": (lambda d: (d / "pred/000002_bonn_test.json").unlink(),
                                "pred/000002_bonn_test.json", "missing prediction file"),
    "frame_count_mismatch": (lambda d: _corrupt(d / "pred/000001_mpii_test.json",
                                                lambda j: j["images"].pop()),
                             "pred/000001_mpii_test.json", "frames"),
    "duplicate_track_ids": (lambda d: _corrupt(d / "pred/000001_mpii_test.json",
                                               lambda j: [a.__setitem__("track_id", 5)
                                                          for a in j["annotations"]]),
                            "pred/000001_mpii_test.json", "frame 0.*unique"),
    "track_id_out_of_range": (lambda d: _corrupt(d / "pred/000001_mpii_test.json",
                                                 lambda j: j["annotations"][0].__setitem__(
                                                     "track_id", -1)),
                              "pred/000001_mpii_test.json", "track_id"),
    "wrong_keypoint_length": (lambda d: _corrupt(d / "gt/000002_bonn_test.json",
                                                 lambda j: j["annotations"][2]["keypoints"]
                                                 .extend([1, 2, 3])),
                              "gt/000002_bonn_test.json", "keypoints"),
    "nan_coordinates": (lambda d: _corrupt(d / "pred/000002_bonn_test.json",
                                           lambda j: j["annotations"][0]["keypoints"]
                                           .__setitem__(0, math.nan)),
                        "pred/000002_bonn_test.json", "finite"),
    "empty_gt_folder": (lambda d: [p.unlink() for p in (d / "gt").iterdir()], "gt",
                        "no .json"),
}


@pytest.mark.parametrize("name", sorted(CLI_ERRORS))
def test_cli_bad_input_one_line_nonzero_exit_no_output(name, tmp_path):
    gt = _ground_truth()
    pt.write_sequences(gt, tmp_path / "gt")
    pt.write_sequences(_noisy(gt), tmp_path / "pred")
    corrupt, file_part, pattern = CLI_ERRORS[name]
    corrupt(tmp_path)
    out = tmp_path / "out.json"
    code, _, stderr = _run("--ground-truth", tmp_path / "gt", "--predictions",
                           tmp_path / "pred", "--output", out)
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1, stderr
    assert str(tmp_path / file_part) in lines[0]
    assert pytest.importorskip("re").search(pattern, lines[0]), lines[0]
    assert not out.exists()
