"""Inference follows the GNN export: for each setting inference must repeat of training, a run
exported with a non-default value makes the tracker use that value.

Each case exports a tiny random GNN with one setting changed, loads the run as the tracker does
(`tracking.networks.load_networks`), runs the predictor on one track, and checks its crops and
graph against the training window of the same pose (`data.windows.make_window`, no
augmentation) and its decoding against the setting.
"""

import collections
import json

import jax
import numpy as np
import pytest

from benchmarks.random_weights import random_like
from gnnpose_jax.data import transforms, windows
from gnnpose_jax.errors import CheckpointError, ConfigError
from gnnpose_jax.graphs import CandidateGrid, GraphSpec, batch_graphs, build_graph, graph_budget
from gnnpose_jax.models import hrnet, run_folder
from gnnpose_jax.models.gnn import GnnConfig, GnnPose
from gnnpose_jax.models.gnn_io import GNN_JSON, CropSettings, load_gnn
from gnnpose_jax.tracking import gnn_predictor
from gnnpose_jax.tracking.config import tracker_config
from gnnpose_jax.tracking.networks import load_networks
from gnnpose_jax.tracking.tracker import Pose, Track, TrackedPose
from tests.helpers.tiny_runs import TINY

HRNET_HW = (64, 64)
#: The defaults each case departs from in one setting.
DEFAULTS = dict(input_hw=HRNET_HW, box_enlarge=1.25, track_enlarge=1.2, history=3,
                joint_threshold=0.2, stride=2, decode_radius=0)
CASES = {"input_hw": (64, 32), "box_enlarge": 1.5, "track_enlarge": 1.45, "history": 2,
         "joint_threshold": 0.5, "stride": 1, "decode_radius": 2}


@pytest.fixture(scope="module")
def hrnet_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("export_settings") / run_folder.HRNET_EXPORT
    hrnet.save_hrnet(path, TINY, random_like(hrnet.init_hrnet_abstract(TINY)[1], seed=0),
                     HRNET_HW)
    return path


