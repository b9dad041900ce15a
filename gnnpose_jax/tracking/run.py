"""Running the tracker over whole sequences, and turning its outputs into PoseTrack files."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from gnnpose_jax.data import transforms
from gnnpose_jax.data.transforms import MAX_BOX_FRAMES
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError
from gnnpose_jax.tracking.tracker import (
    OnlineTracker,
    TrackedPose,
    output_keypoints,
    warn_capped_boxes,
)

#: Person boxes (N, 5) [x, y, w, h, score] for a frame, given its record and its RGB image.
BoxSource = Callable[[Frame, np.ndarray], np.ndarray]


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


def gt_boxes(frame: Frame, image: np.ndarray | None = None) -> np.ndarray:
    """Oracle boxes: each GT person's box (from its joints when the file has none)."""
    rows = []
    for person in frame.people:
        if person.box is not None:
            rows.append([*person.box, 1.0])
        elif person.present.any():
            rows.append([*transforms.box_from_keypoints(person.keypoints,
                                                        present=person.present), 1.0])
    return np.array(rows, np.float64).reshape(-1, 5)


def detection_boxes(detections: dict) -> BoxSource:
    """Boxes from a `read_detections` mapping, by image id, file name, or file base name."""
    def boxes(frame: Frame, image: np.ndarray | None = None) -> np.ndarray:
        for key in (frame.image_id, frame.file_name, Path(frame.file_name).name):
            if key is not None and key in detections:
                return detections[key]
        return np.zeros((0, 5))
    return boxes


def detector_boxes(detector: Callable[[np.ndarray], np.ndarray]) -> BoxSource:
    """Boxes found in each frame's image by `detector` (e.g. a `models.detect.PersonDetector`)."""
    return lambda frame, image: detector(image)


def warn_dropped_boxes(count: int) -> None:
    """Logs how many person boxes the tracker dropped as unusable, if any."""
    if count:
        logging.getLogger(__name__).warning(
            "dropped %d person box(es) that cannot be cropped (a non-finite number, no positive "
            "width and height, wholly outside the frame, or more than %g frame sizes large or "
            "away)", count, MAX_BOX_FRAMES)


def check_detections_match(detections: dict, sequences: list[Sequence], source: str) -> None:
    """Refuses a detections file none of whose images belong to these sequences."""
    keys = {k for s in sequences for f in s.frames
            for k in (f.image_id, f.file_name, Path(f.file_name).name)}
    if detections and not keys & set(detections):
        sample = next(iter(detections))
        raise DataError(f"{source}: no detection belongs to these frames (first image key "
                        f"{sample!r}; expected image ids or file names of the annotations)")


def track_sequence(tracker: OnlineTracker, sequence: Sequence,
                   images: Iterable[np.ndarray], boxes_for: BoxSource, thresholds,
                   on_frame: Callable[[np.ndarray, list[TrackedPose]], None] | None = None
                   ) -> tuple[Sequence, list[list[TrackedPose]], dict[str, float]]:
    """Tracks one sequence frame by frame.

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
