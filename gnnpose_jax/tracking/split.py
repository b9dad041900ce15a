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

from gnnpose_jax.data import posetrack
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.errors import CheckpointError, DataError
from gnnpose_jax.models.hrnet import load_hrnet
from gnnpose_jax.models.topdown import TopDownEstimator
from gnnpose_jax.tracking.run import (
    check_detections_match,
    detection_boxes,
    gt_boxes,
    read_frames,
    track_sequence,
    warn_dropped_boxes,
)
from gnnpose_jax.tracking.tracker import OnlineTracker, TrackerConfig
from gnnpose_jax.tracking.video import Renderer

HRNET_EXPORT, GNN_EXPORT = "hrnet", "gnn"


class TrackerModels:
    """The networks a tracker runs: HRNet always, the GNN unless disabled."""

    def __init__(self, estimator: TopDownEstimator, gnn=None):
        self.estimator, self.gnn = estimator, gnn
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

            module, variables, spec, max_tracks = self.gnn
            self._predictor = GnnPredictor(self.estimator, module, variables, spec, max_tracks)
        return self._predictor.fresh()


def load_models(workdir: str | Path, use_gnn: bool = True, batch_size: int = 8,
                max_tracks: int = 16, flip_test: bool = False) -> TrackerModels:
    """Loads the networks of a training workdir (its `hrnet/` and `gnn/` exports).

    A GNN run's `gnn/` export names the HRNet it was trained on; an HRNet run's workdir has
    `hrnet/` only (then only the baseline can run).

    Raises:
      CheckpointError: the workdir holds neither export, the GNN is asked for and absent, or
        an export is damaged.
    """
    workdir = Path(workdir)
    gnn_dir, hrnet_dir = workdir / GNN_EXPORT, workdir / HRNET_EXPORT
    gnn = None
    if gnn_dir.is_dir():
        from gnnpose_jax.models.gnn_io import load_gnn

        module, variables, meta = load_gnn(gnn_dir)
        hrnet_dir = Path(meta["hrnet_checkpoint"])
        if use_gnn:
            gnn = (module, variables, meta["config"].graph, max_tracks)
    elif use_gnn:
        raise CheckpointError(f"{workdir}: no GNN export ({GNN_EXPORT}/); train one with a "
                              "GNN config, or pass --no-gnn for the baseline")
    if not hrnet_dir.is_dir():
        raise CheckpointError(f"{workdir}: no HRNet checkpoint (looked for {hrnet_dir}); run "
                              "train.py with an HRNet config or convert_weights first")
    try:
        module, variables = load_hrnet(hrnet_dir, fold_bn=True)
    except (OSError, ValueError) as e:
        from gnnpose_jax.models.gnn_io import ignore_orphaned_reads

        ignore_orphaned_reads()
        reason = str(e).splitlines()[0].split(" [tensorstore_spec=")[0]
        raise CheckpointError(f"{hrnet_dir}: HRNet checkpoint is damaged or incomplete "
                              f"({reason})") from None
    from gnnpose_jax.models.hrnet import read_hrnet_json

    input_hw = tuple(read_hrnet_json(hrnet_dir).get("input_hw") or (384, 288))
    estimator = TopDownEstimator(module, variables, input_hw, batch_size, flip_test)
    return TrackerModels(estimator, gnn)


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
               detections: Path | None):
    """Boxes per frame: "gt" (oracle) or "detections" (a COCO detection file)."""
    if boxes == "gt":
        return gt_boxes
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
    """Runs a fresh tracker over every sequence; returns predictions and timing figures.

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
            pred, _, _ = track_sequence(tracker, sequence, images, boxes_for,
                                        np.asarray(config.output_thresholds), renderer)
        predictions.append(pred)
        timings.update(tracker.timings)
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
    """The PoseTrack-layout folder to track: `--data`, else where the run config's data live.

    Args:
      data: the run config's `data` section.
      workdir: the run's folder (home of a synthetic world generated with an empty data.root).
      override: an explicit folder.
    """
    if override is not None:
        return Path(override)
    if data.source == "tfds":
        return Path(data.manual_dir or Path(data.root) / "downloads" / "manual")
    if data.root:
        return Path(data.root).expanduser()
    if data.source == "synthetic":
        return Path(workdir) / "synthetic_world"
    raise DataError("data.root is empty: pass --data DIR (a PoseTrack-layout folder)")
