"""Hostile files and careless command lines (issue 20): every command refuses, in one line and
before any work, an output that is one of its inputs or another of its outputs and an output
name too long to create; oversized work is capped (synthetic frame size, boxes per frame);
inputs that would silently mislead are refused or counted in a warning.

The commands run in-process (`run_cli(main)` with `sys.argv` set) where their refusal comes
before any network is loaded; see test_signals.py for the runs that must be real processes.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from gnnpose_jax.cli import run_cli
from gnnpose_jax.data import posetrack
from gnnpose_jax.data.types import Frame, Sequence
from gnnpose_jax.errors import CheckpointError, ConfigError, DataError
from gnnpose_jax.evaluation import load_for_evaluation
from gnnpose_jax.tracking.boxes import check_frame_indices
from gnnpose_jax.tracking.run import track_sequence
from gnnpose_jax.tracking.tracker import MAX_BOXES_PER_FRAME, OnlineTracker, TrackerConfig
from tests.helpers.poseval_people import person, sequence

ROOT = Path(__file__).resolve().parents[2]
LONG = "n" * 256  # one name over NAME_MAX (255 bytes on Linux and macOS file systems)


def _main(module: str):
    """A command's `main`, by its module."""
    return importlib.import_module(module).main


def _refused(module: str, argv: list, monkeypatch, capsys) -> str:
    """Runs the command; asserts exit status 2 and one `error:` line, and returns it."""
    monkeypatch.setattr(sys, "argv", [module, *map(str, argv)])
    with pytest.raises(SystemExit) as info:
        run_cli(_main(module))
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def files(tmp_path):
    """Small input files: a frame folder, a video-like file, detections, and a PoseTrack
    sequence (the GT and the predictions of the metrics mode)."""
    (tmp_path / "frames").mkdir()
    (tmp_path / "clip.mp4").write_bytes(b"a video")
    posetrack.write_detections({0: np.array([[1.0, 2, 30, 40, 0.9]])}, tmp_path / "dets.json")
    posetrack.write_sequences([sequence([[person(1)], [person(1)]])], tmp_path / "predictions")
    return tmp_path


