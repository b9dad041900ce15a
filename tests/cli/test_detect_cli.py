"""Tracking from weights alone (issue 11): `python -m gnnpose_jax.detect`, `track --detector
--hrnet`, `evaluate.py --boxes detector`, on the shipped real clip with random official-layout
checkpoints written here (the plumbing, not the quality).

The random YOLOX ignores the image: its prediction convs are zero, so every stride-32 anchor
predicts the same person box (S/2 wide and S high by default, score 0.88) and NMS leaves a
regular grid of boxes, the same in every frame; `person=False` predicts no person anywhere.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.random_weights import write_hrnet_pth, write_yolox_pth, yolox_variables
from gnnpose_jax.data import posetrack
from gnnpose_jax.models import hrnet, hrnet_convert, pretrained, yolox, yolox_convert
from gnnpose_jax.tracking.networks import load_networks
from gnnpose_jax.tracking.video import FrameSource
from tests.helpers.tiny_runs import DENSE, HRNET_PTH, TINY, build_world_and_workdir

ROOT = Path(__file__).resolve().parents[2]
CLIP_DIR = ROOT.parent / "shared/data/posetrack18_samples/videos/000001_mpiinew_test"
CLIP = CLIP_DIR / "000001_mpiinew_test.mp4"
CLIP_FRAMES = 5
CLIP_BOXES = ROOT / "benchmarks/data/000001_mpiinew_test_boxes.json"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Checkpoints (official-layout files and converted folders), a world and a run folder."""
    base = tmp_path_factory.mktemp("detect_cli")
    write_yolox_pth(base / "yolox_dense.pth", DENSE)
    yolox.save_yolox(base / "yolox_small", DENSE, yolox_variables(DENSE))
    yolox.save_yolox(base / "yolox_nobody", DENSE, yolox_variables(DENSE, person=False))
    write_hrnet_pth(base / HRNET_PTH, TINY)
    world, workdir = build_world_and_workdir(base)
    return {"base": base, "world": world, "workdir": workdir}


def _run(*args):
    result = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def _entries_are_coco(entries, image_ids):
    for e in entries:
        assert set(e) == {"image_id", "category_id", "bbox", "score"}
        assert e["image_id"] in image_ids and e["category_id"] == 1
        assert len(e["bbox"]) == 4 and e["bbox"][2] > 0 and e["bbox"][3] > 0
        assert 0 < e["score"] <= 1


def test_detect_video_from_the_official_file(setup, tmp_path):
    out = tmp_path / "dets.json"
    result = _run("-m", "gnnpose_jax.detect", CLIP, "--detector",
                  setup["base"] / "yolox_dense.pth", "--output", out)
    entries = json.loads(out.read_text())
    _entries_are_coco(entries, set(range(CLIP_FRAMES)))
    assert {e["image_id"] for e in entries} == set(range(CLIP_FRAMES))
    assert f"{len(entries)} person boxes in 5 of 5 frames" in result.stdout
    assert "detecting" in result.stderr  # the progress bar
    # What `track --detections` reads: every frame of the video finds its boxes.
    dets = posetrack.read_detections(out)
    assert set(dets) == set(range(CLIP_FRAMES))
    assert sum(len(b) for b in dets.values()) == len(entries)


