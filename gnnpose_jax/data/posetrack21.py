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
with one line naming the file, the frame and the field, as `posetrack.py` does, whose
validation helpers this module uses.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data import posetrack as pt
from gnnpose_jax.data.types import Person, Sequence
from gnnpose_jax.errors import DataError

#: Track ids are integers in [0, MAX_TRACK_ID).
MAX_TRACK_ID = 2**31

_KP_FIELDS = 3
_BOX_LEN = 4
_ANN_KEYS = ("keypoints", "scores", "track_id", "image_id", "bbox", "bbox_head", "score")


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


def _track_id(value: Any, src: str, where: str) -> int:
    """A track id in [0, MAX_TRACK_ID) (integral floats accepted), or DataError."""
    if not pt._is_integral(value) or not 0 <= value < MAX_TRACK_ID:
        pt._fail(src, where, "track_id", f"an integer in [0, {MAX_TRACK_ID})", value)
    return int(value)


def _person(ann: dict, keypoints: np.ndarray, src: str, where: Any) -> Person:
    """One annotation's track id, person id check, person score and extras.

    `where` is a callable giving the place for an error message (called only on error).
    """
    track_id = ann.get("track_id")
    if type(track_id) is not int or not 0 <= track_id < MAX_TRACK_ID:
        track_id = _track_id(track_id, src, where())
    person_id = ann.get("person_id")
    if type(person_id) is not int and person_id is not None and not pt._is_integral(person_id):
        pt._fail(src, where(), "person_id", "an integer", person_id)
    extra = {k: v for k, v in ann.items() if k not in _ANN_KEYS}
    if extra.get("category_id") == pt.PERSON_CATEGORY_ID and type(extra["category_id"]) is int:
        del extra["category_id"]
    score = None if ann.get("score") is None else pt._number(ann["score"], src, where(), "score")
    return Person(keypoints=keypoints, track_id=track_id, extra=extra, score=score)


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
    data = pt._dict(data, src, "", "(top level)")
    if "images" not in data:
        raise DataError(f"{src}: unknown layout: expected a PoseTrack21 object with 'images' "
                        f"and 'annotations'")
    images = pt._list(data["images"], src, "", "images")
    if not images:
        raise DataError(f"{src}: empty sequence: 'images' is empty")
    anns = pt._list(data.get("annotations", []), src, "", "annotations")
    slots = pt._category_slots(data, src)
    num_values = _KP_FIELDS * len(slots)
    frames, id_to_pos = pt._parse_images_2018(images, src)

    owner, kp_rows, counts = [], [], [0] * len(frames)
    for k, ann in enumerate(anns):
        ann = pt._dict(ann, src, f"annotation {k}", "annotations[]")
        image_id = ann.get("image_id")
        pos = id_to_pos.get(image_id) if pt._is_number(image_id) else None
        if pos is None:
            pt._fail(src, f"annotation {k}", "image_id", "the id of an image in the file",
                     image_id)
        kps = ann.get("keypoints")
        if not isinstance(kps, list) or len(kps) != num_values:
            pt._fail(src, pt._frame_where(pos, frames[pos].file_name, counts[pos]), "keypoints",
                     f"a list of {num_values} numbers",
                     f"{len(kps)} values" if isinstance(kps, list) else kps)
        owner.append((pos, ann, counts[pos]))
        kp_rows.append(kps)
        counts[pos] += 1

    def where_of(i: int) -> str:
        pos, _, index = owner[i]
        return pt._frame_where(pos, frames[pos].file_name, index)

    keypoints = pt._rows(kp_rows, num_values, src, where_of, "keypoints")
    keypoints = pt._to_slots(keypoints.reshape(-1, len(slots), _KP_FIELDS), slots)
    annotations = [a for _, a, _ in owner]
    scores, has_scores = pt._optional_rows(annotations, "scores", len(slots), src, where_of)
    scores = pt._to_slots(scores, slots)
    heads, has_head = pt._optional_rows(annotations, "bbox_head", _BOX_LEN, src, where_of)
    boxes, has_box = pt._optional_rows(annotations, "bbox", _BOX_LEN, src, where_of)
    corners = np.concatenate([heads[:, :2], heads[:, :2] + heads[:, 2:]], axis=1)
    # Keep the file's [x, y, w, h] where re-deriving it from the corners would round otherwise.
    rounds = np.any(np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1)
                    != heads, axis=1)
    for i, (pos, ann, _) in enumerate(owner):
        frame = frames[pos]
        person = _person(ann, keypoints[i], src, lambda i=i: where_of(i))
        if has_scores[i]:
            person.scores = scores[i]
        if has_head[i]:
            person.head_box = corners[i]
            if rounds[i]:
                person.extra["bbox_head"] = ann["bbox_head"]
        if has_box[i]:
            person.box = boxes[i]
        default_id = frame.image_id * pt.ANNOTATION_ID_FACTOR + len(frame.people)
        if person.extra.get("id") == default_id and type(person.extra["id"]) is int:
            del person.extra["id"]
        frame.people.append(person)
    for i, frame in enumerate(frames):
        if frame.is_labeled is None:
            frame.is_labeled = bool(frame.people)
        pt._check_track_ids(frame, src, pt._frame_where(i, frame.file_name))
    extra = {k: v for k, v in data.items() if k not in ("images", "annotations", "categories")}
    cats = data.get("categories")
    if pt._reusable_categories(cats) and cats != [pt.DEFAULT_CATEGORY]:
        extra["categories"] = cats
    folders = sorted({os.path.dirname(f.file_name) for f in frames})
    if len(folders) > 1:
        raise DataError(f"{src}: holds {len(folders)} videos (image folders "
                        f"{', '.join(pt._short(g) for g in folders[:2])}, ...); a PoseTrack21 "
                        f"file holds one")
    name = name or os.path.basename(folders[0]) or Path(src).stem
    return pt._group_videos(frames, extra, src, name)[0]


