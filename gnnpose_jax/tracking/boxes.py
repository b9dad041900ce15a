"""Where the tracker's person boxes come from: GT (an oracle), a COCO detections file, or a
YOLOX person detector. `box_source` makes any of them for the frames to track."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gnnpose_jax.data import posetrack, transforms
from gnnpose_jax.data.types import Frame, Sequence
from gnnpose_jax.errors import ConfigError, DataError

#: Person boxes (N, 5) [x, y, w, h, score] for a frame, given its record and its RGB image.
BoxSource = Callable[[Frame, np.ndarray], np.ndarray]
#: The kinds `box_source` makes.
BOX_KINDS = ("detections", "gt", "detector")
#: The person detector's score and NMS IoU thresholds: the official YOLOX demo's.
DEFAULT_CONF, DEFAULT_NMS = 0.25, 0.45


def box_source(kind: str, sequences: list[Sequence], *, detections: Path | None = None,
               detector: Path | None = None, conf: float = DEFAULT_CONF,
               nms: float = DEFAULT_NMS, frame_indexed: bool = False,
               dtype: str | None = None) -> BoxSource:
    """Person boxes for the frames of `sequences`.

    Args:
      kind: "gt" (each GT person's box, an oracle), "detections" (the COCO detection results
        in `detections`, whose images must belong to `sequences`) or "detector" (boxes found
        in each image by the YOLOX `detector` checkpoint, see
        `networks.load_person_detector`, at the `conf` and `nms` thresholds, in compute dtype
        `dtype`: None for the one its export records).
      sequences: the frames to track.
      frame_indexed: the detections' image ids are the frame indices of the one sequence (a
        video or a frame folder), checked by `check_frame_indices`.

    Raises:
      DataError: a missing or malformed detections file, one none of whose images belongs
        to `sequences`, or (`frame_indexed`) one whose ids are 1-based.
      CheckpointError, ConversionError: a bad detector checkpoint.
    """
    if kind == "gt":
        return gt_boxes
    if kind == "detector":
        from gnnpose_jax.tracking.networks import load_person_detector

        return detector_boxes(load_person_detector(detector, conf, nms, dtype=dtype))
    if kind != "detections":
        raise ValueError(f"unknown box source {kind!r}; expected one of {BOX_KINDS}")
    found = posetrack.read_detections(detections)
    check_detections_match(found, sequences, str(detections))
    if frame_indexed:
        check_frame_indices(found, len(sequences[0].frames), str(detections))
    return detection_boxes(found)



def check_frame_indices(detections: dict, num_frames: int, source: str) -> None:
    """Checks a detection file's integer image ids against frame indices 0..num_frames-1.

    Ids 1..num_frames (one past the last frame, none for the first) are 1-based: every box
    would land one frame early, so they are refused. Other ids that name no frame are counted
    in a warning (their boxes are never used).

    Raises:
      DataError: the ids are 1-based.
    """
    ids = sorted(k for k in detections if isinstance(k, int))
    outside = [k for k in ids if not 0 <= k < num_frames]
    if not outside:
        return
    if ids[0] >= 1 and ids[-1] == num_frames:
        raise DataError(f"{source}: image_id {num_frames} names no frame (the frames are 0.."
                        f"{num_frames - 1}) and no image_id is 0: the ids look 1-based, which "
                        "would shift every box by a frame; expected 0-based frame indices, as "
                        "python -m gnnpose_jax.detect writes (subtract 1 from each image_id)")
    logging.getLogger(__name__).warning(
        "%s: %d image_id(s) name no frame of the %d (such as %d); their boxes are ignored",
        source, len(outside), num_frames, outside[0])

def check_thresholds(conf: float, nms: float) -> None:
    """Refuses detector thresholds outside [0, 1]."""
    for flag, value in (("--conf", conf), ("--nms", nms)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{flag} {value:g}: expected a number in [0, 1]")


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


def check_detections_match(detections: dict, sequences: list[Sequence], source: str) -> None:
    """Refuses a detections file none of whose images belong to these sequences."""
    keys = {k for s in sequences for f in s.frames
            for k in (f.image_id, f.file_name, Path(f.file_name).name)}
    if detections and not keys & set(detections):
        sample = next(iter(detections))
        raise DataError(f"{source}: no detection belongs to these frames (first image key "
                        f"{sample!r}; expected image ids or file names of the annotations)")
