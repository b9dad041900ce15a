"""Tracking a whole dataset split: models from a run's exports, frames from a PoseTrack folder.

A PoseTrack-layout folder holds `annotations/{split}/*.json`, the frames they name (paths
relative to the folder) and optionally `detections/{split}.json` (COCO detection results), as
the synthetic generator writes it and as the official release is laid out (plus a detections
file of your own).
"""

from __future__ import annotations

import collections
import contextlib
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gnnpose_jax.data import folders, posetrack
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.errors import CheckpointError, ConfigError, DataError
from gnnpose_jax.graphs import GraphSpec
from gnnpose_jax.models.gnn_io import GnnExport
from gnnpose_jax.models.pretrained import PoseNetwork, load_pose_network
from gnnpose_jax.models.run_folder import GNN_EXPORT, HRNET_EXPORT, load_gnn
from gnnpose_jax.models.topdown import TopDownEstimator
from gnnpose_jax.tracking.run import (
    check_detections_match,
    detection_boxes,
    detector_boxes,
    gt_boxes,
    read_frames,
    track_sequence,
    warn_dropped_boxes,
)
from gnnpose_jax.tracking.tracker import OnlineTracker, TrackerConfig
from gnnpose_jax.tracking.video import Renderer


class TrackerModels:
    """The networks a tracker runs: HRNet always, the GNN unless disabled.

    Args:
      estimator: the pose estimator.
      gnn: the run's GNN export when the GNN runs, else None.
      gnn_features: the HRNet the GNN was trained on, when it is not `estimator`'s: the GNN's
        crop features come from it.
      pose: what `estimator` runs (for the log).
      max_tracks: the most tracks per GNN call.
      gnn_spec: the graph settings of the run's GNN export, also when the GNN does not run
        (the baseline of a GNN run): the tracker's n and τ_joint
        (`tracking.config.tracker_config`).
    """

    def __init__(self, estimator: TopDownEstimator, gnn: GnnExport | None = None,
                 gnn_features: TopDownEstimator | None = None, pose: PoseNetwork | None = None,
                 max_tracks: int = 16, gnn_spec: GraphSpec | None = None):
        self.estimator, self.gnn, self.gnn_features = estimator, gnn, gnn_features
        self.pose, self.max_tracks = pose, max_tracks
        self.gnn_spec = gnn.spec if gnn is not None else gnn_spec
        self._predictor = None

    def predictor(self):
        """A fresh GNN predictor (its feature cache is per video), or None.

        Every predictor shares the first one's compiled network, so only the first video
        compiles.
        """
        if self.gnn is None:
            return None
        if self._predictor is None:
            from gnnpose_jax.tracking.gnn_predictor import GnnPredictor

            self._predictor = GnnPredictor.from_export(self.gnn_features or self.estimator,
                                                       self.gnn, self.max_tracks)
        return self._predictor.fresh()


def load_models(workdir: str | Path | None, use_gnn: bool = True, batch_size: int = 8,
                max_tracks: int = 16, flip_test: bool = False, hrnet: str | Path | None = None,
                joint_layout: str | None = None, dtype: str | None = None) -> TrackerModels:
    """Loads the tracker's networks: a training run's exports, a pose checkpoint, or both.

    A GNN run's `gnn/` export names the HRNet it was trained on; an HRNet run's workdir has
    `hrnet/` only (then only the baseline can run). `hrnet`, a converted folder or an official
    file (`pretrained.load_pose_network`), estimates the poses instead of the run's HRNet; the
    GNN still computes its crop features with the HRNet it was trained on.

    Args:
      workdir: the training run, or None (then `hrnet` is required and there is no GNN).
      use_gnn: load the run's GNN.
      batch_size, flip_test: of the pose estimator.
      max_tracks: the most tracks per GNN call.
      hrnet: a pose checkpoint to estimate with (its joint layout inferred unless given).
      joint_layout: "coco" or "posetrack", overriding the inferred layout.
      dtype: compute dtype of every network, "float32" or "bfloat16"; None: each runs in the
        one its export records (float32 for official and converted weights).

    Raises:
      CheckpointError: the workdir holds neither export, the GNN is asked for and absent, or
        a checkpoint is damaged, of the wrong kind or not 17 joints.
    """
    gnn, gnn_spec, run_hrnet = None, None, None
    if workdir is not None:
        workdir = Path(workdir)
        gnn_dir, run_hrnet = workdir / GNN_EXPORT, workdir / HRNET_EXPORT
        if gnn_dir.is_dir():
            export = load_gnn(gnn_dir, dtype)
            run_hrnet, gnn_spec = export.hrnet_checkpoint, export.spec
            if use_gnn:
                gnn = export
        elif use_gnn:
            raise CheckpointError(f"{workdir}: no GNN export ({GNN_EXPORT}/); train one with a "
                                  "GNN config, or pass --no-gnn for the baseline")
        if (hrnet is None or gnn is not None) and not run_hrnet.is_dir():
            raise CheckpointError(f"{workdir}: no HRNet checkpoint (looked for {run_hrnet}); "
                                  "run train.py with an HRNet config or convert_weights first")
    elif hrnet is None:
        raise CheckpointError("no pose network: pass an HRNet checkpoint or a training run")

    def estimator(pose) -> TopDownEstimator:
        return TopDownEstimator(pose.module, pose.variables, pose.input_hw, batch_size,
                                flip_test, pose.joint_layout)

    pose = (load_pose_network(hrnet, joint_layout, dtype=dtype) if hrnet is not None
            else load_pose_network(run_hrnet, joint_layout, default_layout="posetrack",
                                   dtype=dtype))
    gnn_features = None
    if gnn is not None and pose.path.resolve() != run_hrnet.resolve():
        gnn_features = estimator(load_pose_network(run_hrnet, default_layout="posetrack",
                                                   dtype=dtype))
    return TrackerModels(estimator(pose), gnn, gnn_features, pose, max_tracks, gnn_spec)


