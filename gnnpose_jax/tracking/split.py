"""Tracking a whole dataset split: frames and annotations from a PoseTrack-layout folder.

A PoseTrack-layout folder holds `annotations/{split}/*.json`, the frames they name (paths
relative to the folder) and optionally `detections/{split}.json` (COCO detection results), as
the synthetic generator writes it and as the official release is laid out (plus a detections
file of your own). The networks come from `networks.load_networks`, the boxes from
`boxes.box_source`, and each sequence is tracked by `run.track_frames`.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

from tqdm import tqdm

from gnnpose_jax.data import folders, posetrack
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.errors import ConfigError, DataError
from gnnpose_jax.tracking.boxes import BoxSource
from gnnpose_jax.tracking.run import counted, read_frames, track_frames, warn_dropped_boxes
from gnnpose_jax.tracking.tracker import TrackerConfig
from gnnpose_jax.tracking.video import Renderer


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


def split_detections(root: Path, split: str, detections: Path | None = None) -> Path:
    """The split's COCO detections file: `detections`, else `root/detections/{split}.json`.

    Raises:
      DataError: the file does not exist.
    """
    path = detections or root / "detections" / f"{split}.json"
    if not path.is_file():
        raise DataError(f"{path}: no detections file (pass --detections FILE or --boxes gt)")
    return path


def track_split(networks, config: TrackerConfig, root: Path, sequences: list[Sequence],
                boxes_for: BoxSource, use_gnn: bool, desc: str = "tracking",
                render_dir: Path | None = None, render_limit: int = 1
                ) -> tuple[list[Sequence], dict[str, float]]:
    """Tracks every sequence (`run.track_frames`) with a `networks.TrackerNetworks`; returns
    predictions and timing figures (frames, seconds, fps, and seconds per stage: boxes,
    hrnet, gnn, match).

    With `render_dir`, the first `render_limit` sequences are also rendered to
    `render_dir/<sequence>.mp4`, plus `render_dir/<sequence>.png`: the frame with the most
    GNN-recovered people.
    """
    predictions, timings, dropped = [], collections.Counter(), 0
    total = sum(len(s.frames) for s in sequences)
    bar = tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True)
    t0 = time.perf_counter()
    for i, sequence in enumerate(sequences):
        renderer = (Renderer(render_dir / sequence.name, config.joint_threshold)
                    if render_dir is not None and i < render_limit else None)
        pred, stats = track_frames(networks, config, sequence,
                                   counted(read_frames(root, sequence), bar), boxes_for,
                                   use_gnn, renderer)
        predictions.append(pred)
        timings.update({k: v for k, v in stats.items() if k.startswith("seconds_")})
        dropped += stats["dropped_boxes"]
    elapsed = time.perf_counter() - t0
    bar.close()
    warn_dropped_boxes(dropped)
    stats = {"frames": total, "seconds": elapsed, "fps": total / max(elapsed, 1e-9)}
    stats.update(timings)
    return predictions, stats


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
