"""PoseTrack21 through the command lines: `evaluate.py` metrics mode on the kit's fixtures
(tests/fixtures/pt21, whose `kit.json` files hold the official kit's own results), and the
trackers' PoseTrack21 output (`--format 2021`) read back through the PoseTrack21 reader."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gnnpose_jax.data import posetrack
from gnnpose_jax.data import posetrack21 as pt21
from gnnpose_jax.evaluation import evaluate, to_json
from gnnpose_jax.evaluation.hota import COUNTS, FIELDS, SUMMARY_FIELDS
from gnnpose_jax.evaluation.pt21 import labeled_view
from tests.helpers.pt21_cases import HAND_CASES, KIT_HAND, NAMES, assert_map_equal, column
from tests.helpers.tiny_runs import build_world_and_workdir, frame_detections

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "pt21"
VARIED = (DATA / "varied" / "gt", DATA / "varied" / "pred")


def _run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def _metrics(gt, pred, out, *flags):
    """evaluate.py metrics mode; returns (stdout, OUT.json)."""
    result = _run("evaluate.py", "--ground-truth", gt, "--predictions", pred, "--metrics", out,
                  *flags)
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads(Path(out).read_text())


def _rows(stdout):
    """{row label: [cells]} of every table row printed."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 2 and cells[0] != "Metric":
            rows[cells[0]] = cells[1:]
    return rows


def test_posetrack21_is_detected_and_prints_and_writes_the_kits_numbers(tmp_path):
    kit = json.loads((DATA / "varied" / "kit.json").read_text())
    stdout, out = _metrics(*VARIED, tmp_path / "out.json", "--per-alpha", "--per-sequence")
    rows = _rows(stdout)
    combined = kit["hota"]["combined"]
    for field in FIELDS:
        expected = 100 * np.mean(combined[field], axis=0)
        assert column(out["hota"], field) == pytest.approx(expected, abs=1e-8), field
        curves = np.array([out["hota"]["per_alpha"][field][n] for n in NAMES]).T
        assert curves == pytest.approx(100 * np.array(combined[field]), abs=1e-8), field
        for seq, values in kit["hota"]["per_sequence"].items():
            assert column(out["per_sequence"][seq]["hota"], field) == pytest.approx(
                100 * np.array(values[field]), abs=1e-8)
        if field in SUMMARY_FIELDS:
            assert rows[field] == [f"{v:.1f}" for v in expected], field
    assert [r for r in rows if r in FIELDS] == list(SUMMARY_FIELDS)
    for field in COUNTS:
        curves = np.array([out["hota"]["per_alpha"][field][n] for n in NAMES]).T
        assert np.array_equal(curves, combined["HOTA_" + field])
    assert_map_equal({"ap": out["ap"], "precision": out["ap_precision"],
                      "recall": out["ap_recall"]}, kit["map"])
    assert rows["AP"] == [f"{v:.1f}" for v in kit["map"]["map"].values()]
    # MOTA: poseval's, on the frames the GT marks is_labeled.
    gts, preds = (pt21.read_sequences(p) for p in VARIED)
    mota = to_json(evaluate(labeled_view(gts), preds, per_sequence=True))
    assert out["mota"] == mota["mota"] and out["info"]["labeled_frames"] == 40
    assert out["per_sequence"]["000011_mpii_test"]["mota"] == \
        mota["per_sequence"]["000011_mpii_test"]["mota"]
    keys = ("head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "total")
    assert rows["MOTA"] == [f"{mota['mota'][k]:.1f}" for k in keys]


@pytest.mark.parametrize("fix", [False, True])
def test_hota_fix_empty_frames_flag(fix, tmp_path):
    # One GT person in 3 labeled frames, predicted exactly in frames 0 and 1 only (test_hota's
    # hand case): the kit (issue #10) counts the whole sequence's 3 GT joints as misses in
    # frame 2, HOTA sqrt(2/5 x 2/3) = 51.64; corrected, 1 miss: sqrt(2/3 x 2/3) = 66.67.
    gts, preds = HAND_CASES["no_predictions_in_a_frame"]()
    pt21.write_sequences(gts, tmp_path / "gt")
    pt21.write_sequences(preds, tmp_path / "pred")
    flags = ["--benchmark", "posetrack21"] + (["--hota-fix-empty-frames"] if fix else [])
    stdout, out = _metrics(tmp_path / "gt", tmp_path / "pred", tmp_path / "out.json", *flags)
    expected = 100 * 2 / 3 if fix else 100 * np.sqrt(0.4 * 2 / 3)
    assert out["hota"]["HOTA"]["total"] == pytest.approx(expected, abs=1e-9)
    assert _rows(stdout)["HOTA"] == [f"{expected:.1f}"] * 16
    assert out["info"]["fix_empty_frames"] is fix
    assert ("empty frames corrected" in stdout) is fix
    if not fix:
        kit = KIT_HAND["hota"]["no_predictions_in_a_frame"]["HOTA"]
        assert column(out["hota"], "HOTA") == pytest.approx(100 * np.array(kit), abs=1e-9)


def _strip_posetrack21_markers(src, dst):
    """Copies of PoseTrack21 files without `person_id` and `has_labeled_person`: plain 2018."""
    dst.mkdir()
    for path in sorted(src.glob("*.json")):
        data = json.loads(path.read_text())
        for image in data["images"]:
            image.pop("has_labeled_person", None)
        for ann in data["annotations"]:
            ann.pop("person_id", None)
        (dst / path.name).write_text(json.dumps(data))


def test_benchmark_flag_overrides_detection(tmp_path):
    # PoseTrack21 files scored as 2018: poseval's table alone.
    stdout, out = _metrics(*VARIED, tmp_path / "a.json", "--benchmark", "posetrack2018")
    assert "hota" not in out and "HOTA" not in stdout and "MOTA" in _rows(stdout)
    # The same GT without PoseTrack21's markers is detected as 2018 ...
    _strip_posetrack21_markers(VARIED[0], tmp_path / "gt")
    stdout, out = _metrics(tmp_path / "gt", VARIED[1], tmp_path / "b.json")
    assert "hota" not in out
    # ... and scores as the kit with --benchmark posetrack21.
    kit = json.loads((DATA / "varied" / "kit.json").read_text())["hota"]["combined"]
    _, out = _metrics(tmp_path / "gt", VARIED[1], tmp_path / "c.json", "--benchmark",
                      "posetrack21")
    assert column(out["hota"], "HOTA") == pytest.approx(100 * np.mean(kit["HOTA"], axis=0),
                                                        abs=1e-8)
    assert "per_alpha" not in out["hota"] and "per_sequence" not in out


@pytest.mark.parametrize("flags,needle", [
    (["--benchmark", "posetrack2018", "--per-alpha"], "--per-alpha is for PoseTrack21"),
    (["--positional-pairing"], "--positional-pairing is for PoseTrack 2017/2018"),
])
def test_flags_of_the_other_benchmark_are_one_error_line(flags, needle, tmp_path):
    result = _run("evaluate.py", "--ground-truth", VARIED[0], "--predictions", VARIED[1],
                  "--metrics", tmp_path / "out.json", *flags)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], result.stderr
    assert not (tmp_path / "out.json").exists()


