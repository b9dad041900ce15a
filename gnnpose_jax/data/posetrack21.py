"""PoseTrack21 annotation and prediction files: reader and writer.

PoseTrack21 (Doering et al., CVPR 2022) keeps the PoseTrack 2018 layout (`images`,
`annotations`, `categories`; 17 x 3 keypoints whose ear slots are empty) with these
differences, all handled here:

- Annotations carry a `person_id` (an identity across videos) beside the `track_id`. Track ids
  are any non-negative integers (the official kit relabels them), not poseval's [0, 10000).
- Every image has a `frame_id`; ground-truth images always have `is_labeled`,
  `ignore_regions_x` and `ignore_regions_y` (the kit reads them on every image, so they are
  always written, empty if need be).
- Image ids are the dataset's own (e.g. 10000010000 for `000001_bonn_train/000000.jpg`), not
  poseval's numbering; they are kept as read.

Files read into the dataclasses of `types.py`; fields the model does not interpret (`person_id`,
`has_labeled_person`, ...) stay in the `extra` dicts and are written back verbatim, so reading
and writing loses nothing. Derivable fields (`frame_id`, `vid_id`, `nframes`, annotation `id`
and `category_id`) are re-derived on writing, as for 2018. A person without joint scores is
written without `scores` (the kit then gives its joints -9999). Bad input raises `DataError`
with one line naming the file, the frame and the field, as the `posetrack` package does, whose
2018 parser, checks and writer this module uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gnnpose_jax.data.posetrack import read, validate, write
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.errors import DataError

#: Track ids are integers in [0, MAX_TRACK_ID).
MAX_TRACK_ID = 2**31


def is_posetrack21(data: Any) -> bool:
    """Whether parsed JSON says it is PoseTrack21: a `person_id` or `has_labeled_person` field.

    Ground-truth files of the release always have both; prediction files need not have either.
    """
    if not isinstance(data, dict):
        return False
    images, anns = data.get("images"), data.get("annotations")
    return (isinstance(images, list) and any(isinstance(i, dict) and "has_labeled_person" in i
                                             for i in images)) or \
        (isinstance(anns, list) and any(isinstance(a, dict) and "person_id" in a for a in anns))


def sequence_from_json(data: Any, src: str = "<data>", name: str | None = None) -> Sequence:
    """Parses the JSON object of one PoseTrack21 file (one video).

    Args:
      data: the parsed JSON.
      src: where it came from, for error messages.
      name: the sequence name (default: the image folder, else the stem of `src`).

    Returns:
      The sequence.

    Raises:
      DataError: one line naming file, frame and field: not an object with a non-empty
        `images` list, malformed images or annotations, track ids that are not integers in
        [0, 2**31) or repeat within a frame, non-integer person ids, or several videos.
    """
    data = validate.as_dict(data, src, "", "(top level)")
    if "images" not in data:
        raise DataError(f"{src}: unknown layout: expected a PoseTrack21 object with 'images' "
                        f"and 'annotations'")
    frames, extra = read.parse_2018(data, src, max_track_id=MAX_TRACK_ID, person_ids=True)
    folders = sorted({os.path.dirname(f.file_name) for f in frames})
    if len(folders) > 1:
        raise DataError(f"{src}: holds {len(folders)} videos (image folders "
                        f"{', '.join(validate.short(g) for g in folders[:2])}, ...); a "
                        f"PoseTrack21 file holds one")
    name = name or os.path.basename(folders[0]) or Path(src).stem
    return read.group_videos(frames, extra, src, name)[0]


def read_sequence(path: str | os.PathLike) -> Sequence:
    """Reads one PoseTrack21 file, named after the file stem (as the kit pairs files by name).

    Raises:
      DataError: unreadable or malformed file (see `sequence_from_json`).
    """
    path = Path(path)
    return sequence_from_json(validate.load_json(path), str(path), path.stem)


def read_sequences(path: str | os.PathLike) -> list[Sequence]:
    """Reads a folder of PoseTrack21 files (one per video, sorted by name) or a single file.

    Raises:
      DataError: missing path, a folder without `.json` files, or any bad file.
    """
    path = Path(path)
    if not path.is_dir():
        return [read_sequence(path)]
    return [read_sequence(f) for f in read.sequence_files(path)]


def sequence_to_json(seq: Sequence) -> dict:
    """The PoseTrack21 JSON object of a sequence.

    Image ids are the frames' own, else poseval's numbering of the file name, else the frame's
    position; predictions must carry the ground truth's ids (the kit asserts it).

    Raises:
      DataError: an empty sequence, track ids that are not integers in [0, 2**31) or repeat
        within a frame, wrong shapes, non-finite numbers, or repeated image ids.
    """
    write.check_sequence(seq, False, MAX_TRACK_ID)
    out = write.to_2018(seq)
    for image in out["images"]:
        image.setdefault("ignore_regions_x", [])
        image.setdefault("ignore_regions_y", [])
    for ann in out["annotations"]:
        if ann["scores"] == []:
            del ann["scores"]
    return out


def write_sequence(seq: Sequence, path: str | os.PathLike) -> None:
    """Writes one sequence as a PoseTrack21 file, atomically (name it `<seq.name>.json`).

    Raises:
      DataError: see `sequence_to_json`, or an unwritable path.
    """
    write.write_json_atomic(sequence_to_json(seq), path)


def write_sequences(seqs: Iterable[Sequence], out_dir: str | os.PathLike) -> list[Path]:
    """Writes each sequence to `out_dir/<name>.json`; returns the paths in order.

    Raises:
      DataError: duplicate names, or see `write_sequence`.
    """
    return write.write_sequences(seqs, out_dir, fmt="2021")
