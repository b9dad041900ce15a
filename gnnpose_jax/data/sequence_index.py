"""The sequence index: what windowed and per-person sampling need of a split, without records.

`sequence_index.json`, written beside the records of a prepared dataset, holds per split the
image root and the per-sequence ordered record indices with each record's frame index, label
flag and (track id, annotated joint count) of its people (`SequenceIndex`). Records are numbered
in sequence order, then frame order (`build_index`, `ordered_frames`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tensorflow_datasets as tfds

from gnnpose_jax.data import posetrack
from gnnpose_jax.data.types import Frame, Sequence
from gnnpose_jax.errors import DataError

#: The per-split sequence index written beside the records.
INDEX_FILE = "sequence_index.json"
INDEX_FORMAT = 1


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
