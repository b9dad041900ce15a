"""`python evaluate.py` on PoseTrack 2017/2018 files: metrics, table and converted copies; bad
input is one error line with a non-zero exit and no output."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from gnnpose_jax.data import posetrack as pt
from gnnpose_jax.evaluation import evaluate, load_for_evaluation, to_json
from tests.helpers.poseval_people import ground_truth, noisy

ROOT = Path(__file__).resolve().parents[2]


def _run(*args):
    """Runs evaluate.py; returns (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_cli_writes_metrics_table_and_converted_copies(tmp_path):
    gt, pred = ground_truth(), noisy(ground_truth())
    pt.write_sequences(gt, tmp_path / "gt")
    pt.write_sequences(pred, tmp_path / "pred")
    out = tmp_path / "out.json"
    code, stdout, _ = _run("--ground-truth", tmp_path / "gt", "--predictions",
                           tmp_path / "pred", "--metrics", out, "--per-sequence", "--format",
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
    gt = ground_truth()
    pt.write_sequences(gt, tmp_path / "gt")
    pt.write_sequences(noisy(gt), tmp_path / "pred")
    corrupt, file_part, pattern = CLI_ERRORS[name]
    corrupt(tmp_path)
    out = tmp_path / "out.json"
    code, _, stderr = _run("--ground-truth", tmp_path / "gt", "--predictions",
                           tmp_path / "pred", "--metrics", out)
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1, stderr
    assert str(tmp_path / file_part) in lines[0]
    assert pytest.importorskip("re").search(pattern, lines[0]), lines[0]
    assert not out.exists()


TRACKER = ["--config", "configs/synthetic_gnn.py", "--workdir", "run"]
METRICS = ["--ground-truth", "gt", "--predictions", "pred"]


@pytest.mark.parametrize("argv,needle", [
    # Renamed: --output is the predictions written, as in every command; --metrics the JSON.
    (TRACKER + ["--predictions-out", "preds"], "--predictions-out is now --output"),
    (METRICS + ["--output", "m.json"], "write the metrics with --metrics OUT.json"),
    (TRACKER + ["--output", "m.json"], "writes the predictions as a folder"),
    # A flag of the other mode is refused, not ignored.
    (METRICS + ["--metrics", "m.json", "--no-gnn"], "--no-gnn is for tracker mode"),
    (METRICS + ["--metrics", "m.json", "--render", "r"], "--render is for tracker mode"),
    (TRACKER + ["--ground-truth", "gt"], "--ground-truth is for metrics mode"),
    (TRACKER + ["--positional-pairing"], "--positional-pairing is for metrics mode"),
    (TRACKER + ["--conf", "0.3"], "--conf and --nms are --detector's thresholds"),
])
def test_flags_of_another_meaning_or_mode_are_one_error_line(argv, needle, tmp_path,
                                                             monkeypatch, capsys):
    from gnnpose_jax.cli import run_cli
    from gnnpose_jax.evaluate import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        run_cli(lambda: main(argv))
    lines = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(lines) == 1 and needle in lines[0], lines
    assert list(tmp_path.iterdir()) == []
