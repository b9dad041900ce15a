"""evaluate.py's tracker mode and `python -m gnnpose_jax.track`, end to end on a tiny world
with small random networks (the plumbing, not the quality: that is the demo's job)."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gnnpose_jax.data import posetrack
from gnnpose_jax.evaluation import evaluate, to_json
from tests.helpers.cli_errors import assert_one_error_line
from tests.helpers.tiny_runs import build_world_and_workdir, frame_detections

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world_and_workdir(tmp_path_factory):
    return build_world_and_workdir(tmp_path_factory.mktemp("tracking"))


def _run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_evaluate_tracker_mode_compares_baseline(world_and_workdir, tmp_path):
    world, workdir = world_and_workdir
    out, preds, render = tmp_path / "out.json", tmp_path / "preds", tmp_path / "render"
    result = _run("evaluate.py", "--config", "configs/synthetic_gnn.py", "--workdir",
                  str(workdir), "--data", str(world), "--compare-baseline", "--metrics", str(out),
                  "--output", str(preds), "--render", str(render), "--per-sequence")
    assert result.returncode == 0, result.stderr
    assert "AP diff" in result.stdout and "MOTA diff" in result.stdout
    metrics = json.loads(out.read_text())
    assert set(metrics) == {"baseline", "gnn"}
    assert metrics["gnn"]["tracking"]["frames"] == 12
    gt = posetrack.read_sequences(world / "annotations/val")
    for name in ("baseline", "gnn"):
        seqs = posetrack.read_sequences(preds / name)
        assert len(seqs) == 2 and all(len(s.frames) == 6 for s in seqs)
        # --per-sequence: each sequence scored on its own, as metrics mode scores the files.
        again = to_json(evaluate(gt, seqs, per_sequence=True))
        assert set(metrics[name]["per_sequence"]) == {s.name for s in gt}
        assert metrics[name]["per_sequence"] == again["per_sequence"]
    first = sorted(p.stem for p in (world / "annotations/val").iterdir())[0]
    assert (render / f"{first}.mp4").is_file() and (render / f"{first}.png").is_file()


def test_track_cli_renders_and_writes(world_and_workdir, tmp_path):
    world, workdir = world_and_workdir
    frames, dets = frame_detections(world, tmp_path)
    video, pred = tmp_path / "tracked.mp4", tmp_path / "pred.json"
    result = _run("-m", "gnnpose_jax.track", str(frames), "--workdir", str(workdir),
                  "--detections", str(dets), "--render", str(video), "--output", str(pred))
    assert result.returncode == 0, result.stderr
    capture = cv2.VideoCapture(str(video))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 6
    assert len(posetrack.read_sequence(pred).frames) == 6

    # Zero detections in every frame: an empty, valid output.
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    result = _run("-m", "gnnpose_jax.track", str(frames), "--workdir", str(workdir),
                  "--detections", str(empty), "--output", str(tmp_path / "none.json"))
    assert result.returncode == 0, result.stderr
    seq = posetrack.read_sequence(tmp_path / "none.json")
    assert len(seq.frames) == 6 and not any(f.people for f in seq.frames)


def test_track_cli_takes_the_config_and_network_settings(world_and_workdir, tmp_path):
    world, workdir = world_and_workdir
    frames, dets = frame_detections(world, tmp_path)
    args = ["-m", "gnnpose_jax.track", str(frames), "--workdir", str(workdir),
            "--detections", str(dets)]
    pred = tmp_path / "small_batches.json"
    result = _run(*args, "--output", str(pred), "--batch-size", "2", "--max-tracks", "1",
                  "--flip-test")
    assert result.returncode == 0, result.stderr
    assert any(f.people for f in posetrack.read_sequence(pred).frames)

    # --config's tracker section replaces the run's: no estimate may start a track
    # (random weights score joints above 1).
    config = tmp_path / "strict.py"
    config.write_text("from configs import synthetic_gnn\n\n\ndef get_config():\n"
                      "    config = synthetic_gnn.get_config()\n"
                      "    config.tracker.new_track_score = 1e9\n    return config\n")
    pred = tmp_path / "strict.json"
    result = _run(*args, "--output", str(pred), "--config", str(config))
    assert result.returncode == 0, result.stderr
    seq = posetrack.read_sequence(pred)
    assert len(seq.frames) == 6 and not any(f.people for f in seq.frames)


def test_track_cli_bad_input(world_and_workdir, tmp_path):
    world, workdir = world_and_workdir
    frames, dets = frame_detections(world, tmp_path)
    out = tmp_path / "o.json"

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    assert_one_error_line(_run("-m", "gnnpose_jax.track", str(broken), "--workdir", str(workdir),
                         "--detections", str(dets), "--output", str(out)), "broken.mp4")

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "000000.jpg"), np.zeros((96, 128, 3), np.uint8))
    cv2.imwrite(str(mixed / "000001.jpg"), np.zeros((64, 128, 3), np.uint8))
    assert_one_error_line(_run("-m", "gnnpose_jax.track", str(mixed), "--workdir", str(workdir),
                         "--detections", str(dets), "--output", str(out),
                         "--render", str(tmp_path / "r.mp4")), "000001.jpg", "differs")
    assert not (tmp_path / "r.mp4").exists()

    other = tmp_path / "other.json"
    posetrack.write_detections({"elsewhere.jpg": np.array([[0, 0, 5, 5, 0.9]])}, other)
    assert_one_error_line(_run("-m", "gnnpose_jax.track", str(frames), "--workdir", str(workdir),
                         "--detections", str(other), "--output", str(out)),
                    "no detection belongs to these frames")

    assert_one_error_line(_run("-m", "gnnpose_jax.track", str(frames), "--workdir", str(tmp_path),
                         "--detections", str(dets), "--output", str(out)), "no GNN export")
    assert not out.exists()
