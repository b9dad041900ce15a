"""TFDS datasets of PoseTrack frames (2017, 2018, the synthetic world), without TensorFlow.

The builders write ArrayRecord files of Tensor features only, so that `download_and_prepare()`
and `as_data_source()` never import TensorFlow. One record per frame, in sequence order, then
frame order (`disable_shuffling`, record i is the i-th frame generated)::

    sequence       str            the sequence (video) name, e.g. `000342_mpii_test`
    frame_index    int64          position of the frame in the video
    image_id       int64          the annotation's image id, -1 if it has none
    image          str            image path relative to the image root (see below), e.g.
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

Beside the records, `sequence_index.json` in the dataset folder holds, per split, the image root
and the per-sequence ordered record indices with each record's frame index, label flag and
(track id, annotated joint count) of its people: everything windowed and per-person sampling
needs without decoding a record (`SequenceIndex`).

Builders: `Posetrack18`, `Posetrack17` and `Posetrack21` read the official release from the
manual folder (see their `MANUAL_DOWNLOAD_INSTRUCTIONS`); their image root is that folder.
`SyntheticPosetrack` generates a world with `synthetic.generate_world` inside the dataset folder
(`world/`), which is its image root. Preparation is atomic: the manual folder and every
annotation file are checked before anything is written, and TFDS writes into a temporary folder
renamed at the end.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from gnnpose_jax.data import posetrack, posetrack21, synthetic, transforms
from gnnpose_jax.data.folders import SPLITS
from gnnpose_jax.data.joints import NUM_JOINTS
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError

#: The per-split sequence index written beside the records.
INDEX_FILE = "sequence_index.json"
INDEX_FORMAT = 1
#: `image_id` of a frame whose annotation has none.
NO_IMAGE_ID = -1
#: `track_id` of an empty people slot.
NO_TRACK = -1
_BOX = 4
_DETECTION = 5

_MANUAL_INSTRUCTIONS = """\
PoseTrack cannot be downloaded automatically ({access}).
Unpack the official {year} release so that the manual folder (by default
`<data_dir>/downloads/manual/`, or `tfds.download.DownloadConfig(manual_dir=...)`) holds:

    images/                      the release's image folders, untouched; annotation
                                 file names are relative to the manual folder
    {annotations}/train/*.json{pad}one {layout} annotation file per video
    {annotations}/val/*.json
    detections/train.json        optional: COCO detection results (image_id or file_name,
    detections/val.json          bbox [x, y, w, h], score) for the frames of the split

The images are not copied: records store each image's path relative to this folder, whose
absolute path is written to `sequence_index.json`. Do not move it after preparing.
"""


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


@dataclasses.dataclass(frozen=True)
class SequenceIndex:
    """What windowed and per-person sampling need to know about a split, without its records.

    Attributes:
      image_root: the folder that record image paths are relative to.
      sequences: sequence name -> its record indices, ordered by frame index.
      frame_index: (R,) the frame index of every record.
      is_labeled: (R,) the label flag of every record.
      people: per record, `(track_id, annotated joint count)` of each person, in slot order.
    """

    image_root: Path
    sequences: dict[str, list[int]]
    frame_index: list[int]
    is_labeled: list[bool]
    people: list[list[tuple[int, int]]]

    def __len__(self) -> int:
        """R, the number of records."""
        return len(self.frame_index)

    def frame_records(self, sequence: str) -> dict[int, int]:
        """Frame index -> record index, for one sequence."""
        return {self.frame_index[r]: r for r in self.sequences[sequence]}


def ordered_frames(seq: Sequence, src: str) -> list[Frame]:
    """The sequence's frames sorted by frame index; duplicate indices are refused."""
    frames = sorted(seq.frames, key=lambda f: f.frame_index)
    for a, b in zip(frames, frames[1:], strict=False):
        if a.frame_index == b.frame_index:
            raise DataError(f"{src}: sequence {seq.name} has two frames with frame index "
                            f"{a.frame_index} ({a.file_name}, {b.file_name}); expected one")
    return frames


def build_index(seqs: list[Sequence], image_root: Path, src: str = "<sequences>"
                ) -> SequenceIndex:
    """The index of records written in sequence order, then frame order.

    Args:
      seqs: the split's sequences, in record order.
      image_root: the folder image paths are relative to.
      src: where the sequences come from, for errors.

    Returns:
      The index; record r is the r-th frame of `ordered_frames` over `seqs`.

    Raises:
      DataError: a split without frames, two sequences with one name, or duplicate frames.
    """
    sequences: dict[str, list[int]] = {}
    frame_index, is_labeled, people = [], [], []
    for seq in seqs:
        if seq.name in sequences:
            raise DataError(f"{src}: two sequences are named {seq.name!r}; expected unique names")
        frames = ordered_frames(seq, src)
        sequences[seq.name] = list(range(len(frame_index), len(frame_index) + len(frames)))
        for frame in frames:
            frame_index.append(frame.frame_index)
            is_labeled.append(bool(frame.is_labeled))
            people.append([(int(p.track_id), int(p.present.sum())) for p in frame.people])
    if not frame_index:
        raise DataError(f"{src}: empty split: no frames (expected at least one sequence)")
    return SequenceIndex(image_root, sequences, frame_index, is_labeled, people)


def _index_json(index: SequenceIndex) -> dict[str, Any]:
    """The JSON form of one split's index (the image root is written separately)."""
    return {"sequences": index.sequences, "frame_index": index.frame_index,
            "is_labeled": index.is_labeled,
            "people": [[list(p) for p in frame] for frame in index.people]}


def write_index(indexes: Mapping[str, SequenceIndex], path: str | os.PathLike,
                image_root: str) -> None:
    """Writes `sequence_index.json` atomically.

    Args:
      indexes: split -> its index.
      path: the JSON file.
      image_root: the image root as written: absolute, or relative to the file's folder.
    """
    posetrack.write_json_atomic({"format": INDEX_FORMAT, "image_root": image_root,
                                 "splits": {k: _index_json(v) for k, v in indexes.items()}},
                                path)


def read_index(path: str | os.PathLike, split: str) -> SequenceIndex:
    """Reads one split of a `sequence_index.json`.

    Args:
      path: the JSON file.
      split: the split name.

    Returns:
      The split's index; a relative image root is resolved against the file's folder.

    Raises:
      DataError: a missing or malformed file, or a split it does not hold.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: sequence index not found (expected the file that "
                        "download_and_prepare writes beside the records)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        split_data = data["splits"]
        if split not in split_data:
            raise DataError(f"{path}: splits: no split {split!r} (expected one of "
                            f"{', '.join(sorted(split_data))})")
        raw = split_data[split]
        return SequenceIndex(
            image_root=path.parent / data["image_root"],
            sequences={k: [int(r) for r in v] for k, v in raw["sequences"].items()},
            frame_index=[int(f) for f in raw["frame_index"]],
            is_labeled=[bool(v) for v in raw["is_labeled"]],
            people=[[(int(t), int(n)) for t, n in frame] for frame in raw["people"]])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: malformed sequence index ({type(e).__name__}: {e}); "
                        "expected the file written by download_and_prepare") from None


def load_index(builder: tfds.core.DatasetBuilder, split: str) -> SequenceIndex:
    """The sequence index of a prepared builder's split."""
    return read_index(Path(os.fspath(builder.data_dir)) / INDEX_FILE, split)


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


def check_manual_dir(root: Path, splits: tuple[str, ...] = SPLITS,
                     annotations: str = "annotations") -> None:
    """Raises a one-line DataError unless `root` holds `images/` and `annotations/<split>/`
    (`annotations` names that folder)."""
    expected = [root, root / "images"] + [root / annotations / s for s in splits]
    for path in expected:
        if not path.is_dir():
            raise DataError(f"{path}: folder not found; the manual folder must hold the "
                            f"official release's images/ and {annotations}/"
                            f"{{{','.join(splits)}}}/ (see MANUAL_DOWNLOAD_INSTRUCTIONS)")


@dataclasses.dataclass
class PosetrackConfig(tfds.core.BuilderConfig):
    """Builder config of the PoseTrack datasets: the record padding."""

    max_people: int = 64
    max_detections: int = 100

    @property
    def layout(self) -> RecordLayout:
        """The record layout of this config."""
        return RecordLayout(self.max_people, self.max_detections)


class _FrameRecordBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared machinery: frame records from split plans, and the sequence index beside them."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Frame records with image paths; sequence index JSON.",
                     "1.1.0": "Ignore-region polygons in every record."}
    HOMEPAGE = "https://posetrack.net"
    CITATION = ""

    def _info(self) -> tfds.core.DatasetInfo:
        """Features, homepage and the in-order record guarantee."""
        return tfds.core.DatasetInfo(
            builder=self, description=self.__doc__, features=record_features(
                self.builder_config.layout),
            homepage=self.HOMEPAGE, citation=self.CITATION, disable_shuffling=True)

    def _plans(self) -> dict[str, SplitPlan]:
        """The split plans, read by `download_and_prepare` or `_download_and_prepare`."""
        plans = getattr(self, "_split_plans", None)
        if plans is None:
            raise RuntimeError("split plans are read before generation")
        return plans

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        """One generator per planned split."""
        del dl_manager  # the plans were read before preparation started
        return {split: self._generate_examples(plan) for split, plan in self._plans().items()}

    def _generate_examples(self, plan: SplitPlan):
        """Yields (record index, record); the integer keys keep generation order on disk."""
        for i in range(len(plan)):
            yield i, plan[i]

    def _write_index(self, image_root: str) -> None:
        """Writes the sequence index into the (temporary) dataset folder."""
        indexes = {split: plan.index for split, plan in self._plans().items()}
        write_index(indexes, Path(os.fspath(self.data_dir)) / INDEX_FILE, image_root)


class _ManualPosetrack(_FrameRecordBuilder, skip_registration=True):
    """A PoseTrack release read from the manual folder."""

    BUILDER_CONFIGS = [PosetrackConfig(name="default", description="64 people, 100 detections")]
    #: The release's annotation folder (one subfolder per split) and the reader of its files.
    ANNOTATIONS = "annotations"
    read_sequences = staticmethod(posetrack.read_sequences)

    def download_and_prepare(self, *, download_dir: epath.PathLike | None = None,
                             download_config: tfds.download.DownloadConfig | None = None,
                             **kwargs) -> None:
        """Checks and reads the manual folder, then writes the records and the index.

        Args:
          download_dir: TFDS download folder (default `<data_dir>/downloads`).
          download_config: `manual_dir` says where the release is (default
            `<download_dir>/manual`).
          **kwargs: passed to `tfds.core.DatasetBuilder.download_and_prepare`.

        Raises:
          DataError: a missing manual folder or annotation folder (one line naming the
            expected path), or a malformed annotation or detection file; nothing is written.
        """
        download_config = download_config or tfds.download.DownloadConfig(
            try_download_gcs=False)
        if not self.data_path.exists():
            downloads = epath.Path(download_dir or self.data_dir_root / "downloads")
            root = Path(os.fspath(download_config.manual_dir or downloads / "manual"))
            check_manual_dir(root, annotations=self.ANNOTATIONS)
            root = root.resolve()
            layout = self.builder_config.layout
            self._manual_root = root
            self._split_plans = {s: SplitPlan(root, s, layout, self.ANNOTATIONS,
                                              self.read_sequences) for s in SPLITS}
        super().download_and_prepare(download_dir=download_dir,
                                     download_config=download_config, **kwargs)

    def _download_and_prepare(self, dl_manager, download_config=None) -> None:
        """Writes the records, then the index with the manual folder as image root."""
        super()._download_and_prepare(dl_manager, download_config)
        self._write_index(str(self._manual_root))


_POSETRACK_NET = "registration and licence at posetrack.net"
_ANNOTATIONS = {"annotations": "annotations", "pad": "     "}


class Posetrack18(_ManualPosetrack):
    """PoseTrack 2018 frames (2018 annotation layout), with images left in the release."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_INSTRUCTIONS.format(
        access=_POSETRACK_NET, year="2018",
        layout="PoseTrack 2018 (COCO-like `images`/`annotations`)", **_ANNOTATIONS)


class Posetrack17(_ManualPosetrack):
    """PoseTrack 2017 frames (2017 `annolist` layout, mapped to the 17 slots)."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_INSTRUCTIONS.format(
        access=_POSETRACK_NET, year="2017", layout="PoseTrack 2017 (`annolist`)",
        **_ANNOTATIONS)


class Posetrack21(_ManualPosetrack):
    """PoseTrack21 frames (the release's `posetrack_data/`: the 2018 layout with person ids,
    read by `posetrack21.py`), with images left in the release."""

    HOMEPAGE = "https://github.com/anDoer/PoseTrack21"
    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_INSTRUCTIONS.format(
        access="the release comes from its authors, see " + HOMEPAGE, year="PoseTrack21",
        layout="PoseTrack21", annotations="posetrack_data", pad="  ")
    ANNOTATIONS = "posetrack_data"
    read_sequences = staticmethod(posetrack21.read_sequences)


@dataclasses.dataclass
class SyntheticConfig(PosetrackConfig):
    """A synthetic world: seed, size, and videos per split (see `synthetic.generate_world`)."""

    seed: int = 0
    train_videos: int = 20
    val_videos: int = 5
    num_frames: int = 50
    image_hw: tuple[int, int] = (288, 384)
    val_label_every: int = 1


class SyntheticPosetrack(_FrameRecordBuilder):
    """The synthetic world of `gnnpose_jax.data.synthetic`, generated inside the dataset folder.

    Configs: `default` (20 train and 5 val videos of 50 frames, 384x288) and `tiny` (2 + 1
    videos of 8 frames, 128x96, for tests).
    """

    BUILDER_CONFIGS = [
        SyntheticConfig(name="default", description="20 + 5 videos, 50 frames, 384x288",
                        max_people=16, max_detections=32),
        SyntheticConfig(name="tiny", description="2 + 1 videos, 8 frames, 128x96",
                        max_people=16, max_detections=32, train_videos=2, val_videos=1,
                        num_frames=8, image_hw=(96, 128)),
    ]
    #: The world's folder inside the dataset folder; the image root of the records.
    WORLD = "world"

    def download_and_prepare(self, *, download_dir: epath.PathLike | None = None,
                             download_config: tfds.download.DownloadConfig | None = None,
                             **kwargs) -> None:
        """Generates the world and writes the records and the index (no network, no GCS)."""
        download_config = download_config or tfds.download.DownloadConfig(
            try_download_gcs=False)
        super().download_and_prepare(download_dir=download_dir,
                                     download_config=download_config, **kwargs)

    def _download_and_prepare(self, dl_manager, download_config=None) -> None:
        """Writes the world into the temporary dataset folder, then records and index."""
        config = self.builder_config
        root = Path(os.fspath(self.data_dir)) / self.WORLD
        videos = {"train": config.train_videos, "val": config.val_videos}
        label_every = {"train": 1, "val": config.val_label_every}
        for split in SPLITS:
            synthetic.generate_world(root, config.seed, videos[split], split,
                                     num_frames=config.num_frames,
                                     image_hw=tuple(config.image_hw),
                                     label_every=label_every[split])
        self._split_plans = {s: SplitPlan(root, s, config.layout) for s in SPLITS}
        super()._download_and_prepare(dl_manager, download_config)
        self._write_index(self.WORLD)


def prepare(builder_cls: type[_FrameRecordBuilder], data_dir: str | os.PathLike,
            manual_dir: str | os.PathLike | None = None, config: str | None = None
            ) -> _FrameRecordBuilder:
    """Builds (or reuses) a dataset and returns its builder.

    Args:
      builder_cls: `Posetrack18`, `Posetrack17`, `Posetrack21` or `SyntheticPosetrack`.
      data_dir: the TFDS data folder.
      manual_dir: the PoseTrack release folder (manual builders only).
      config: the builder config name (default: the builder's first).

    Returns:
      The prepared builder (`as_data_source()` and `load_index` work on it).

    Raises:
      DataError: see the builders' `download_and_prepare`.
    """
    builder = builder_cls(data_dir=os.fspath(data_dir), config=config,
                          file_format="array_record")
    download_config = tfds.download.DownloadConfig(
        manual_dir=None if manual_dir is None else os.fspath(manual_dir),
        try_download_gcs=False)
    builder.download_and_prepare(download_config=download_config)
    return builder
