"""evaluate.py's tracker mode and `python -m gnnpose_jax.track`, end to end on a tiny world
with small random networks (the plumbing, not the quality: that is the demo's job)."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import jax
import numpy as np
import pytest

from gnnpose_jax.data import posetrack, synthetic
from gnnpose_jax.graphs import CandidateGrid, GraphSpec, batch_graphs, build_graph, graph_budget
from gnnpose_jax.models import hrnet
from gnnpose_jax.models.gnn import GnnConfig, GnnPose
from gnnpose_jax.models.run_folder import export_gnn

ROOT = Path(__file__).resolve().parents[1]
INPUT_HW = (64, 64)
TINY = hrnet.HRNetConfig(width=8, stem_channels=16, layer1_blocks=1, layer1_planes=16,
                         stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1))


def _random_like(abstract, seed: int):
    """NumPy-random variables shaped like `abstract`, so that no init has to be compiled:
    kernels N(0, 1/fan_in), BN variances and scales 1, means and biases 0."""
    rng = np.random.default_rng(seed)

    def leaf(path, x):
        name = jax.tree_util.keystr(path)
        if name.endswith(("['var']", "['scale']")):
            return np.ones(x.shape, x.dtype)
        if name.endswith(("['mean']", "['bias']")):
            return np.zeros(x.shape, x.dtype)
        return rng.normal(0.0, np.prod(x.shape[:-1]) ** -0.5, x.shape).astype(x.dtype)

    return jax.tree_util.tree_map_with_path(leaf, abstract)


def build_world_and_workdir(base: Path) -> tuple[Path, Path]:
    """A 2-video, 6-frame val world in `base/world` and random tiny exports in `base/run`."""
    world = base / "world"
    synthetic.generate_world(world, seed=1, num_videos=2, split="val", num_frames=6,
                             image_hw=(96, 128))
    workdir = base / "run"
    variables = _random_like(hrnet.init_hrnet_abstract(TINY)[1], seed=0)
    hrnet.save_hrnet(workdir / "hrnet", TINY, variables, INPUT_HW)
    spec = GraphSpec(CandidateGrid((INPUT_HW[0] // 4, INPUT_HW[1] // 4), stride=2), history=2)
    config = GnnConfig(spec, hidden=16, layers=1, heads=2)
    graphs = batch_graphs([build_graph(spec, np.zeros((2, 17, 3)), np.tile(np.eye(2, 3), (2, 1, 1)),
                                       np.eye(2, 3), np.array([0, 0, 10, 10]))],
                          graph_budget(spec, 1))
    features = np.zeros((1, 3, 16, 16, 3 * TINY.width), np.float32)
    params = _random_like(jax.eval_shape(GnnPose(config).init, jax.random.key(1), graphs,
                                         features)["params"], seed=1)
    export_gnn(workdir / "gnn", config, params, str(workdir / "hrnet"), INPUT_HW)
    return world, workdir


@pytest.fixture(scope="module")
def world_and_workdir(tmp_path_factory):
    return build_world_and_workdir(tmp_path_factory.mktemp("tracking"))


def _run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def _one_line_error(result, *needles):
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_evaluate_tracker_mode_compares_baseline(world_and_workdir, tmp_path):
    world, workdir = world_and_workdir
    out, preds, render = tmp_path / "out.json", tmp_path / "preds", tmp_path / "render"
    result = _run("evaluate.py", "--config", "configs/synthetic_gnn.py", "--workdir",
                  str(workdir), "--data", str(world), "--compare-baseline", "--output", str(out),
                  "--predictions-out", str(preds), "--render", str(render))
    assert result.returncode == 0, result.stderr
    assert "AP diff" in result.stdout and "MOTA diff" in result.stdout
    metrics = json.loads(out.read_text())
    assert set(metrics) == {"baseline", "gnn"}
    assert metrics["gnn"]["tracking"]["frames"] == 12
    for name in ("baseline", "gnn"):
        seqs = posetrack.read_sequences(preds / name)
        assert len(seqs) == 2 and all(len(s.frames) == 6 for s in seqs)
    first = sorted(p.stem for p in (world / "annotations/val").iterdir())[0]
    assert (render / f"{first}.mp4").is_file() and (render / f"{first}.png").is_file()


def _frame_detections(world, tmp_path):
    """The world's detections of its first val video, re-keyed by frame index."""
    seq = posetrack.read_sequences(world / "annotations/val")[0]
    dets = posetrack.read_detections(world / "detections/val.json")
    by_index = {f.frame_index: dets.get(f.image_id, np.zeros((0, 5))) for f in seq.frames}
    path = tmp_path / "dets.json"
    posetrack.write_detections(by_index, path)
    return world / "images/val" / seq.name, path


def test_track_cli_renders_and_writes(world_and_workdir, tmp_path):
    world, workdir = world_and_workdir
    frames, dets = _frame_detections(world, tmp_path)
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
    frames, dets = _frame_detections(world, tmp_path)
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
    frames, dets = _frame_detections(world, tmp_path)
    out = tmp_path / "o.json"

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    _one_line_error(_run("-m", "gnnpose_jax.track", str(broken), "--workdir", str(workdir),
                         "--detections", str(dets), "--output", str(out)), "broken.mp4")

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "000000.jpg"), np.zeros((96, 128, 3), np.uint8))
    cv2.imwrite(str(mixed / "000001.jpg"), np.zeros((64, 128, 3), np.uint8))
    _one_line_error(_run("-m", "gnnpose_jax.track", str(mixed), "--workdir", str(workdir),
                         "--detections", str(dets), "--output", str(out),
                         "--render", str(tmp_path / "r.mp4")), "000001.jpg", "differs")
    assert not (tmp_path / "r.mp4").exists()

    other = tmp_path / "other.json"
    posetrack.write_detections({"elsewhere.jpg": np.array([[0, 0, 5, 5, 0.9]])}, other)
    _one_line_error(_run("-m", "gnnpose_jax.track", str(frames), "--workdir", str(workdir),
                         "--detections", str(other), "--output", str(out)),
                    "no detection belongs to these frames")

    _one_line_error(_run("-m", "gnnpose_jax.track", str(frames), "--workdir", str(tmp_path),
                         "--detections", str(dets), "--output", str(out)), "no GNN export")
    assert not out.exists()