# --- the trackers' PoseTrack21 output ---------------------------------------------------------


@pytest.fixture(scope="module")
def world_and_workdir(tmp_path_factory):
    return build_world_and_workdir(tmp_path_factory.mktemp("tracking21"))


def _assert_posetrack21_file(path):
    """A file the PoseTrack21 reader reads and writes back unchanged, with the kit's fields."""
    data = json.loads(path.read_text())
    assert all({"frame_id", "is_labeled", "ignore_regions_x", "ignore_regions_y"} <= set(image)
               for image in data["images"])
    assert all(len(ann["scores"]) == 17 for ann in data["annotations"])
    seq = pt21.read_sequence(path)
    assert pt21.sequence_to_json(seq) == data
    return seq


def test_evaluate_tracker_mode_writes_posetrack21(world_and_workdir, tmp_path):
    world, workdir = world_and_workdir
    preds, out = tmp_path / "preds", tmp_path / "out.json"
    result = _run("evaluate.py", "--config", "configs/synthetic_gnn.py", "--workdir", workdir,
                  "--data", world, "--no-gnn", "--format", "2021", "--output", preds,
                  "--metrics", out)
    assert result.returncode == 0, result.stderr
    gt_dir = world / "annotations" / "val"
    gts = posetrack.read_sequences(gt_dir)
    for gt in gts:
        seq = _assert_posetrack21_file(preds / f"{gt.name}.json")
        assert [f.image_id for f in seq.frames] == [f.image_id for f in gt.frames]
    assert sum(len(f.people) for s in pt21.read_sequences(preds) for f in s.frames) > 0
    # The files hold what the tracker scored: metrics mode on them gives its AP and MOTA.
    tracked = json.loads(out.read_text())
    _, again = _metrics(gt_dir, preds, tmp_path / "again.json", "--benchmark", "posetrack2018")
    assert (again["ap"], again["mota"]) == (tracked["ap"], tracked["mota"])
    stdout, scored = _metrics(gt_dir, preds, tmp_path / "hota.json", "--benchmark",
                              "posetrack21")
    assert 0 <= scored["hota"]["HOTA"]["total"] <= 100 and "FA-HOTA" in _rows(stdout)


def test_track_writes_posetrack21(world_and_workdir, tmp_path):
    world, workdir = world_and_workdir
    frames, dets = frame_detections(world, tmp_path)
    pred = tmp_path / "pred.json"
    result = _run("-m", "gnnpose_jax.track", frames, "--workdir", workdir, "--detections", dets,
                  "--no-gnn", "--output", pred, "--format", "2021")
    assert result.returncode == 0, result.stderr
    seq = _assert_posetrack21_file(pred)
    assert len(seq.frames) == 6 and any(f.people for f in seq.frames)
