"""Writers of PoseTrack 2017 and 2018 files (PoseTrack21 by way of `posetrack21`).

Sequences are checked before anything is written and written atomically (`atomic.write_text`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from gnnpose_jax import atomic
from gnnpose_jax.data import joints
from gnnpose_jax.data.posetrack.spec import (
    ANNOTATION_ID_FACTOR,
    BOX_LEN,
    DEFAULT_CATEGORY,
    FORMATS,
    KP_FIELDS,
    MAX_FRAME_NUMBER,
    MAX_TRACK_ID,
    PERSON_CATEGORY_ID,
    default_vid_id,
    official_image_id,
    reusable_categories,
)
from gnnpose_jax.data.posetrack.validate import (
    check_track_ids,
    fail,
    frame_where,
    is_finite,
    track_id,
)
from gnnpose_jax.data.types import Person, Sequence
from gnnpose_jax.errors import DataError


def num(value: float) -> int | float:
    """A JSON number: integral values as int (as PoseTrack files write them)."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def nums(values: np.ndarray) -> list:
    """A flat list of JSON numbers."""
    return [num(v) for v in np.asarray(values, dtype=np.float64).ravel().tolist()]


# --------------------------------------------------------------------------------------------
# Checks


def _check_person(person: Person, src: str, where: str, max_track_id: int) -> None:
    """DataError if a person cannot be written (shapes, non-finite values, track id)."""
    track_id(person.track_id, src, where, max_track_id)
    kp = np.asarray(person.keypoints)
    if kp.shape != (joints.NUM_JOINTS, KP_FIELDS) or not np.isfinite(kp).all():
        fail(src, where, "keypoints", f"a finite ({joints.NUM_JOINTS}, 3) array", kp.shape)
    for field, length in (("scores", joints.NUM_JOINTS), ("head_box", BOX_LEN),
                          ("box", BOX_LEN)):
        value = getattr(person, field)
        if value is not None and (np.shape(value) != (length,)
                                  or not np.isfinite(value).all()):
            fail(src, where, field, f"None or {length} finite numbers", value)
    if person.score is not None and not math.isfinite(person.score):
        fail(src, where, "score", "None or a finite number", person.score)


def _check_official_names(seq: Sequence) -> None:
    """DataError unless poseval can parse every frame name and the file holds one video."""
    folders = {os.path.dirname(f.file_name) for f in seq.frames}
    if len(folders) > 1:
        raise DataError(f"sequence {seq.name}: frames come from {len(folders)} image folders; "
                        f"poseval reads one video per file")
    for i, frame in enumerate(seq.frames):
        if official_image_id(frame.file_name) is None:
            fail(f"sequence {seq.name}", frame_where(i), "file_name",
                 "a poseval-readable path like images/val/000342_mpii_test/000010.jpg "
                 f"(folder <number>_<mpii|bonn|mpiinew>[_...], frame number < "
                 f"{MAX_FRAME_NUMBER})", frame.file_name)


def check_sequence(seq: Sequence, check_official: bool,
                   max_track_id: int = MAX_TRACK_ID) -> None:
    """DataError for anything that would make a written file unreadable or wrong.

    Args:
      seq: the sequence.
      check_official: also refuse names poseval cannot parse (see `sequence_to_json`).
      max_track_id: track ids must be integers in [0, max_track_id).
    """
    src = f"sequence {seq.name}"
    if not seq.frames:
        raise DataError(f"{src}: empty sequence: nothing to write")
    if check_official:
        _check_official_names(seq)
    for i, frame in enumerate(seq.frames):
        for k, person in enumerate(frame.people):
            _check_person(person, src, frame_where(i, frame.file_name, k), max_track_id)
        check_track_ids(frame, src, frame_where(i, frame.file_name))


def _image_ids(seq: Sequence) -> list[int]:
    """Each frame's image id: its own, else poseval's, else its position; checked unique."""
    ids = []
    for i, frame in enumerate(seq.frames):
        image_id = frame.image_id if frame.image_id is not None \
            else official_image_id(frame.file_name)
        ids.append(i if image_id is None else int(image_id))
    if len(set(ids)) != len(ids):
        dup = next(v for v in ids if ids.count(v) > 1)
        raise DataError(f"sequence {seq.name}: field 'image_id': expected ids unique within "
                        f"the sequence, got {dup} twice")
    return ids


