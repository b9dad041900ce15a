"""Per-track statistics (gnnpose_jax.evaluation.track_stats) on hand-made cases with known
counts, against MOTA's switch count on real PoseTrack people, and benchmarks/track_report.py's
output and one-line errors."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import track_report as track_report_script
from gnnpose_jax.cli import run_cli
from gnnpose_jax.data import joints
from gnnpose_jax.data.posetrack import read_sequences, write_sequence
from gnnpose_jax.evaluation import evaluate
from gnnpose_jax.evaluation.track_stats import format_totals, format_tracks, track_report
from tests.helpers.poseval_people import SPACING, noisy, person, sequence

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "track_report.py"
FAR = (0.0, 1000.0)  # a second person's origin, far from the first


def mota_switches(gt, pred, official_quirks=True):
    return evaluate(gt, pred, official_quirks=official_quirks)["mota"]["counts"]["switches"][
        "total"]


def test_one_id_switch():
    # Five scored frames (the sixth, the last, is not scored by MOTA): ids 10, 10, 20, 20, 20.
    gt = sequence([[person(1)] for _ in range(6)])
    pred = sequence([[person(10 if t < 2 else 20, score=0.5)] for t in range(6)])
    report = track_report([gt], [pred])
    (track,) = report["tracks"]
    assert track == {"sequence": gt.name, "track_id": 1, "frames": 5, "covered": 5, "ids": 2,
                     "longest_run": 3, "switches": 1, "fragmentations": 0,
                     "joint_switches": len(joints.EVAL_SLOTS), "joint_fragmentations": 0}
    assert report["totals"]["joint_switches"] == mota_switches([gt], [pred])
    assert report["totals"]["longest_run_share"] == pytest.approx(3 / 5)


def test_one_fragmentation():
    # The person is missed in frame 2 (the tracker emits someone far away), same id around it.
    gt = sequence([[person(1), person(2, origin=FAR)] for _ in range(6)])
    pred = sequence([[person(10, score=0.5)] if t != 2 else [person(30, score=0.5, origin=FAR)]
                     for t in range(6)])
    report = track_report([gt], [pred])
    first, second = report["tracks"]
    assert (first["frames"], first["covered"], first["ids"], first["longest_run"]) == (5, 4, 1, 2)
    assert (first["switches"], first["fragmentations"]) == (0, 1)
    assert first["joint_fragmentations"] == len(joints.EVAL_SLOTS)
    # The second person is covered once: no span to interrupt.
    assert (second["covered"], second["fragmentations"], second["ids"]) == (1, 0, 1)
    assert report["totals"]["fragmentations"] == 1


def test_joint_level_counts_follow_each_joint():
    # Joint 0 alone changes id in frame 3; joint 1 alone is missed in frame 2.
    frames = []
    for t in range(6):
        p = person(10, score=0.5)
        if t == 2:
            p.keypoints[joints.EVAL_SLOTS[1]] = 0.0
        q = person(20, score=0.5, origin=(0.0, 500.0), missing=range(1, 15))
        if t >= 3:  # joint 0 leaves 10 for 20
            p.keypoints[joints.EVAL_SLOTS[0]] = 0.0
            q.keypoints[joints.EVAL_SLOTS[0], :2] = (0.0, 1.0)
        frames.append([p, q])
    gt = sequence([[person(1)] for _ in range(6)])
    report = track_report([gt], [sequence(frames)])
    (track,) = report["tracks"]
    assert (track["joint_switches"], track["joint_fragmentations"]) == (1, 1)
    assert (track["switches"], track["fragmentations"], track["ids"]) == (0, 0, 1)
    assert track["joint_switches"] == mota_switches([gt], [sequence(frames)])


def test_a_stitched_pose_spans_two_people():
    a, b = person(1), person(2, origin=FAR)
    stitched = person(10, score=0.5)
    stitched.keypoints[joints.EVAL_SLOTS[8:]] = b.keypoints[joints.EVAL_SLOTS[8:]]
    correct = person(20, score=0.5, origin=FAR)
    report = track_report([sequence([[a, b]])], [sequence([[stitched, correct]])])
    span = report["spanning"]
    assert (span["poses"], span["spanning"], span["share"]) == (2, 1, 50.0)
    assert span["where"] == [{"sequence": "000001_mpii_test", "frame": 0, "track_id": 10}]


def test_two_joints_on_another_person_do_not_span():
    a, b = person(1), person(2, origin=FAR)
    pose = person(10, score=0.5)
    pose.keypoints[joints.EVAL_SLOTS[:2]] = b.keypoints[joints.EVAL_SLOTS[:2]]
    assert track_report([sequence([[a, b]])], [sequence([[pose]])])["spanning"]["spanning"] == 0


def test_a_joint_counts_for_the_nearest_person_only():
    # B stands 6 px from A: every joint of A's pose lies within half a head size (15 px) of
    # both, but each goes to A, the nearer: no span. Moved half-way to B, the pose's last
    # joints go to B and it spans.
    a, b = person(1), person(2, offset=(6.0, 0.0))
    assert track_report([sequence([[a, b]])], [sequence([[person(10, score=0.5)]])]
                        )["spanning"]["spanning"] == 0
    half = person(10, score=0.5)
    half.keypoints[joints.EVAL_SLOTS[10:], 0] += 5.0
    assert track_report([sequence([[a, b]])], [sequence([[half]])])["spanning"]["spanning"] == 1


def test_pckh_on_hidden_and_visible_joints():
    # Person 1: joints 0-4 hidden (annotated, visibility 0). Its pose finds the 10 visible ones
    # and 1 hidden one. Person 2 (15 visible joints) has no pose.
    # (Away from the origin: a joint at (0, 0) with visibility 0 would be absent.)
    one, two = person(1, origin=(20.0, 20.0)), person(2, origin=FAR)
    one.keypoints[joints.EVAL_SLOTS[:5], 2] = 0.0
    pose = person(10, score=0.5, origin=(20.0, 20.0))
    pose.keypoints[joints.EVAL_SLOTS[1:5], 1] += 2 * SPACING  # far from every GT joint
    pckh = track_report([sequence([[one, two]])], [sequence([[pose]])])["pckh"]
    assert pckh["hidden"] == {"joints": 5, "matched": 1, "pckh": 0.2, "joints_assigned": 5,
                              "matched_assigned": 1, "pckh_assigned": 0.2}
    assert pckh["visible"] == {"joints": 25, "matched": 10, "pckh": 0.4, "joints_assigned": 10,
                               "matched_assigned": 10, "pckh_assigned": 1.0}


def _real_video(samples_dir: Path, frames: int = 6):
    """The crowded real frame (11 people) of the samples as a short video, drifting 3 px/frame."""
    (seq,) = [s for s in read_sequences(samples_dir / "annotations" / "val")
              if s.name == "012834_mpii_test"]
    people = next(f.people for f in seq.frames if f.people)
    video = []
    for t in range(frames):
        moved = copy.deepcopy(people)
        for p in moved:
            p.keypoints[p.present, 0] += 3.0 * t
        video.append(moved)
    return sequence(video, seq.name)


@pytest.mark.parametrize("official_quirks", [True, False])
def test_switch_totals_equal_mota_on_real_people(samples_dir, official_quirks):
    gt = [_real_video(samples_dir)]
    pred = noisy(gt, seed=3)
    report = track_report(gt, pred, official_quirks=official_quirks)
    switches = sum(t["joint_switches"] for t in report["tracks"])
    assert switches > 0
    assert switches == report["totals"]["joint_switches"] == mota_switches(gt, pred,
                                                                           official_quirks)
    assert report["totals"]["tracks"] == 11


def test_tables_put_runs_side_by_side():
    gt = sequence([[person(1)] for _ in range(6)])
    reports = {name: track_report([gt], [sequence([[person(i, score=0.5)] for i in ids])])
               for name, ids in (("baseline", [10, 10, 20, 20, 20, 20]), ("gnn", [10] * 6))}
    totals = format_totals(reports).splitlines()
    assert [c.strip() for c in totals[0].split("|")[1:]] == ["baseline", "gnn"]
    assert [c.strip() for c in next(r for r in totals if r.startswith("id switches, person"))
            .split("|")[1:]] == ["1", "0"]
    tracks = format_tracks(reports).splitlines()
    assert len(tracks) == 3 and tracks[2].split("|")[1].split() == ["5", "2", "3", "1", "0", "15"]


def _write(folder: Path, seqs) -> Path:
    for seq in seqs:
        write_sequence(seq, folder / f"{seq.name}.json", "2018", check_official=False)
    return folder


def test_script_writes_json(tmp_path):
    gt = _write(tmp_path / "gt", [sequence([[person(1)] for _ in range(6)])])
    pred = _write(tmp_path / "a", [sequence([[person(10 if t < 2 else 20, score=0.5)]
                                             for t in range(6)])])
    out = tmp_path / "out.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--ground-truth", str(gt),
                           "--predictions", str(pred), str(pred), "--names", "x", "y",
                           "--per-track", "--json", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "id switches, joints (MOTA's)" in done.stdout and "000001_mpii_test" in done.stdout
    written = json.loads(out.read_text())
    assert written["x"]["totals"]["joint_switches"] == 15 == written["y"]["tracks"][0][
        "joint_switches"]


def test_script_reports_bad_input_in_one_line(tmp_path, capsys):
    gt = _write(tmp_path / "gt", [sequence([[person(1)] for _ in range(6)])])
    pred = _write(tmp_path / "a", [sequence([[person(10, score=0.5)] for _ in range(6)])])
    for args, message in (
            (("--ground-truth", tmp_path / "none", "--predictions", pred),
             f"error: {tmp_path / 'none'}: ground truth not found"),
            (("--ground-truth", gt, "--predictions", tmp_path),
             f"error: {tmp_path / '000001_mpii_test.json'}: missing prediction file"),
            (("--ground-truth", gt, "--predictions", pred, pred),
             "error: --names: runs need distinct names"),
            (("--ground-truth", gt, "--predictions", pred, "--names", "x", "y"),
             "error: --names: 2 names for 1 --predictions folders")):
        with pytest.raises(SystemExit) as stop:
            run_cli(lambda a=args: track_report_script.main([str(v) for v in a]))
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.startswith(message) and err.count("\n") == 1, err