def test_detect_frame_folder_keys_by_file_name(setup, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for name in ("000000.jpg", "000001.jpg"):
        shutil.copy(CLIP_DIR / name, frames / name)
    out = tmp_path / "dets.json"
    _run("-m", "gnnpose_jax.detect", frames, "--detector", setup["base"] / "yolox_small",
         "--nms", "0.5", "--output", out)
    entries = json.loads(out.read_text())
    _entries_are_coco(entries, {"000000.jpg", "000001.jpg"})
    by_frame = posetrack.read_detections(out)
    assert set(by_frame) == {"000000.jpg", "000001.jpg"}
    # The random detector ignores the image: the same boxes in frame pixels in both frames.
    np.testing.assert_allclose(by_frame["000000.jpg"], by_frame["000001.jpg"])
    assert FrameSource(frames / "000001.jpg").image_ids() == ["000001.jpg"]


def test_track_from_official_files_alone(setup, tmp_path):
    video, pred = tmp_path / "tracked.mp4", tmp_path / "pred.json"
    result = _run("-m", "gnnpose_jax.track", CLIP, "--detector",
                  setup["base"] / "yolox_dense.pth", "--hrnet", setup["base"] / HRNET_PTH,
                  "--render", video, "--output", pred)
    assert "HRNet-W8 at 64x64, COCO joints" in result.stdout
    assert "5 frames at" in result.stdout and "boxes" in result.stdout
    assert cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT) == CLIP_FRAMES
    assert video.with_suffix(".png").is_file()
    frames = posetrack.read_sequence(pred).frames
    assert len(frames) == CLIP_FRAMES and all(f.people for f in frames)


def test_track_detections_file_with_a_gnn_run(setup, tmp_path):
    """A pose checkpoint with a GNN run (which keeps its own HRNet's features), on the clip's
    hand-drawn boxes (a detection file keyed by frame names)."""
    pred = tmp_path / "pred.json"
    result = _run("-m", "gnnpose_jax.track", CLIP, "--detections", CLIP_BOXES, "--hrnet",
                  setup["base"] / HRNET_PTH, "--joints", "posetrack", "--gnn",
                  setup["workdir"], "--output", pred)
    assert "PoseTrack joints (as asked)" in result.stdout
    frames = posetrack.read_sequence(pred).frames
    assert len(frames) == CLIP_FRAMES and all(f.people for f in frames)


def test_evaluate_tracker_mode_with_the_detector_of_a_run(setup, tmp_path):
    """`--detector` also takes a detector training run's folder: its `yolox/` export."""
    run = tmp_path / "detector_run"
    run.mkdir()
    (run / "yolox").symlink_to(setup["base"] / "yolox_small", target_is_directory=True)
    out = tmp_path / "m.json"
    _run("evaluate.py", "--config", "configs/synthetic_gnn.py", "--workdir", setup["workdir"],
         "--data", setup["world"], "--no-gnn", "--boxes", "detector", "--detector", run,
         "--metrics", out)
    tracking = json.loads(out.read_text())["tracking"]
    assert tracking["frames"] == 12 and tracking["seconds_boxes"] > 0


def test_nobody_found_is_an_empty_valid_result(setup, tmp_path):
    """A video without people (blank frames) and a detector that finds no one anywhere."""
    blank = tmp_path / "blank.mp4"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"mp4v"), 10, (128, 96))
    for _ in range(3):
        writer.write(np.full((96, 128, 3), 90, np.uint8))
    writer.release()
    nobody = setup["base"] / "yolox_nobody"
    dets = tmp_path / "dets.json"
    result = _run("-m", "gnnpose_jax.detect", blank, "--detector", nobody, "--output", dets)
    assert json.loads(dets.read_text()) == [] and posetrack.read_detections(dets) == {}
    assert "0 person boxes in 0 of 3 frames" in result.stdout

    video, pred = tmp_path / "tracked.mp4", tmp_path / "pred.json"
    _run("-m", "gnnpose_jax.track", CLIP, "--detector", nobody, "--hrnet",
         setup["base"] / HRNET_PTH, "--render", video, "--output", pred)
    frames = posetrack.read_sequence(pred).frames
    assert len(frames) == CLIP_FRAMES and not any(f.people for f in frames)
    assert cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT) == CLIP_FRAMES


# --- in process: loaders and the joint mapping ---------------------------------------------


