"""Tiny random networks and a tiny synthetic world with a run folder, for the end-to-end tests
of the trackers and command lines (the plumbing, not the quality). Random weights and `.pth`
files come from `benchmarks/random_weights.py`."""

from pathlib import Path

import jax
import numpy as np

from benchmarks.random_weights import random_like
from gnnpose_jax.data import posetrack, synthetic
from gnnpose_jax.graphs import CandidateGrid, GraphSpec, batch_graphs, build_graph, graph_budget
from gnnpose_jax.models import hrnet
from gnnpose_jax.models.gnn import GnnConfig, GnnPose
from gnnpose_jax.models.run_folder import export_gnn
from gnnpose_jax.models.yolox import YoloxConfig
from gnnpose_jax.tracking.merge_table import MERGE_TABLE, MergeTable
from gnnpose_jax.tracking.plausibility import POSE_BOUNDS, PoseBounds
from tests.helpers.walkers import walker_poses

INPUT_HW = (64, 64)
TINY = hrnet.HRNetConfig(width=8, stem_channels=16, layer1_blocks=1, layer1_planes=16,
                         stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1))
#: A tiny non-depthwise YOLOX; converted with a 128 letterbox, as a `.pth` it runs at 640.
DENSE = YoloxConfig(depth=0.33, width=0.125, input_size=128)
HRNET_PTH = "pose_hrnet_tiny_64x64.pth"  # the model zoo's naming: the crop size is read off it


def build_world_and_workdir(base: Path) -> tuple[Path, Path]:
    """A 2-video, 6-frame val world in `base/world`, and in `base/run` random tiny exports,
    pose bounds and a merge table."""
    world = base / "world"
    synthetic.generate_world(world, seed=1, num_videos=2, split="val", num_frames=6,
                             image_hw=(96, 128))
    workdir = base / "run"
    variables = random_like(hrnet.init_hrnet_abstract(TINY)[1], seed=0)
    hrnet.save_hrnet(workdir / "hrnet", TINY, variables, INPUT_HW)
    spec = GraphSpec(CandidateGrid((INPUT_HW[0] // 4, INPUT_HW[1] // 4), stride=2), history=2)
    config = GnnConfig(spec, hidden=16, layers=1, heads=2)
    graphs = batch_graphs([build_graph(spec, np.zeros((2, 17, 3)), np.tile(np.eye(2, 3), (2, 1, 1)),
                                       np.eye(2, 3), np.array([0, 0, 10, 10]))],
                          graph_budget(spec, 1))
    features = np.zeros((1, 3, 16, 16, 3 * TINY.width), np.float32)
    params = random_like(jax.eval_shape(GnnPose(config).init, jax.random.key(1), graphs,
                                         features)["params"], seed=1)
    export_gnn(workdir / "gnn", config, params, str(workdir / "hrnet"), INPUT_HW)
    # The pose bounds GNN training writes beside its export, here fitted on synthetic walkers.
    PoseBounds.fit(*walker_poses(0, 20, frames=10)).save(workdir / POSE_BOUNDS)
    # The merge table `python -m gnnpose_jax.fit_merge` writes there, here of random pairs.
    rng = np.random.default_rng(2)
    scores, right = rng.random((4, 200, 17)), rng.random((3, 200, 17)) > 0.5
    MergeTable.fit(*scores[:2], *right[:2], scores[2] > 0.2, right[2]).save(workdir / MERGE_TABLE)
    return world, workdir


def frame_detections(world, tmp_path):
    """The world's detections of its first val video, re-keyed by frame index."""
    seq = posetrack.read_sequences(world / "annotations/val")[0]
    dets = posetrack.read_detections(world / "detections/val.json")
    by_index = {f.frame_index: dets.get(f.image_id, np.zeros((0, 5))) for f in seq.frames}
    path = tmp_path / "dets.json"
    posetrack.write_detections(by_index, path)
    return world / "images/val" / seq.name, path