def _export_run(workdir, hrnet_dir, settings):
    """A run folder with `hrnet_dir`'s HRNet and a random GNN exported with `settings`."""
    h, w = settings["input_hw"]
    spec = GraphSpec(CandidateGrid((h // 4, w // 4), stride=settings["stride"]),
                     history=settings["history"], joint_threshold=settings["joint_threshold"],
                     decode_radius=settings["decode_radius"])
    config = GnnConfig(spec, hidden=16, layers=1, heads=2)
    n = spec.history
    graphs = batch_graphs([build_graph(spec, np.zeros((n, 17, 3)), np.tile(np.eye(2, 3), (n, 1, 1)),
                                       np.eye(2, 3), np.array([0, 0, 10, 10]))],
                          graph_budget(spec, 1))
    features = np.zeros((1, n + 1, h // 4, w // 4, 3 * TINY.width), np.float32)
    params = random_like(jax.eval_shape(GnnPose(config).init, jax.random.key(1), graphs,
                                         features)["params"], seed=1)
    run_folder.export_gnn(workdir / run_folder.GNN_EXPORT, config, params, str(hrnet_dir),
                          (h, w), settings["box_enlarge"], settings["track_enlarge"])
    return spec


def _pose() -> np.ndarray:
    """(17, 3) [x, y, score]: a person whose arms and legs score between 0.2 and 0.5, so that
    its box depends on tau_joint."""
    rng = np.random.default_rng(0)
    pose = np.zeros((17, 3))
    pose[:, 0] = rng.uniform(50, 70, 17)
    pose[:, 1] = rng.uniform(20, 50, 17)
    pose[:, 2] = 0.9
    pose[7:17:2, :2] = [[30, 60], [35, 70], [90, 75], [40, 85], [85, 90]]
    pose[7:17:2, 2] = 0.35
    return pose


@pytest.mark.parametrize("key", sorted(CASES))
def test_the_tracker_follows_each_exported_setting(key, hrnet_dir, tmp_path, monkeypatch):
    settings = {**DEFAULTS, key: CASES[key]}
    spec = _export_run(tmp_path, hrnet_dir, settings)
    networks = load_networks(tmp_path)
    assert networks.gnn.spec == spec
    assert networks.gnn.crops == CropSettings(settings["input_hw"], settings["box_enlarge"],
                                            settings["track_enlarge"])
    tracker = tracker_config(None, networks.gnn_spec)
    assert (tracker.history, tracker.joint_threshold) == (settings["history"],
                                                          settings["joint_threshold"])

    graphs, radii, crop_sizes = [], [], set()
    build, decode, warp = (gnn_predictor.build_graph, gnn_predictor.decode_poses,
                           transforms.warp_crop)
    monkeypatch.setattr(gnn_predictor, "build_graph",
                        lambda *args: graphs.append(args) or build(*args))
    monkeypatch.setattr(gnn_predictor, "decode_poses",
                        lambda *args, radius: radii.append(radius) or decode(*args, radius=radius))
    monkeypatch.setattr(transforms, "warp_crop",
                        lambda image, m, hw: crop_sizes.add(tuple(hw)) or warp(image, m, hw))

    image = np.random.default_rng(1).integers(0, 255, (120, 128, 3), np.uint8)
    pose = _pose()
    last = Pose(pose[:, :2], pose[:, 2])
    predictor = networks.predictor()
    predictor.observe(image, 0, [TrackedPose(0, last, recovered=False)])
    track = Track(0, collections.deque([(0, last)], maxlen=tracker.history))
    crops = predictor.crops(image, 1, [track])
    assert len(crops) == 2  # the history crop of frame 0, then the current crop
    (predicted,) = predictor.predict(image, 1, [track], networks.estimator.run(crops)[1])
    assert predicted is not None and np.isfinite(predicted.keypoints).all()

    # The training window of the same track, with the exported settings and no augmentation.
    window_config = windows.WindowConfig(
        history=settings["history"], input_hw=settings["input_hw"],
        box_enlarge=settings["box_enlarge"], track_enlarge=settings["track_enlarge"],
        box_threshold=settings["joint_threshold"], history_from_estimates=True)
    n = settings["history"]
    window = windows.make_window([image] * (n + 1), [pose] + [pose] + [None] * (n - 1),
                                 np.random.default_rng(0), window_config, augment=False)
    (used_spec, history, history_affines, current, box), = graphs
    assert used_spec == spec and history.shape == (n, 17, 3)
    np.testing.assert_allclose(current, window.crop_matrices[0], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(history_affines[0], window.crop_matrices[1], rtol=1e-5,
                               atol=1e-4)
    np.testing.assert_allclose(box, window.box, rtol=1e-6, atol=1e-4)
    assert crop_sizes == {settings["input_hw"]}
    assert radii == [settings["decode_radius"]]


def test_a_contradicting_tracker_setting_is_refused(hrnet_dir, tmp_path):
    _export_run(tmp_path, hrnet_dir, {**DEFAULTS, "history": 2, "joint_threshold": 0.3})
    networks = load_networks(tmp_path, use_gnn=False)
    assert networks.gnn is None and networks.gnn_spec.history == 2
    assert tracker_config({"history": 2}, networks.gnn_spec).joint_threshold == 0.3
    for key, value in (("history", 3), ("joint_threshold", 0.2)):
        with pytest.raises(ConfigError, match=f"tracker.{key} {value} contradicts"):
            tracker_config({key: value}, networks.gnn_spec)


def test_exports_without_crop_settings_load_with_the_defaults(hrnet_dir, tmp_path):
    spec = _export_run(tmp_path, hrnet_dir, DEFAULTS)
    meta_path = tmp_path / run_folder.GNN_EXPORT / GNN_JSON
    meta = json.loads(meta_path.read_text())
    assert meta["crops"] == {"box_enlarge": 1.25, "track_enlarge": 1.2,
                             "feature_source": "poses"}
    del meta["crops"]
    meta["format"] = "gnnpose_jax.gnn/1"
    meta_path.write_text(json.dumps(meta))
    old = load_gnn(tmp_path / run_folder.GNN_EXPORT)
    assert old.crops == CropSettings(HRNET_HW, transforms.BOX_ENLARGE, windows.TRACK_ENLARGE)
    assert old.spec == spec and old.hrnet_checkpoint == hrnet_dir


def test_the_feature_source_round_trips_and_older_exports_cut_crops_around_poses(hrnet_dir,
                                                                              tmp_path):
    """An export records where its crops came from; one written before the field (format 2
    without `feature_source`) runs as before, on crops around poses."""
    spec = _export_run(tmp_path, hrnet_dir, DEFAULTS)
    export = tmp_path / run_folder.GNN_EXPORT
    run_folder.export_gnn(export, GnnConfig(spec, hidden=16, layers=1, heads=2),
                          load_gnn(export).variables["params"], str(hrnet_dir), HRNET_HW,
                          feature_source="detections")
    networks = load_networks(tmp_path)
    assert networks.gnn.crops.feature_source == "detections"
    assert networks.predictor().detection_features
    meta = json.loads((export / GNN_JSON).read_text())
    del meta["crops"]["feature_source"]
    (export / GNN_JSON).write_text(json.dumps(meta))
    networks = load_networks(tmp_path)
    assert networks.gnn.crops == CropSettings(HRNET_HW, 1.25, 1.2, "poses")
    assert not networks.predictor().detection_features
    meta["crops"]["feature_source"] = "boxes"
    (export / GNN_JSON).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="feature_source 'boxes'"):
        load_gnn(export)