# --------------------------------------------------------------------------------------------
# 2018


def _categories(seq: Sequence) -> list:
    """The sequence's own `categories` if reusable, else the default."""
    cats = seq.extra.get("categories")
    return cats if reusable_categories(cats) else [DEFAULT_CATEGORY]


def _regions_json_2018(regions: list[np.ndarray]) -> dict:
    """`ignore_regions_x` / `ignore_regions_y` of a frame, or nothing if it has none."""
    if not regions:
        return {}
    return {"ignore_regions_x": [nums(np.asarray(r)[:, 0]) for r in regions],
            "ignore_regions_y": [nums(np.asarray(r)[:, 1]) for r in regions]}


def _head_box_json(person: Person) -> list:
    """The 2018 [x, y, w, h] head box, reusing the file's own numbers when they agree."""
    raw = person.extra.get("bbox_head")
    if isinstance(raw, list) and len(raw) == BOX_LEN and all(is_finite(v) for v in raw):
        x, y, w, h = (float(v) for v in raw)
        if np.array_equal([x, y, x + w, y + h], np.asarray(person.head_box, np.float64)):
            return raw
    x1, y1, x2, y2 = (float(v) for v in person.head_box)
    return [num(x1), num(y1), num(x2 - x1), num(y2 - y1)]


def _person_json_2018(person: Person, image_id: int, index: int) -> dict:
    """One 2018 annotation."""
    ann = {"id": image_id * ANNOTATION_ID_FACTOR + index, "category_id": PERSON_CATEGORY_ID}
    ann.update(person.extra)
    ann.pop("bbox_head", None)
    ann.update({"image_id": image_id, "track_id": int(person.track_id),
                "keypoints": nums(person.keypoints),
                "scores": [] if person.scores is None else nums(person.scores)})
    if person.head_box is not None:
        ann["bbox_head"] = _head_box_json(person)
    if person.box is not None:
        ann["bbox"] = nums(person.box)
    if person.score is not None:
        ann["score"] = num(person.score)
    return ann


def to_2018(seq: Sequence) -> dict:
    """The 2018 JSON object of a checked sequence (see `check_sequence`)."""
    ids = _image_ids(seq)
    images, annotations = [], []
    for frame, image_id in zip(seq.frames, ids, strict=True):
        image = {"frame_id": image_id, "nframes": len(seq.frames),
                 "vid_id": default_vid_id(frame.file_name, seq.name)}
        image.update(frame.extra)
        image.update({"file_name": frame.file_name, "id": image_id,
                      "is_labeled": bool(frame.is_labeled)})
        image.update(_regions_json_2018(frame.ignore_regions))
        images.append(image)
        annotations.extend(_person_json_2018(p, image_id, k) for k, p in enumerate(frame.people))
    out = {k: v for k, v in seq.extra.items() if k != "categories"}
    out.update({"categories": _categories(seq), "images": images, "annotations": annotations})
    return out


# --------------------------------------------------------------------------------------------
# 2017


def _person_json_2017(person: Person) -> dict:
    """One 2017 `annorect` entry (the 15 PoseTrack joints; other slots are not representable)."""
    rect = dict(person.extra)
    rect["track_id"] = [int(person.track_id)]
    points = []
    present = person.present
    for pid, slot in enumerate(joints.POSETRACK17_TO_SLOT):
        if not present[slot]:
            continue
        x, y, v = person.keypoints[slot]
        point = {"id": [pid], "x": [num(x)], "y": [num(y)], "is_visible": [num(v)]}
        if person.scores is not None:
            point["score"] = [num(person.scores[slot])]
        points.append(point)
    rect["annopoints"] = [{"point": points}]
    if person.head_box is not None:
        for key, value in zip(("x1", "y1", "x2", "y2"), person.head_box, strict=True):
            rect[key] = [num(value)]
    if person.box is not None:
        rect["bbox"] = nums(person.box)
    if person.score is not None:
        rect["score"] = [num(person.score)]
    return rect


