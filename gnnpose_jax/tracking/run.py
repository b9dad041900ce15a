"""Running the tracker over whole sequences, and turning its outputs into PoseTrack files.

`track_frames` is the one way every command tracks a sequence: the networks, the tracker
settings, the frames and their person boxes in; the tracked poses out.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gnnpose_jax.data import transforms
from gnnpose_jax.data.transforms import MAX_BOX_FRAMES
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.tracking.boxes import BoxSource
from gnnpose_jax.tracking.tracker import (
    OnlineTracker,
    TrackedPose,
    TrackerConfig,
    output_keypoints,
    warn_capped_boxes,
)
from gnnpose_jax.tracking.video import Renderer

if TYPE_CHECKING:  # it imports JAX
    from gnnpose_jax.tracking.networks import TrackerNetworks


def track_frames(networks: TrackerNetworks, config: TrackerConfig, sequence: Sequence,
                 images: Iterable[np.ndarray], boxes_for: BoxSource, use_gnn: bool,
                 renderer: Renderer | None = None) -> tuple[Sequence, dict[str, float]]:
    """Tracks one sequence with a fresh tracker.

    Args:
      networks: the HRNet (and GNN) to track with, and the run's pose bounds and merge table.
      config: the tracker settings.
      sequence: the frames to track (their people are ignored; only names and ids are used).
      images: (H, W, 3) uint8 RGB images, one per frame, in order.
      boxes_for: person boxes (N, 5) for a frame and its image (`boxes.box_source`).
      use_gnn: with the GNN (`networks` must hold one), else the baseline tracker.
      renderer: draws each frame's tracks (a `video.Renderer`, entered here), or None.

    Returns:
      (predictions as a Sequence with the same frames, figures: frames, seconds,
      seconds_boxes, seconds per tracker stage (`seconds_hrnet`, ...) and dropped_boxes, the
      person boxes the tracker could not crop).
    """
    tracker = OnlineTracker(networks.estimator, config,
                            networks.predictor() if use_gnn else None, networks.bounds,
                            networks.merge_table)
    with renderer if renderer is not None else contextlib.nullcontext():
        predictions, _, stats = track_sequence(tracker, sequence, images, boxes_for,
                                               np.asarray(config.output_thresholds), renderer)
    stats.update({f"seconds_{k}": v for k, v in tracker.timings.items()})
    stats["dropped_boxes"] = tracker.dropped_boxes
    return predictions, stats


def to_person(output: TrackedPose, thresholds) -> Person | None:
    """A PoseTrack person from a tracker output; None if no joint passes its threshold."""
    keypoints = output_keypoints(output.pose, thresholds)
    present = keypoints[:, 2] > 0
    if not present.any():
        return None
    return Person(keypoints=keypoints, track_id=int(output.track_id),
                  scores=np.where(present, output.pose.scores, 0.0),
                  box=np.array(transforms.box_from_keypoints(keypoints)), score=output.pose.score,
                  extra={"recovered": bool(output.recovered)})


def warn_dropped_boxes(count: int) -> None:
    """Logs how many person boxes the tracker dropped as unusable, if any."""
    if count:
        logging.getLogger(__name__).warning(
            "dropped %d person box(es) that cannot be cropped (a non-finite number, no positive "
            "width and height, wholly outside the frame, or more than %g frame sizes large or "
            "away)", count, MAX_BOX_FRAMES)


def track_sequence(tracker: OnlineTracker, sequence: Sequence,
                   images: Iterable[np.ndarray], boxes_for: BoxSource, thresholds,
                   on_frame: Callable[[np.ndarray, list[TrackedPose]], None] | None = None
                   ) -> tuple[Sequence, list[list[TrackedPose]], dict[str, float]]:
    """Steps a given tracker through one sequence, frame by frame (`track_frames` makes the
    tracker from the networks).

    Args:
      tracker: a fresh tracker.
      sequence: the frames to track (their people are ignored; only names and ids are used).
      images: (H, W, 3) uint8 RGB images, one per frame, in order.
      boxes_for: person boxes (N, 5) for a frame and its image.
      thresholds: per-joint output score thresholds.
      on_frame: called with each image and its outputs (e.g. a `video.Renderer`).

    Returns:
      (predictions as a Sequence with the same frames, raw outputs per frame, timing: frames,
      seconds, and seconds_boxes spent in `boxes_for`).
    """
    frames_out, raw = [], []
    t0 = time.perf_counter()
    box_seconds = 0.0
    for frame, image in zip(sequence.frames, images, strict=True):
        t_boxes = time.perf_counter()
        boxes = boxes_for(frame, image)
        box_seconds += time.perf_counter() - t_boxes
        outputs = tracker.step(frame.frame_index, image, boxes)
        if on_frame is not None:
            on_frame(image, outputs)
        raw.append(outputs)
        people = [p for o in outputs if (p := to_person(o, thresholds)) is not None]
        frames_out.append(Frame(file_name=frame.file_name, frame_index=frame.frame_index,
                                is_labeled=frame.is_labeled, people=people,
                                image_id=frame.image_id, extra=dict(frame.extra)))
    warn_capped_boxes(tracker.capped_boxes, sequence.name)
    elapsed = time.perf_counter() - t0
    return (Sequence(sequence.name, frames_out, dict(sequence.extra)), raw,
            {"frames": len(frames_out), "seconds": elapsed, "seconds_boxes": box_seconds})


def read_frames(root: Path, sequence: Sequence) -> Iterator[np.ndarray]:
    """The images of a sequence's frames, read lazily from `root / frame.file_name`."""
    for frame in sequence.frames:
        yield transforms.read_image_rgb(root / frame.file_name)


def counted(images: Iterable[np.ndarray], bar) -> Iterator[np.ndarray]:
    """The images, moving the progress bar `bar` by one for each."""
    for image in images:
        yield image
        bar.update(1)
