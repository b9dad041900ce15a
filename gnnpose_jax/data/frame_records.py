"""Frame records: one PoseTrack frame as fixed-shape arrays, the layout every dataset writes.

One record per frame (`frame_record`); `SplitPlan` gives one split of a PoseTrack folder as
records with random access, read and checked up front. The TFDS builders (`tfds_posetrack`)
write these records, and `pipeline.folder_source` serves them straight from a folder::

    sequence       str            the sequence (video) name, e.g. `000342_mpii_test`
    frame_index    int64          position of the frame in the video
    image_id       int64          the annotation's image id, -1 if it has none
    image          str            image path relative to the image root (the dataset's), e.g.
                                  `images/val/000342_mpii_test/000010.jpg`; images stay where
                                  they are and are never copied into the records
    is_labeled     bool           whether ground truth exists for the frame
    people/        (P = layout.max_people slots; slots >= count are zeros, track_id -1)
      keypoints    (P, K, 3) f32  [x, y, v] in the 17 slots; an absent joint is (0, 0, 0)
      track_id     (P,) int64
      head_box     (P, 4) f32     [x1, y1, x2, y2], zeros if the file has none
      box          (P, 4) f32     [x, y, w, h]: the file's box, else the tight box of the
                                  annotated joints, else zeros
      count        int64
    detections/    (D = layout.max_detections slots)
      boxes        (D, 5) f32     [x, y, w, h, score] in file order
      count        int64
    ignore_regions/ (R = layout.max_ignore_regions polygons, V = layout.max_ignore_points
                    vertices in all)
      points       (V, 2) f32     [x, y] of every polygon's vertices, one polygon after another
      sizes        (R,) int64     vertices of each polygon; slots >= count are 0
      count        int64

Records hold Tensor features only (`record_features`), so that TFDS writes and reads them
without TensorFlow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from gnnpose_jax.data import posetrack, transforms
from gnnpose_jax.data.joints import NUM_JOINTS
from gnnpose_jax.data.sequence_index import build_index, ordered_frames
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError

#: `image_id` of a frame whose annotation has none.
NO_IMAGE_ID = -1
#: `track_id` of an empty people slot.
NO_TRACK = -1
_BOX = 4
_DETECTION = 5


@dataclasses.dataclass(frozen=True)
class RecordLayout:
    """Fixed padding of a frame record: people slots P, detection slots D, and ignore-region
    polygons R with V vertices in all."""

    max_people: int = 64
    max_detections: int = 100
    max_ignore_regions: int = 16
    max_ignore_points: int = 512


def record_features(layout: RecordLayout) -> tfds.features.FeaturesDict:
    """The TFDS features of a frame record (Tensor features only, no TensorFlow needed)."""
    p, d = layout.max_people, layout.max_detections
    tensor = tfds.features.Tensor
    return tfds.features.FeaturesDict({
        "sequence": tensor(shape=(), dtype=np.str_),
        "frame_index": tensor(shape=(), dtype=np.int64),
        "image_id": tensor(shape=(), dtype=np.int64),
        "image": tensor(shape=(), dtype=np.str_),
        "is_labeled": tensor(shape=(), dtype=np.bool_),
        "people": tfds.features.FeaturesDict({
            "keypoints": tensor(shape=(p, NUM_JOINTS, 3), dtype=np.float32),
            "track_id": tensor(shape=(p,), dtype=np.int64),
            "head_box": tensor(shape=(p, _BOX), dtype=np.float32),
            "box": tensor(shape=(p, _BOX), dtype=np.float32),
            "count": tensor(shape=(), dtype=np.int64),
        }),
        "detections": tfds.features.FeaturesDict({
            "boxes": tensor(shape=(d, _DETECTION), dtype=np.float32),
            "count": tensor(shape=(), dtype=np.int64),
        }),
        "ignore_regions": tfds.features.FeaturesDict({
            "points": tensor(shape=(layout.max_ignore_points, 2), dtype=np.float32),
            "sizes": tensor(shape=(layout.max_ignore_regions,), dtype=np.int64),
            "count": tensor(shape=(), dtype=np.int64),
        }),
    })


def person_box(person: Person) -> np.ndarray:
    """The person's box `[x, y, w, h]`: the file's, else the tight box of its joints, else 0."""
    if person.box is not None:
        return np.asarray(person.box, dtype=np.float64)
    if not person.present.any():
        return np.zeros(_BOX)
    return np.array(transforms.box_from_keypoints(person.keypoints, present=person.present))


def check_fits(frame: Frame, num_detections: int, layout: RecordLayout, src: str) -> None:
    """Raises a one-line DataError if the frame has more people or detections than the slots."""
    if len(frame.people) > layout.max_people:
        raise DataError(f"{src}: frame {frame.file_name} has {len(frame.people)} people, more "
                        f"than max_people={layout.max_people}; use a builder config with a "
                        "larger max_people")
    if num_detections > layout.max_detections:
        raise DataError(f"{src}: frame {frame.file_name} has {num_detections} detections, more "
                        f"than max_detections={layout.max_detections}; use a builder config "
                        "with a larger max_detections")
    regions = frame.ignore_regions
    points = sum(len(np.asarray(r).reshape(-1, 2)) for r in regions)
    if len(regions) > layout.max_ignore_regions or points > layout.max_ignore_points:
        raise DataError(f"{src}: frame {frame.file_name} has {len(regions)} ignore regions "
                        f"with {points} vertices, more than max_ignore_regions="
                        f"{layout.max_ignore_regions} or max_ignore_points="
                        f"{layout.max_ignore_points}; use a record layout with more")


def ignore_polygons(record: dict[str, Any]) -> list[np.ndarray]:
    """The record's ignore regions as a list of (V_i, 2) float64 polygons [x, y]."""
    regions = record["ignore_regions"]
    sizes = np.asarray(regions["sizes"])[: int(regions["count"])]
    points = np.asarray(regions["points"], np.float64)
    ends = np.cumsum(sizes)
    return [points[end - size:end] for size, end in zip(sizes, ends, strict=True)]