def _to_2017(seq: Sequence) -> dict:
    """The 2017 JSON object of a checked sequence."""
    annolist = []
    for frame in seq.frames:
        entry = dict(frame.extra)
        entry.update({"image": [{"name": frame.file_name}],
                      "is_labeled": [int(bool(frame.is_labeled))],
                      "annorect": [_person_json_2017(p) for p in frame.people]})
        if frame.image_id is not None:
            entry["image_id"] = int(frame.image_id)
        if frame.ignore_regions:
            entry["ignore_regions"] = [
                {"point": [{"x": [num(x)], "y": [num(y)]} for x, y in np.asarray(r).tolist()]}
                for r in frame.ignore_regions]
        annolist.append(entry)
    out = dict(seq.extra)
    out["annolist"] = annolist
    return out


# --------------------------------------------------------------------------------------------
# Files


def sequence_to_json(seq: Sequence, fmt: str = "2018", check_official: bool = True) -> dict:
    """The JSON object of a sequence in either layout.

    Args:
      seq: the sequence.
      fmt: "2018", "2017" or "2021" (PoseTrack21, `posetrack21.sequence_to_json`).
      check_official: refuse frame names the official toolkit cannot parse (2018 only: the
        2017 evaluation never parses names, and PoseTrack21's kit pairs frames by position).

    Returns:
      A JSON-serialisable dict.

    Raises:
      DataError: unknown format, an empty sequence, invalid or duplicate track ids, non-finite
        numbers, or (with `check_official`) names poseval cannot read.
    """
    if fmt not in FORMATS:
        raise DataError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "2021":
        from gnnpose_jax.data import posetrack21  # it imports this package

        return posetrack21.sequence_to_json(seq)
    check_sequence(seq, check_official and fmt == "2018")
    return to_2018(seq) if fmt == "2018" else _to_2017(seq)


def write_json_atomic(obj: Any, path: str | os.PathLike) -> None:
    """Writes JSON with `atomic.write_text`, so readers never see half a file.

    Args:
      obj: JSON-serialisable object (NaN/inf are refused).
      path: destination; its folder is created if needed.

    Raises:
      DataError: the folder cannot be written, or the object holds NaN/inf.
    """
    path = Path(path)
    try:
        text = json.dumps(obj, allow_nan=False)
    except ValueError as e:
        raise DataError(f"{path}: cannot write non-finite numbers as JSON ({e})") from None
    try:
        atomic.write_text(path, text)
    except OSError as e:
        raise DataError(f"{path}: cannot write ({e.strerror})") from None


def write_sequence(seq: Sequence, path: str | os.PathLike, fmt: str = "2018",
                   check_official: bool = True) -> None:
    """Writes one sequence as a PoseTrack file, atomically.

    Args:
      seq: the sequence.
      path: the `.json` file (poseval pairs files by name: use `<seq.name>.json`).
      fmt: "2018", "2017" or "2021" (PoseTrack21).
      check_official: see `sequence_to_json`.

    Raises:
      DataError: see `sequence_to_json`, or an unwritable path.
    """
    write_json_atomic(sequence_to_json(seq, fmt, check_official), path)


def write_sequences(seqs: Iterable[Sequence], out_dir: str | os.PathLike, fmt: str = "2018",
                    check_official: bool = True) -> list[Path]:
    """Writes each sequence to `out_dir/<name>.json`.

    Args:
      seqs: the sequences (names must be unique).
      out_dir: the folder (created if needed).
      fmt: "2018", "2017" or "2021" (PoseTrack21).
      check_official: see `sequence_to_json`.

    Returns:
      The paths written, in order.

    Raises:
      DataError: duplicate names, or see `write_sequence`.
    """
    seqs = list(seqs)
    names = [s.name for s in seqs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"{out_dir}: two sequences are named {dup!r}")
    paths = [Path(out_dir) / f"{s.name}.json" for s in seqs]
    for seq, path in zip(seqs, paths, strict=True):
        write_sequence(seq, path, fmt, check_official)
    return paths
