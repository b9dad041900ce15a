"""Readers of PoseTrack 2017 and 2018 files (and the 2018 body PoseTrack21 shares).

The layout is detected per file. A file holds one video (a sequence folder has one file per
video, named like the video) or several (a combined file, split by the image folder).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data.posetrack.read_2017 import parse_2017
from gnnpose_jax.data.posetrack.spec import (
    ANNOTATION_ID_FACTOR,
    BOX_LEN,
    DEFAULT_CATEGORY,
    KP_FIELDS,
    MAX_TRACK_ID,
    PERSON_CATEGORY_ID,
    default_vid_id,
    frame_index,
    official_image_id,
    reusable_categories,
)
from gnnpose_jax.data.posetrack.validate import (
    as_dict,
    as_list,
    check_track_ids,
    fail,
    flag,
    frame_where,
    integer,
    is_integral,
    is_number,
    load_json,
    number,
    optional_rows,
    rows,
    short,
    track_id,
    vector,
)
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError

_IMAGE_KEYS_2018 = ("file_name", "id", "is_labeled", "ignore_regions_x", "ignore_regions_y")
_ANN_KEYS_2018 = ("keypoints", "scores", "track_id", "image_id", "bbox", "bbox_head", "score")


def detect_format(data: Any, src: str = "<data>") -> str:
    """'2017' for an `annolist` file, '2018' for a COCO-like one; DataError otherwise."""
    if isinstance(data, dict) and "annolist" in data:
        return "2017"
    if isinstance(data, dict) and "images" in data:
        return "2018"
    raise DataError(f"{src}: unknown layout: expected a PoseTrack 2017 object with 'annolist' "
                    f"or a 2018 object with 'images', 'annotations' and 'categories'")


# --------------------------------------------------------------------------------------------
# 2018 (COCO-like)


def _category_slots(data: dict, src: str) -> np.ndarray:
    """(C,) slot of each keypoint the file's person category names (-1: not a PoseTrack joint)."""
    if "categories" not in data:
        return np.arange(joints.NUM_JOINTS)
    cats = as_list(data["categories"], src, "", "categories")
    people = [c for c in cats if isinstance(c, dict) and c.get("name") == "person"]
    if len(people) != 1:
        fail(src, "", "categories", "exactly one entry named 'person'", cats)
    names = people[0].get("keypoints", list(joints.JOINT_NAMES))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        fail(src, "", "categories[].keypoints", "a list of joint names", names)
    missing = [n for n in joints.POSETRACK17_NAMES if n not in names]
    if missing or len(set(names)) != len(names):
        fail(src, "", "categories[].keypoints",
             "each PoseTrack joint name once" + (f" (missing {missing[0]})" if missing else ""),
             names)
    return np.array([joints.JOINT_NAMES.index(n) if n in joints.JOINT_NAMES else -1
                     for n in names], dtype=int)