def frame_record(sequence: str, frame: Frame, detections: np.ndarray, layout: RecordLayout,
                 src: str = "<frames>") -> dict[str, Any]:
    """The record of one frame, as the TFDS data source returns it (bytes, ints, arrays).

    Args:
      sequence: the sequence name.
      frame: the frame and its people.
      detections: (D', 5) [x, y, w, h, score] detections of the frame, D' <= D.
      layout: the padding.
      src: where the frame comes from, for errors.

    Returns:
      The record (module docstring).

    Raises:
      DataError: more people or detections than the layout holds.
    """
    check_fits(frame, len(detections), layout, src)
    p, d = layout.max_people, layout.max_detections
    num_people, num_dets = len(frame.people), len(detections)
    keypoints = np.zeros((p, NUM_JOINTS, 3), np.float32)
    track_id = np.full((p,), NO_TRACK, np.int64)
    head_box = np.zeros((p, _BOX), np.float32)
    box = np.zeros((p, _BOX), np.float32)
    for i, person in enumerate(frame.people):
        keypoints[i] = person.keypoints
        track_id[i] = person.track_id
        if person.head_box is not None:
            head_box[i] = person.head_box
        box[i] = person_box(person)
    boxes = np.zeros((d, _DETECTION), np.float32)
    boxes[:num_dets] = detections
    polygons = [np.asarray(r, np.float32).reshape(-1, 2) for r in frame.ignore_regions]
    ignore_points = np.zeros((layout.max_ignore_points, 2), np.float32)
    ignore_sizes = np.zeros((layout.max_ignore_regions,), np.int64)
    if polygons:
        flat = np.concatenate(polygons)
        ignore_points[: len(flat)] = flat
        ignore_sizes[: len(polygons)] = [len(p) for p in polygons]
    image_id = NO_IMAGE_ID if frame.image_id is None else frame.image_id
    return {
        "sequence": sequence.encode(),
        "frame_index": int(frame.frame_index),
        "image_id": int(image_id),
        "image": frame.file_name.encode(),
        "is_labeled": bool(frame.is_labeled),
        "people": {"keypoints": keypoints, "track_id": track_id, "head_box": head_box,
                   "box": box, "count": num_people},
        "detections": {"boxes": boxes, "count": num_dets},
        "ignore_regions": {"points": ignore_points, "sizes": ignore_sizes,
                           "count": len(polygons)},
    }


def frame_detections(frame: Frame, detections: Mapping[int | str, np.ndarray]) -> np.ndarray:
    """A frame's (D', 5) detections, looked up by image id, poseval image id, then file name."""
    keys = [frame.image_id, posetrack.official_image_id(frame.file_name), frame.file_name]
    for key in keys:
        if key is not None and key in detections:
            return np.asarray(detections[key], dtype=np.float64).reshape(-1, _DETECTION)
    return np.zeros((0, _DETECTION))


class SplitPlan:
    """One split of a PoseTrack folder as frame records, with random access (a grain source).

    Record i is the i-th frame of the split's sequences (sorted by name) in frame order.
    """

    def __init__(self, root: Path, split: str, layout: RecordLayout,
                 annotations: str = "annotations",
                 read_sequences: Callable[[Path], list[Sequence]] = posetrack.read_sequences):
        """Reads and checks `root/annotations/split` and the optional detections file.

        Args:
          root: the PoseTrack folder (image root).
          split: the split name.
          layout: the record padding.
          annotations: the annotation folder (`posetrack_data` in PoseTrack21's release).
          read_sequences: the reader of that folder's files.

        Raises:
          DataError: a missing, empty or malformed annotation folder or detections file, or a
            frame with more people or detections than the layout holds.
        """
        ann_dir = root / annotations / split
        self.src = str(ann_dir)
        self.layout = layout
        sequences = read_sequences(ann_dir)
        self.index = build_index(sequences, root, self.src)
        det_path = root / "detections" / f"{split}.json"
        detections = posetrack.read_detections(det_path) if det_path.is_file() else {}
        self._frames = [(seq.name, frame, frame_detections(frame, detections))
                        for seq in sequences for frame in ordered_frames(seq, self.src)]
        # Checked now, so that a frame that does not fit fails before anything is written.
        for _, frame, dets in self._frames:
            check_fits(frame, len(dets), layout, self.src)

    def __len__(self) -> int:
        """The number of records."""
        return len(self._frames)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Record `index` (module docstring)."""
        name, frame, dets = self._frames[index]
        return frame_record(name, frame, dets, self.layout, self.src)