def _contents(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


TRACK = ["{t}/frames", "--hrnet", "{t}/h.pth", "--detections", "{t}/dets.json"]
EVAL = ["--ground-truth", "{t}/predictions/000001_mpii_test.json", "--predictions",
        "{t}/predictions"]

# (name, command, argv, substrings of the error line)
REFUSALS = [
    ("track_output_is_the_detections", "gnnpose_jax.track",
     TRACK + ["--output", "{t}/dets.json"],
     ["--output", "dets.json: is also the input --detections"]),
    ("track_output_is_a_hard_link_of_the_detections", "gnnpose_jax.track",
     TRACK + ["--output", "{t}/hard.json"], ["hard.json: is also the input --detections"]),
    ("track_render_is_the_input_video", "gnnpose_jax.track",
     ["{t}/clip.mp4", "--hrnet", "{t}/h.pth", "--detections", "{t}/dets.json", "--render",
      "{t}/clip.avi"], ["--render", "clip.mp4: is also the input VIDEO_OR_FRAME_DIR"]),
    ("track_render_and_output_one_file", "gnnpose_jax.track",
     TRACK + ["--render", "{t}/x.mp4", "--output", "{t}/x.mp4"],
     ["--output", "x.mp4 and --render", "name the same file"]),
    ("evaluate_output_is_a_ground_truth_file", "gnnpose_jax.evaluate",
     EVAL + ["--metrics", "{t}/predictions/000001_mpii_test.json"],
     ["--metrics", "is also the input --ground-truth"]),
    ("evaluate_converted_out_holds_the_predictions", "gnnpose_jax.evaluate",
     EVAL + ["--metrics", "{t}/m.json", "--converted-out", "{t}"],
     ["--converted-out", "/predictions: is also the input --predictions"]),
    ("detect_output_is_the_image", "gnnpose_jax.detect",
     ["{t}/dets.json", "--detector", "{t}/y.pth", "--output", "{t}/dets.json"],
     ["--output", "is also the input IMAGE|VIDEO|FRAME_DIR"]),
    ("track_output_name_too_long", "gnnpose_jax.track", TRACK + ["--output", "{t}/" + LONG],
     ["--output", "a name of 256 bytes", "choose a shorter name"]),
    ("evaluate_metrics_name_too_long", "gnnpose_jax.evaluate", EVAL + ["--metrics", "{t}/" + LONG],
     ["--metrics", "a name of 256 bytes"]),
    ("detect_output_name_too_long", "gnnpose_jax.detect",
     ["{t}/frames", "--detector", "{t}/y.pth", "--output", "{t}/" + LONG + ".json"],
     ["--output", "a name of 261 bytes"]),
    ("synthetic_out_name_too_long", "gnnpose_jax.data.synthetic.cli",
     ["--out", "{t}/" + LONG, "--seed", "0"], ["--out", "a name of 256 bytes"]),
    ("demo_hrnet_out_name_too_long", "gnnpose_jax.demo_hrnet", ["{t}", "--out", "{t}/" + LONG],
     ["--out", "a name of 256 bytes"]),
    ("convert_dst_name_too_long", "convert_weights.__main__", ["{t}/h.pth", "{t}/" + LONG],
     ["DST", "a name of 256 bytes"]),
    ("train_workdir_name_too_long", "gnnpose_jax.train",
     ["--config", "configs/synthetic_gnn.py", "--workdir", "{t}/" + LONG],
     ["--workdir", "a name of 256 bytes"]),
    ("synthetic_size_over_the_cap", "gnnpose_jax.data.synthetic.cli",
     ["--out", "{t}/world", "--seed", "0", "--size", "100000x100000"],
     ["size must be 32 to 4096 pixels per side, got 100000x100000"]),
    ("synthetic_size_one_side_over_the_cap", "gnnpose_jax.data.synthetic.cli",
     ["--out", "{t}/world", "--seed", "0", "--size", "4097x64"], ["got 4097x64"]),
]


@pytest.mark.parametrize("module,argv,needles", [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_refused_in_one_line_before_any_work(module, argv, needles, files, monkeypatch,
                                             capsys):
    (files / "hard.json").hardlink_to(files / "dets.json")
    monkeypatch.chdir(ROOT)
    before = _contents(files)
    err = _refused(module, [a.format(t=files) for a in argv], monkeypatch, capsys)
    for needle in needles:
        assert needle in err, err
    assert _contents(files) == before
    assert sorted(p.name for p in files.iterdir()) == sorted(
        ["frames", "clip.mp4", "dets.json", "hard.json", "predictions"])


def test_train_refuses_a_truncated_stored_config_in_one_line(tmp_path, monkeypatch, capsys):
    workdir = tmp_path / "run"
    (workdir / "checkpoints/1").mkdir(parents=True)  # a checkpoint step to resume
    (workdir / "config.json").write_text('{"mode": "hrnet", "batch_si')
    monkeypatch.chdir(ROOT)
    err = _refused("gnnpose_jax.train",
                   ["--config", "configs/synthetic_hrnet.py", "--workdir", workdir],
                   monkeypatch, capsys)
    assert f"{workdir}/config.json: the run's stored config is malformed" in err
    assert "restore it, or train into a new --workdir" in err
    assert (workdir / "config.json").read_text() == '{"mode": "hrnet", "batch_si'


def test_track_refuses_a_stored_config_that_is_not_an_object(tmp_path):
    from gnnpose_jax.tracking.config import tracker_config_for

    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"config.json: the run's stored config is a JSON "
                                          r"list, not an object; restore it, or pass --config"):
        tracker_config_for(tmp_path)


class _OnePosePerBox:
    """An estimator giving each box a pose inside it; remembers the boxes it was given."""

    def __init__(self):
        self.seen = []

    def estimate(self, image, boxes):
        self.seen.append(np.array(boxes))
        corners = np.linspace(0.1, 0.9, 17)[None, :, None] * boxes[:, None, 2:4]
        return boxes[:, None, :2] + corners, np.full((len(boxes), 17), 0.9)


def test_tracker_keeps_the_highest_scoring_boxes_of_a_crowded_frame(caplog):
    rng = np.random.default_rng(0)
    n = 5000
    boxes = np.column_stack([rng.uniform(0, 100, (n, 2)), rng.uniform(5, 20, (n, 2)),
                             rng.permutation(n) / n])
    estimator = _OnePosePerBox()
    tracker = OnlineTracker(estimator, TrackerConfig(new_track_score=0.0))
    image = np.zeros((120, 160, 3), np.uint8)
    frames = [Frame(file_name=f"clip/{i}.jpg", frame_index=i, is_labeled=False) for i in range(2)]
    with caplog.at_level(logging.WARNING):
        track_sequence(tracker, Sequence("clip", frames), [image, image],
                       lambda frame, image: boxes, 0.0)
    best = np.sort(np.argsort(-boxes[:, 4])[:MAX_BOXES_PER_FRAME])  # kept in file order
    for seen in estimator.seen:
        np.testing.assert_array_equal(seen, boxes[best, :4])
    assert tracker.capped_boxes == 2 * (n - MAX_BOXES_PER_FRAME)
    assert (f"clip: dropped {2 * (n - MAX_BOXES_PER_FRAME)} person box(es) of frames with more "
            f"than {MAX_BOXES_PER_FRAME}") in caplog.text


def test_tracker_drops_boxes_wholly_outside_the_frame():
    estimator = _OnePosePerBox()
    tracker = OnlineTracker(estimator, TrackerConfig())
    inside = [[-10, -10, 15, 15, 0.9], [150, 110, 30, 30, 0.9]]  # overlapping a corner
    outside = [[-20, 5, 20, 10, 0.9], [5, 120, 10, 10, 0.9], [160, 5, 10, 10, 0.9],
               [5, -30, 10, 29, 0.9]]
    tracker.step(0, np.zeros((120, 160, 3), np.uint8), np.array(inside + outside, float))
    np.testing.assert_array_equal(estimator.seen[0], np.array(inside)[:, :4])
    assert tracker.dropped_boxes == len(outside)


def test_one_based_frame_ids_are_refused_and_ids_past_the_end_counted(caplog):
    rows = np.zeros((1, 5))
    with pytest.raises(DataError, match=r"d.json: image_id 4 names no frame \(the frames are "
                                        r"0..3\) .* look 1-based"):
        check_frame_indices({1: rows, 2: rows, 4: rows}, 4, "d.json")
    check_frame_indices({1: rows, 3: rows, "000000.jpg": rows}, 4, "d.json")  # 0-based
    with caplog.at_level(logging.WARNING):
        check_frame_indices({0: rows, 4: rows, 9: rows}, 4, "d.json")
    assert "d.json: 2 image_id(s) name no frame of the 4 (such as 4)" in caplog.text


def test_evaluate_warns_of_predictions_without_ground_truth(tmp_path, caplog):
    gt = [sequence([[person(1)], [person(1)]])]
    posetrack.write_sequences(gt, tmp_path / "gt")
    posetrack.write_sequences(gt + [sequence([[person(2)]], name="000009_mpii_test")],
                              tmp_path / "pred")
    with caplog.at_level(logging.WARNING):
        gt_seqs, preds = load_for_evaluation(tmp_path / "gt", tmp_path / "pred")
    assert [s.name for s in preds] == [s.name for s in gt_seqs] == ["000001_mpii_test"]
    assert ("pred: 1 prediction sequence(s) have no ground truth and are not scored (such as "
            "000009_mpii_test; the ground truth has 1 sequences)") in caplog.text


def test_resume_explains_an_empty_checkpoint_folder(tmp_path):
    import grain
    import jax
    import optax

    from gnnpose_jax.training import checkpoints
    from gnnpose_jax.training.state import create_state

    state = create_state(lambda *a, **k: None, {"params": {"w": np.zeros(2, np.float32)}},
                         optax.sgd(0.1))
    iterator = iter(grain.MapDataset.range(8).to_iter_dataset())
    with checkpoints.make_manager(tmp_path, keep=2, asynchronous=False) as manager:
        checkpoints.save(manager, state.replace(step=np.int32(3)), jax.random.key(0), iterator)
    (tmp_path / "checkpoints/8").mkdir()
    with checkpoints.make_manager(tmp_path, keep=2, asynchronous=False) as manager:
        with pytest.raises(CheckpointError, match=r"checkpoints/8: the training checkpoint is "
                                                  r"empty .*delete this folder to resume from "
                                                  r"step 3, or train into a new --workdir"):
            checkpoints.restore_latest(manager, state, jax.random.key(0), iterator)
    assert json.loads((tmp_path / "checkpoints/3/data/process_0-of-1.json").read_text())