def read_sequence(path: str | os.PathLike) -> Sequence:
    """Reads one PoseTrack21 file, named after the file stem (as the kit pairs files by name).

    Raises:
      DataError: unreadable or malformed file (see `sequence_from_json`).
    """
    path = Path(path)
    return sequence_from_json(pt._load_json(path), str(path), path.stem)


def read_sequences(path: str | os.PathLike) -> list[Sequence]:
    """Reads a folder of PoseTrack21 files (one per video, sorted by name) or a single file.

    Raises:
      DataError: missing path, a folder without `.json` files, or any bad file.
    """
    path = Path(path)
    if not path.is_dir():
        return [read_sequence(path)]
    files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
    if not files:
        raise DataError(f"{path}: no .json sequence files in the folder")
    return [read_sequence(f) for f in files]


def _check(seq: Sequence) -> None:
    """DataError if the sequence cannot be written (empty, bad shapes, ids, non-finite)."""
    src = f"sequence {seq.name}"
    if not seq.frames:
        raise DataError(f"{src}: empty sequence: nothing to write")
    for i, frame in enumerate(seq.frames):
        for k, person in enumerate(frame.people):
            where = pt._frame_where(i, frame.file_name, k)
            _track_id(person.track_id, src, where)
            kp = np.asarray(person.keypoints)
            if kp.shape != (joints.NUM_JOINTS, _KP_FIELDS) or not np.isfinite(kp).all():
                pt._fail(src, where, "keypoints", f"a finite ({joints.NUM_JOINTS}, 3) array",
                         kp.shape)
            for field, length in (("scores", joints.NUM_JOINTS), ("head_box", _BOX_LEN),
                                  ("box", _BOX_LEN)):
                value = getattr(person, field)
                if value is not None and (np.shape(value) != (length,)
                                          or not np.isfinite(value).all()):
                    pt._fail(src, where, field, f"None or {length} finite numbers", value)
            if person.score is not None and not math.isfinite(person.score):
                pt._fail(src, where, "score", "None or a finite number", person.score)
        pt._check_track_ids(frame, src, pt._frame_where(i, frame.file_name))


def sequence_to_json(seq: Sequence) -> dict:
    """The PoseTrack21 JSON object of a sequence.

    Image ids are the frames' own, else poseval's numbering of the file name, else the frame's
    position; predictions must carry the ground truth's ids (the kit asserts it).

    Raises:
      DataError: an empty sequence, track ids that are not integers in [0, 2**31) or repeat
        within a frame, wrong shapes, non-finite numbers, or repeated image ids.
    """
    _check(seq)
    out = pt._to_2018(seq)
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
    pt.write_json_atomic(sequence_to_json(seq), path)


def write_sequences(seqs: Iterable[Sequence], out_dir: str | os.PathLike) -> list[Path]:
    """Writes each sequence to `out_dir/<name>.json`; returns the paths in order.

    Raises:
      DataError: duplicate names, or see `write_sequence`.
    """
    return pt.write_sequences(seqs, out_dir, fmt="2021")