def _to_slots(values: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Scatters (N, C, ...) per-name values into (N, K, ...) slots; unknown names are dropped."""
    if np.array_equal(slots, np.arange(joints.NUM_JOINTS)):
        return values
    out = np.zeros((values.shape[0], joints.NUM_JOINTS) + values.shape[2:])
    keep = slots >= 0
    out[:, slots[keep]] = values[:, keep]
    return out


def _regions_2018(img: dict, src: str, where: str) -> list[np.ndarray]:
    """Ignore polygons from a 2018 image's `ignore_regions_x` / `ignore_regions_y`."""
    if "ignore_regions_x" not in img and "ignore_regions_y" not in img:
        return []
    xs = as_list(img.get("ignore_regions_x"), src, where, "ignore_regions_x")
    ys = as_list(img.get("ignore_regions_y"), src, where, "ignore_regions_y")
    if len(xs) != len(ys):
        fail(src, where, "ignore_regions_y", f"{len(xs)} regions like ignore_regions_x", ys)
    regions = []
    for r, (x, y) in enumerate(zip(xs, ys, strict=True)):
        x = as_list(x, src, where, f"ignore_regions_x[{r}]")
        vx = vector(x, len(x), src, where, f"ignore_regions_x[{r}]")
        vy = vector(y, len(x), src, where, f"ignore_regions_y[{r}]")
        regions.append(np.stack([vx, vy], axis=1).reshape(len(x), 2))
    return regions


def _parse_images_2018(images: list, src: str) -> tuple[list[Frame], dict[int, int]]:
    """Frames (no people yet) and the image id -> frame position map of a 2018 file."""
    frames, id_to_pos = [], {}
    for i, img in enumerate(images):
        img = as_dict(img, src, frame_where(i), "images[]")
        name = img.get("file_name")
        if not isinstance(name, str) or not name:
            fail(src, frame_where(i), "file_name", "a non-empty string", name)
        where = frame_where(i, name)
        image_id = integer(img.get("id"), src, where, "id")
        if image_id in id_to_pos:
            fail(src, where, "id", "ids unique within the file", image_id)
        id_to_pos[image_id] = i
        labeled = flag(img["is_labeled"], src, where, "is_labeled") \
            if "is_labeled" in img else None
        extra = {k: v for k, v in img.items() if k not in _IMAGE_KEYS_2018}
        frames.append(Frame(file_name=name, frame_index=frame_index(name, i),
                            is_labeled=labeled, people=[],
                            ignore_regions=_regions_2018(img, src, where),
                            image_id=image_id, extra=extra))
    return frames, id_to_pos


def _person_2018(ann: dict, keypoints: np.ndarray, src: str, where: Callable[[], str],
                 max_track_id: int, person_ids: bool) -> Person:
    """One annotation's track id, person score and extras (the arrays come in bulk).

    Args:
      ann: the annotation.
      keypoints: its (K, 3) keypoints, already validated.
      src: file name for errors.
      where: callable giving the place, called only for an error message.
      max_track_id: track ids must be integers in [0, max_track_id).
      person_ids: check that a `person_id`, if any, is an integer (PoseTrack21).

    Returns:
      The person (scores and boxes are set by the caller).
    """
    tid = ann.get("track_id")
    if type(tid) is not int or not 0 <= tid < max_track_id:
        tid = track_id(tid, src, where(), max_track_id)
    person_id = ann.get("person_id")
    if person_ids and type(person_id) is not int and person_id is not None \
            and not is_integral(person_id):
        fail(src, where(), "person_id", "an integer", person_id)
    extra = {k: v for k, v in ann.items() if k not in _ANN_KEYS_2018}
    if extra.get("category_id") == PERSON_CATEGORY_ID and type(extra["category_id"]) is int:
        del extra["category_id"]
    score = None if ann.get("score") is None else number(ann["score"], src, where(), "score")
    return Person(keypoints=keypoints, track_id=tid, extra=extra, score=score)


def parse_2018(data: dict, src: str, require_annotations: bool = False,
               max_track_id: int = MAX_TRACK_ID, person_ids: bool = False
               ) -> tuple[list[Frame], dict]:
    """Frames of a 2018-layout object (all its videos) and its top-level extras.

    Args:
      data: a dict with an `images` key.
      src: file name for errors.
      require_annotations: a missing `annotations` list is an error.
      max_track_id, person_ids: see `_person_2018` (PoseTrack21 widens and adds them).
    """
    images = as_list(data["images"], src, "", "images")
    if not images:
        raise DataError(f"{src}: empty sequence: 'images' is empty")
    if require_annotations and "annotations" not in data:
        raise DataError(f"{src}: no 'annotations' list: a PoseTrack 2018 predictions file "
                        "needs one (an empty list if nobody was found)")
    anns = as_list(data.get("annotations", []), src, "", "annotations")
    slots = _category_slots(data, src)
    num_names = len(slots)
    frames, id_to_pos = _parse_images_2018(images, src)

    owner, kp_rows = [], []  # owner: (frame position, annotation, person index in frame)
    counts = [0] * len(frames)
    for k, ann in enumerate(anns):
        ann = as_dict(ann, src, f"annotation {k}", "annotations[]")
        pos = id_to_pos.get(ann.get("image_id")) if is_number(ann.get("image_id")) else None
        if pos is None:
            fail(src, f"annotation {k}", "image_id", "the id of an image in the file",
                 ann.get("image_id"))
        kps = ann.get("keypoints")
        if not isinstance(kps, list) or len(kps) != KP_FIELDS * num_names:
            fail(src, frame_where(pos, frames[pos].file_name, counts[pos]), "keypoints",
                 f"a list of {KP_FIELDS * num_names} numbers",
                 f"{len(kps)} values" if isinstance(kps, list) else kps)
        owner.append((pos, ann, counts[pos]))
        kp_rows.append(kps)
        counts[pos] += 1

    def where_of(i: int) -> str:
        pos, _, index = owner[i]
        return frame_where(pos, frames[pos].file_name, index)

    keypoints = rows(kp_rows, KP_FIELDS * num_names, src, where_of, "keypoints")
    keypoints = _to_slots(keypoints.reshape(-1, num_names, KP_FIELDS), slots)
    fields = {name: optional_rows([a for _, a, _ in owner], name, length, src, where_of)
              for name, length in (("scores", num_names), ("bbox_head", BOX_LEN),
                                   ("bbox", BOX_LEN))}
    scores = _to_slots(fields["scores"][0], slots)
    head_boxes = fields["bbox_head"][0].copy()
    head_boxes[:, 2:] += head_boxes[:, :2]
    # Keep the file's [x, y, w, h] where re-deriving it from x1..y2 would round differently.
    rounds = np.any(np.concatenate([head_boxes[:, :2], head_boxes[:, 2:] - head_boxes[:, :2]],
                                   axis=1) != fields["bbox_head"][0], axis=1)
    for i, (pos, ann, _) in enumerate(owner):
        frame = frames[pos]
        person = _person_2018(ann, keypoints[i], src, lambda i=i: where_of(i), max_track_id,
                              person_ids)
        if fields["scores"][1][i]:
            person.scores = scores[i]
        if fields["bbox_head"][1][i]:
            person.head_box = head_boxes[i]
            if rounds[i]:
                person.extra["bbox_head"] = ann["bbox_head"]
        if fields["bbox"][1][i]:
            person.box = fields["bbox"][0][i]
        default_id = frame.image_id * ANNOTATION_ID_FACTOR + len(frame.people)
        if person.extra.get("id") == default_id and type(person.extra["id"]) is int:
            del person.extra["id"]
        frame.people.append(person)

    for i, frame in enumerate(frames):
        if frame.is_labeled is None:
            frame.is_labeled = bool(frame.people)
        check_track_ids(frame, src, frame_where(i, frame.file_name))
    extra = {k: v for k, v in data.items() if k not in ("images", "annotations", "categories")}
    cats = data.get("categories")
    if reusable_categories(cats) and cats != [DEFAULT_CATEGORY]:
        extra["categories"] = cats
    return frames, extra


# --------------------------------------------------------------------------------------------
# Sequences


def group_videos(frames: list[Frame], extra: dict, src: str,
                 single_name: str | None) -> list[Sequence]:
    """Splits a file's frames into sequences by image folder; drops derivable extras.

    Args:
      frames: all frames of the file, in file order.
      extra: the file's top-level extras (copied into every sequence).
      src: file name for errors.
      single_name: if given, the file must hold one video, named this.

    Returns:
      The sequences, in order of first appearance.
    """
    groups: dict[str, list[Frame]] = {}
    for frame in frames:
        groups.setdefault(os.path.dirname(frame.file_name), []).append(frame)
    if single_name is not None and len(groups) > 1:
        raise DataError(f"{src}: holds {len(groups)} videos (image folders "
                        f"{', '.join(short(g) for g in sorted(groups)[:2])}, ...); read it "
                        f"with read_sequences")
    seqs = []
    for folder, group in groups.items():
        name = single_name or os.path.basename(folder) or Path(src).stem
        for frame in group:
            default_image_id = frame.image_id if frame.image_id is not None \
                else official_image_id(frame.file_name)
            defaults = {"frame_id": default_image_id, "nframes": len(group),
                        "vid_id": default_vid_id(frame.file_name, name)}
            for key, value in defaults.items():
                if value is not None and key in frame.extra and \
                        type(frame.extra[key]) is type(value) and frame.extra[key] == value:
                    del frame.extra[key]
        seqs.append(Sequence(name=name, frames=group, extra=copy.deepcopy(extra)))
    return seqs


def sequences_from_json(data: Any, src: str = "<data>", single_name: str | None = None,
                        require_annotations: bool = False) -> list[Sequence]:
    """Parses the JSON object of a PoseTrack file (either layout) into sequences.

    Args:
      data: the parsed JSON.
      src: where it came from, for error messages.
      single_name: if given, the data must hold exactly one video, which gets this name;
        otherwise each video is named after its image folder.
      require_annotations: a 2018 file without `annotations` is an error (for predictions,
        where it would otherwise read as an empty submission).

    Returns:
      One `Sequence` per video.

    Raises:
      DataError: unknown layout or malformed content (one line: file, frame, field).
    """
    fmt = detect_format(data, src)
    frames, extra = (parse_2017(data, src) if fmt == "2017"
                     else parse_2018(data, src, require_annotations))
    return group_videos(frames, extra, src, single_name)


def sequence_files(folder: Path) -> list[Path]:
    """The `.json` files of a sequence folder, sorted by name; DataError if there are none."""
    files = sorted(p for p in folder.iterdir() if p.suffix == ".json" and p.is_file())
    if not files:
        raise DataError(f"{folder}: no .json sequence files in the folder")
    return files


def read_sequence(path: str | os.PathLike, require_annotations: bool = False) -> Sequence:
    """Reads one video's PoseTrack file (2017 or 2018, detected); named after the file stem.

    Args:
      path: a `.json` file holding one video.
      require_annotations: see `sequences_from_json`.

    Returns:
      The sequence.

    Raises:
      DataError: unreadable, malformed, or holding more than one video.
    """
    path = Path(path)
    return sequences_from_json(load_json(path), str(path), single_name=path.stem,
                               require_annotations=require_annotations)[0]


def read_sequences(path: str | os.PathLike, require_annotations: bool = False
                   ) -> list[Sequence]:
    """Reads a sequence folder (one JSON per video, sorted by name) or a combined file.

    Args:
      path: a folder of `.json` files, or one file holding one or more videos (each named
        after its image folder, e.g. `012834_mpii_test`).
      require_annotations: see `sequences_from_json`.

    Returns:
      The sequences.

    Raises:
      DataError: missing path, a folder without JSON files, or any bad file.
    """
    path = Path(path)
    if path.is_dir():
        return [read_sequence(f, require_annotations) for f in sequence_files(path)]
    return sequences_from_json(load_json(path), str(path),
                               require_annotations=require_annotations)