def test_official_file_loads_as_its_conversion(setup, tmp_path):
    """In-memory conversion gives the variables `convert_weights` writes, folded alike."""
    yolox_convert.convert_checkpoint(setup["base"] / "yolox_dense.pth", tmp_path / "yolox")
    from_file, from_folder = (pretrained.load_detector(p)
                              for p in (setup["base"] / "yolox_dense.pth", tmp_path / "yolox"))
    assert from_file[0] == from_folder[0] and from_file[0].fold_bn
    for a, b in zip(*(jax_leaves(v) for v in (from_file[1], from_folder[1])), strict=True):
        np.testing.assert_array_equal(a, b)

    hrnet_convert.convert_checkpoint(setup["base"] / HRNET_PTH, tmp_path / "hrnet")
    pose_file = pretrained.load_pose_network(setup["base"] / HRNET_PTH)
    pose_folder = pretrained.load_pose_network(tmp_path / "hrnet")
    assert pose_file.module == pose_folder.module and pose_file.input_hw == (64, 64)
    assert pose_folder.input_hw == (64, 64)
    for a, b in zip(*(jax_leaves(p.variables) for p in (pose_file, pose_folder)), strict=True):
        np.testing.assert_array_equal(a, b)


def jax_leaves(tree):
    import jax

    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_joint_layout_is_inferred_from_the_checkpoint(setup, tmp_path):
    pth = setup["base"] / HRNET_PTH
    assert pretrained.load_pose_network(pth).joint_layout == "coco"
    assert pretrained.load_pose_network(pth, "posetrack").joint_layout == "posetrack"
    named = tmp_path / "hrnet_w8_posetrack18_64x64.pth"
    shutil.copy(pth, named)
    assert pretrained.load_pose_network(named).joint_layout == "posetrack"
    # The converter records what the name says; training exports record PoseTrack.
    hrnet_convert.convert_checkpoint(pth, tmp_path / "coco_dir")
    hrnet_convert.convert_checkpoint(named, tmp_path / "converted")
    assert hrnet.read_hrnet_json(tmp_path / "coco_dir")["joints"] == "coco"
    assert pretrained.load_pose_network(tmp_path / "converted").layout_reason == \
        "recorded in hrnet.json"
    run_hrnet = setup["workdir"] / "hrnet"  # written by save_hrnet without a layout
    assert pretrained.load_pose_network(run_hrnet).joint_layout == "coco"
    networks = load_networks(setup["workdir"], use_gnn=False)
    assert networks.estimator.joint_layout == "posetrack"


def test_gnn_features_come_from_its_own_hrnet(setup):
    own = load_networks(setup["workdir"], hrnet=setup["workdir"] / "hrnet")
    assert own.gnn_features is None
    other = load_networks(setup["workdir"], hrnet=setup["base"] / HRNET_PTH)
    assert other.gnn_features is not None and other.estimator.joint_layout == "coco"
    assert other.predictor().estimator is other.gnn_features


def test_dtype_flag_reaches_every_network(setup, tmp_path):
    """`--dtype bfloat16` on `detect` and `track` (the run's exports record float32)."""
    out = tmp_path / "dets.json"
    result = _run("-m", "gnnpose_jax.detect", CLIP_DIR / "000000.jpg", "--detector",
                  setup["base"] / "yolox_small", "--dtype", "bfloat16", "--output", out)
    assert "detector: YOLOX in bfloat16" in result.stdout
    entries = json.loads(out.read_text())
    assert entries
    _entries_are_coco(entries, {"000000.jpg"})

    pred = tmp_path / "pred.json"
    result = _run("-m", "gnnpose_jax.track", CLIP, "--detections", CLIP_BOXES, "--gnn",
                  setup["workdir"], "--dtype", "bfloat16", "--output", pred)
    assert "PoseTrack joints (assumed: the checkpoint does not say), bfloat16" in result.stdout
    frames = posetrack.read_sequence(pred).frames
    assert len(frames) == CLIP_FRAMES and all(f.people for f in frames)

    import jax.numpy as jnp

    recorded = load_networks(setup["workdir"], hrnet=setup["base"] / HRNET_PTH)
    assert recorded.pose.module.dtype == recorded.gnn.module.dtype == jnp.float32
    asked = load_networks(setup["workdir"], hrnet=setup["base"] / HRNET_PTH, dtype="bfloat16")
    assert asked.pose.module.dtype == asked.gnn.module.dtype == jnp.bfloat16