def read_split(root: Path, split: str) -> list[Sequence]:
    """The annotated sequences of `root/annotations/split`."""
    folder = root / "annotations" / split
    if not folder.is_dir():
        raise DataError(f"{folder}: no such annotations folder (expected a PoseTrack-layout "
                        f"folder with annotations/{split}/*.json)")
    sequences = posetrack.read_sequences(folder)
    if not sequences:
        raise DataError(f"{folder}: no sequences")
    return sequences


def box_source(root: Path, split: str, sequences: list[Sequence], boxes: str,
               detections: Path | None, detector: Path | None = None,
               dtype: str | None = None):
    """Boxes per frame: "gt" (oracle), "detections" (a COCO detection file: `detections`, else
    `root/detections/{split}.json`) or "detector" (YOLOX person boxes found by the `detector`
    checkpoint, a converted folder or an official file, at the official demo thresholds, in
    compute dtype `dtype`: None for the recorded one)."""
    if boxes == "gt":
        return gt_boxes
    if boxes == "detector":
        from gnnpose_jax.models.detect import PersonDetector
        from gnnpose_jax.models.pretrained import load_detector

        return detector_boxes(PersonDetector(*load_detector(detector, dtype=dtype)))
    path = detections or root / "detections" / f"{split}.json"
    if not path.is_file():
        raise DataError(f"{path}: no detections file (pass --detections FILE or --boxes gt)")
    dets = posetrack.read_detections(path)
    check_detections_match(dets, sequences, str(path))
    return detection_boxes(dets)


def track_split(models: TrackerModels, config: TrackerConfig, root: Path,
                sequences: list[Sequence], boxes_for, use_gnn: bool, desc: str = "tracking",
                render_dir: Path | None = None, render_limit: int = 1
                ) -> tuple[list[Sequence], dict[str, float]]:
    """Runs a fresh tracker over every sequence; returns predictions and timing figures
    (frames, seconds, fps, and seconds per stage: boxes, hrnet, gnn, match).

    With `render_dir`, the first `render_limit` sequences are also rendered to
    `render_dir/<sequence>.mp4`, plus `render_dir/<sequence>.png`: the frame with the most
    GNN-recovered people.
    """
    predictions, timings, dropped = [], collections.Counter(), 0
    total = sum(len(s.frames) for s in sequences)
    bar = tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True)
    t0 = time.perf_counter()
    for i, sequence in enumerate(sequences):
        tracker = OnlineTracker(models.estimator, config,
                                models.predictor() if use_gnn else None)
        images = _counted(read_frames(root, sequence), bar)
        rendering = (Renderer(render_dir / sequence.name, config.joint_threshold)
                     if render_dir is not None and i < render_limit
                     else contextlib.nullcontext())
        with rendering as renderer:
            pred, _, seq_stats = track_sequence(tracker, sequence, images, boxes_for,
                                                np.asarray(config.output_thresholds), renderer)
        predictions.append(pred)
        timings.update(tracker.timings)
        timings["boxes"] += seq_stats["seconds_boxes"]
        dropped += tracker.dropped_boxes
    elapsed = time.perf_counter() - t0
    bar.close()
    warn_dropped_boxes(dropped)
    stats = {"frames": total, "seconds": elapsed, "fps": total / max(elapsed, 1e-9)}
    stats.update({f"seconds_{k}": v for k, v in timings.items()})
    return predictions, stats


def _counted(images, bar):
    for image in images:
        yield image
        bar.update(1)


def dataset_folder(data, workdir: str | Path, override: Path | None = None) -> Path:
    """The PoseTrack-layout folder to track: `--data`, else `data.folders.posetrack_folder`.

    Args:
      data: the run config's `data` section.
      workdir: the run's folder (home of a synthetic world generated with an empty data.root).
      override: an explicit folder.
    """
    if override is not None:
        return Path(override)
    try:
        return folders.posetrack_folder(data, workdir)
    except ConfigError as e:
        raise DataError(f"{e}: pass --data DIR (a PoseTrack-layout folder)") from None
