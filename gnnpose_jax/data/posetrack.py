"""PoseTrack annotation and prediction files, 2017 and 2018 layouts: readers and writers.

Both layouts read into the dataclasses of `types.py` and write back from them without loss:

- **2017** (`{"annolist": [...]}`): 15 joints with ids 0..14 (`joints.POSETRACK17_NAMES`),
  mapped into the 17 slots. Two documented extensions make 2018 -> 2017 -> 2018 lossless for
  everything but the non-PoseTrack slots (ears): a person's `bbox` [x, y, w, h] and a frame's
  `image_id`. The official toolkit ignores both.
- **2018** (COCO-like `images` / `annotations` / `categories`): 17 x 3 keypoints in the
  layout named by `categories[0].keypoints`.

The layout is detected per file. A file holds one video (a sequence folder has one file per
video, named like the video) or several (a combined file, split by the image folder).

Fields the model does not interpret go to the `extra` dicts and are written back verbatim.
Fields that can be derived (2018 `frame_id`, `vid_id`, `nframes`, annotation `id` and
`category_id`) are dropped from `extra` when they equal the derived value and re-derived on
writing, so data made in memory and data read from a file write the same way.

Everything written here loads in the official toolkit (poseval) unchanged: 2018 files carry the
person category with its keypoint names and a track id on every person, and
`check_official=True` (the default) refuses sequence and frame names poseval cannot parse.
Bad input raises `DataError` with one line naming the file, the frame and the field.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from gnnpose_jax import atomic
from gnnpose_jax.data import joints
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError

FORMATS = ("2017", "2018", "2021")

#: Track ids are integers in [0, MAX_TRACK_ID) (poseval offsets them per sequence by this).
MAX_TRACK_ID = 10000

#: poseval's score for a predicted joint that has none.
MIN_SCORE = -9999.0

#: poseval's frame numbers are below this; it builds image ids from them.
MAX_FRAME_NUMBER = 10000

#: The official toolkit's sequence-type codes (`<number>_<type>[_anything]` folder names).
SEQUENCE_TYPES = {"mpii": 1, "bonn": 2, "mpiinew": 3}

#: poseval's image id: type * TYPE_FACTOR + sequence number * SEQUENCE_FACTOR + frame number.
TYPE_FACTOR = 10_000_000_000
SEQUENCE_FACTOR = 10_000

#: The default 2018 annotation id is image_id * ANNOTATION_ID_FACTOR + index in the frame.
ANNOTATION_ID_FACTOR = 100

PERSON_CATEGORY_ID = 1

#: The `categories` entry the official converter writes (1-based skeleton over the 17 slots).
DEFAULT_CATEGORY = {
    "supercategory": "person",
    "id": PERSON_CATEGORY_ID,
    "name": "person",
    "keypoints": list(joints.JOINT_NAMES),
    "skeleton": [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7],
                 [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5],
                 [4, 6], [5, 7]],
}

# Digit runs are bounded so that int() stays cheap and within Python's conversion limit.
_FOLDER_RE = re.compile(r"^(\d{1,12})_(mpii|bonn|mpiinew)(_.*)?$")
_FRAME_RE = re.compile(r"^(\d{1,12})(\.[^/]*)?$")
_KP_FIELDS = 3
_BOX_LEN = 4
_GOT_CHARS = 40

_IMAGE_KEYS_2018 = ("file_name", "id", "is_labeled", "ignore_regions_x", "ignore_regions_y")
_ANN_KEYS_2018 = ("keypoints", "scores", "track_id", "image_id", "bbox", "bbox_head", "score")
_FRAME_KEYS_2017 = ("image", "annorect", "is_labeled", "ignore_regions", "image_id")
_RECT_KEYS_2017 = ("track_id", "x1", "y1", "x2", "y2", "score", "annopoints", "bbox")


# --------------------------------------------------------------------------------------------
# Error reporting


def _short(value: Any) -> str:
    """A one-line, truncated repr of a bad value for an error message."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= _GOT_CHARS else text[:_GOT_CHARS] + "..."


def _fail(src: str, where: str, field: str, expected: str, got: Any = ...) -> NoReturn:
    """Raises the one-line DataError naming file, place, field and expectation."""
    place = f"{src}: {where}: " if where else f"{src}: "
    tail = "" if got is ... else f", got {_short(got)}"
    message = f"{place}field '{field}': expected {expected}{tail}"
    raise DataError(message.replace("\n", "\\n").replace("\r", "\\r"))


def _frame_where(index: int, file_name: str | None = None, person: int | None = None) -> str:
    """'frame 3 (images/.../000003.jpg), person 1' for error messages."""
    text = f"frame {index}" + (f" ({file_name})" if file_name else "")
    return text if person is None else f"{text}, person {person}"


# --------------------------------------------------------------------------------------------
# Scalar and array validation


def _is_number(value: Any) -> bool:
    """True for JSON numbers (bool excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    """True for JSON numbers that are finite as float64 (huge integers are not)."""
    if not _is_number(value):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _is_integral(value: Any) -> bool:
    """True for finite JSON numbers with an integer value."""
    return _is_finite(value) and float(value).is_integer()


def _number(value: Any, src: str, where: str, field: str) -> float:
    """A finite float, or DataError."""
    if not _is_finite(value):
        _fail(src, where, field, "a finite number", value)
    return float(value)


def _unwrap(value: Any, src: str, where: str, field: str) -> Any:
    """The single element of a 2017-style `[v]` list (a bare scalar is accepted too)."""
    if isinstance(value, list):
        if len(value) != 1:
            _fail(src, where, field, "a one-element list", value)
        return value[0]
    return value


def _track_id(value: Any, src: str, where: str) -> int:
    """An integer track id in [0, MAX_TRACK_ID); integral floats are accepted."""
    if not _is_integral(value) or not 0 <= value < MAX_TRACK_ID:
        _fail(src, where, "track_id", f"an integer in [0, {MAX_TRACK_ID})", value)
    return int(value)


def _int(value: Any, src: str, where: str, field: str) -> int:
    """An integer (integral floats accepted), or DataError."""
    if not _is_integral(value):
        _fail(src, where, field, "an integer", value)
    return int(value)


def _flag(value: Any, src: str, where: str, field: str) -> bool:
    """A boolean flag written as bool, 0/1 or a 2017-style [0/1]."""
    value = _unwrap(value, src, where, field)
    if isinstance(value, bool) or (_is_number(value) and value in (0, 1)):
        return bool(value)
    _fail(src, where, field, "a boolean or 0/1", value)


def _dict(value: Any, src: str, where: str, field: str) -> dict:
    """The value if it is a JSON object, else DataError."""
    if not isinstance(value, dict):
        _fail(src, where, field, "an object", value)
    return value


def _list(value: Any, src: str, where: str, field: str) -> list:
    """The value if it is a JSON list, else DataError."""
    if not isinstance(value, list):
        _fail(src, where, field, "a list", value)
    return value


def _numeric(value: Any) -> np.ndarray | None:
    """float64 array of a (nested) list of finite numbers, or None if it is anything else."""
    try:
        arr = np.array(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.dtype.kind not in "biuf":
        return None
    arr = arr.astype(np.float64)
    return arr if np.isfinite(arr).all() else None


def _vector(value: Any, length: int, src: str, where: str, field: str) -> np.ndarray:
    """(length,) float64 from a list of finite numbers, or DataError."""
    if not isinstance(value, list) or len(value) != length:
        n = len(value) if isinstance(value, list) else None
        _fail(src, where, field, f"a list of {length} numbers",
              f"{n} values" if n is not None else value)
    arr = _numeric(value)
    if arr is not None and arr.shape == (length,):
        return arr
    for v in value:
        if not _is_finite(v):
            _fail(src, where, field, "finite numbers", v)
    return np.asarray(value, dtype=np.float64)


def _rows(values: list, length: int, src: str, where_of: Any, field: str) -> np.ndarray:
    """(N, length) float64 from N lists of finite numbers; locates the first bad row on error.

    Args:
      values: N candidate rows.
      length: row length.
      src: file name for errors.
      where_of: callable row index -> place string, for errors.
      field: field name for errors.

    Returns:
      The stacked rows.
    """
    if not values:
        return np.zeros((0, length))
    arr = _numeric(values) if all(isinstance(v, list) for v in values) else None
    if arr is not None and arr.shape == (len(values), length):
        return arr
    return np.stack([_vector(row, length, src, where_of(i), field)
                     for i, row in enumerate(values)])


# --------------------------------------------------------------------------------------------
# Names and ids


def video_folder(file_name: str) -> str:
    """The folder of a frame's image path (`images/val/000342_mpii_test/000010.jpg` -> `...`)."""
    return os.path.basename(os.path.dirname(file_name))


def _frame_number(file_name: str) -> int | None:
    """The frame number of `.../000010.jpg` (10), or None if the name is not a number."""
    m = _FRAME_RE.match(os.path.basename(file_name))
    return int(m.group(1)) if m else None


def official_image_id(file_name: str) -> int | None:
    """poseval's image id for a frame path, or None if poseval cannot parse the path.

    Args:
      file_name: e.g. `images/val/000342_mpii_test/000010.jpg`.

    Returns:
      type * 1e10 + sequence number * 1e4 + frame number (10003420010 here), or None.
    """
    m = _FOLDER_RE.match(video_folder(file_name))
    number = _frame_number(file_name)
    if m is None or number is None or number >= MAX_FRAME_NUMBER:
        return None
    return SEQUENCE_TYPES[m.group(2)] * TYPE_FACTOR + int(m.group(1)) * SEQUENCE_FACTOR + number


def _default_vid_id(file_name: str, seq_name: str) -> str:
    """The 2018 `vid_id` written when none is known: the folder's leading number."""
    folder = video_folder(file_name) or seq_name
    return folder.split("_")[0]


def _frame_index(file_name: str, position: int) -> int:
    """The frame's position in the video: its file number, else its position in the file."""
    number = _frame_number(file_name)
    return position if number is None else number


# --------------------------------------------------------------------------------------------
# Reading


def _load_json(path: Path) -> Any:
    """Parses a JSON file; unreadable or malformed files raise one-line DataErrors."""
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: expected a JSON file, found a folder") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}: "
                        f"{e.msg}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply") from None


def detect_format(data: Any, src: str = "<data>") -> str:
    """'2017' for an `annolist` file, '2018' for a COCO-like one; DataError otherwise."""
    if isinstance(data, dict) and "annolist" in data:
        return "2017"
    if isinstance(data, dict) and "images" in data:
        return "2018"
    raise DataError(f"{src}: unknown layout: expected a PoseTrack 2017 object with 'annolist' "
                    f"or a 2018 object with 'images', 'annotations' and 'categories'")


def _category_slots(data: dict, src: str) -> np.ndarray:
    """(C,) slot of each keypoint the file's person category names (-1: not a PoseTrack joint)."""
    if "categories" not in data:
        return np.arange(joints.NUM_JOINTS)
    cats = _list(data["categories"], src, "", "categories")
    people = [c for c in cats if isinstance(c, dict) and c.get("name") == "person"]
    if len(people) != 1:
        _fail(src, "", "categories", "exactly one entry named 'person'", cats)
    names = people[0].get("keypoints", list(joints.JOINT_NAMES))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        _fail(src, "", "categories[].keypoints", "a list of joint names", names)
    missing = [n for n in joints.POSETRACK17_NAMES if n not in names]
    if missing or len(set(names)) != len(names):
        _fail(src, "", "categories[].keypoints",
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
    xs = _list(img.get("ignore_regions_x"), src, where, "ignore_regions_x")
    ys = _list(img.get("ignore_regions_y"), src, where, "ignore_regions_y")
    if len(xs) != len(ys):
        _fail(src, where, "ignore_regions_y", f"{len(xs)} regions like ignore_regions_x", ys)
    regions = []
    for r, (x, y) in enumerate(zip(xs, ys, strict=True)):
        x = _list(x, src, where, f"ignore_regions_x[{r}]")
        vx = _vector(x, len(x), src, where, f"ignore_regions_x[{r}]")
        vy = _vector(y, len(x), src, where, f"ignore_regions_y[{r}]")
        regions.append(np.stack([vx, vy], axis=1).reshape(len(x), 2))
    return regions


def _xywh(head_box: np.ndarray) -> list:
    """[x1, y1, x2, y2] -> [x, y, w, h] as JSON numbers."""
    x1, y1, x2, y2 = (float(v) for v in head_box)
    return [_num(x1), _num(y1), _num(x2 - x1), _num(y2 - y1)]


def _parse_images_2018(images: list, src: str) -> tuple[list[Frame], dict[int, int]]:
    """Frames (no people yet) and the image id -> frame position map of a 2018 file."""
    frames, id_to_pos = [], {}
    for i, img in enumerate(images):
        img = _dict(img, src, _frame_where(i), "images[]")
        name = img.get("file_name")
        if not isinstance(name, str) or not name:
            _fail(src, _frame_where(i), "file_name", "a non-empty string", name)
        where = _frame_where(i, name)
        image_id = _int(img.get("id"), src, where, "id")
        if image_id in id_to_pos:
            _fail(src, where, "id", "ids unique within the file", image_id)
        id_to_pos[image_id] = i
        labeled = _flag(img["is_labeled"], src, where, "is_labeled") \
            if "is_labeled" in img else None
        extra = {k: v for k, v in img.items() if k not in _IMAGE_KEYS_2018}
        frames.append(Frame(file_name=name, frame_index=_frame_index(name, i),
                            is_labeled=labeled, people=[],
                            ignore_regions=_regions_2018(img, src, where),
                            image_id=image_id, extra=extra))
    return frames, id_to_pos


def _parse_2018(data: dict, src: str, require_annotations: bool = False
                ) -> tuple[list[Frame], dict]:
    """Frames of a 2018 file (all its videos) and its top-level extras."""
    images = _list(data["images"], src, "", "images")
    if not images:
        raise DataError(f"{src}: empty sequence: 'images' is empty")
    if require_annotations and "annotations" not in data:
        raise DataError(f"{src}: no 'annotations' list: a PoseTrack 2018 predictions file "
                        "needs one (an empty list if nobody was found)")
    anns = _list(data.get("annotations", []), src, "", "annotations")
    slots = _category_slots(data, src)
    num_names = len(slots)
    frames, id_to_pos = _parse_images_2018(images, src)

    owner, kp_rows = [], []  # owner: (frame position, annotation, person index in frame)
    counts = [0] * len(frames)
    for k, ann in enumerate(anns):
        ann = _dict(ann, src, f"annotation {k}", "annotations[]")
        pos = id_to_pos.get(ann.get("image_id")) if _is_number(ann.get("image_id")) else None
        if pos is None:
            _fail(src, f"annotation {k}", "image_id", "the id of an image in the file",
                  ann.get("image_id"))
        kps = ann.get("keypoints")
        if not isinstance(kps, list) or len(kps) != _KP_FIELDS * num_names:
            _fail(src, _frame_where(pos, frames[pos].file_name, counts[pos]), "keypoints",
                  f"a list of {_KP_FIELDS * num_names} numbers",
                  f"{len(kps)} values" if isinstance(kps, list) else kps)
        owner.append((pos, ann, counts[pos]))
        kp_rows.append(kps)
        counts[pos] += 1

    def where_of(i: int) -> str:
        pos, _, index = owner[i]
        return _frame_where(pos, frames[pos].file_name, index)

    keypoints = _rows(kp_rows, _KP_FIELDS * num_names, src, where_of, "keypoints")
    keypoints = _to_slots(keypoints.reshape(-1, num_names, _KP_FIELDS), slots)
    fields = {name: _optional_rows([a for _, a, _ in owner], name, length, src, where_of)
              for name, length in (("scores", num_names), ("bbox_head", _BOX_LEN),
                                   ("bbox", _BOX_LEN))}
    scores = _to_slots(fields["scores"][0], slots)
    head_boxes = fields["bbox_head"][0].copy()
    head_boxes[:, 2:] += head_boxes[:, :2]
    # Keep the file's [x, y, w, h] where re-deriving it from x1..y2 would round differently.
    rounds = np.any(np.concatenate([head_boxes[:, :2], head_boxes[:, 2:] - head_boxes[:, :2]],
                                   axis=1) != fields["bbox_head"][0], axis=1)
    for i, (pos, ann, _) in enumerate(owner):
        frame = frames[pos]
        person = _parse_person_2018(ann, keypoints[i], src, i, where_of)
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
        _check_track_ids(frame, src, _frame_where(i, frame.file_name))
    extra = {k: v for k, v in data.items() if k not in ("images", "annotations", "categories")}
    cats = data.get("categories")
    if _reusable_categories(cats) and cats != [DEFAULT_CATEGORY]:
        extra["categories"] = cats
    return frames, extra


def _optional_rows(anns: list[dict], name: str, length: int, src: str,
                   where_of: Any) -> tuple[np.ndarray, list[bool]]:
    """(N, length) values of an optional per-annotation list field, and which have it.

    A missing field, null, or (for `scores`) an empty list means "not given".
    """
    given = [a.get(name) is not None and a.get(name) != [] for a in anns]
    picked = [i for i, g in enumerate(given) if g]
    out = np.zeros((len(anns), length))
    out[picked] = _rows([anns[i][name] for i in picked], length, src,
                        lambda k: where_of(picked[k]), name)
    return out, given


def _parse_person_2018(ann: dict, keypoints: np.ndarray, src: str, index: int,
                       where_of: Any) -> Person:
    """One 2018 annotation's track id, person score and extras (the arrays come in bulk).

    Args:
      ann: the annotation.
      keypoints: its (K, 3) keypoints, already validated.
      src: file name for errors.
      index: its position, for `where_of`.
      where_of: callable index -> place string, called only for an error message.

    Returns:
      The person (scores and boxes are set by the caller).
    """
    track_id = ann.get("track_id")
    if not _is_integral(track_id) or not 0 <= track_id < MAX_TRACK_ID:
        _track_id(track_id, src, where_of(index))
    extra = {k: v for k, v in ann.items() if k not in _ANN_KEYS_2018}
    if extra.get("category_id") == PERSON_CATEGORY_ID and type(extra["category_id"]) is int:
        del extra["category_id"]
    score = None
    if ann.get("score") is not None:
        score = _number(ann["score"], src, where_of(index), "score")
    return Person(keypoints=keypoints, track_id=int(track_id), extra=extra, score=score)


def _check_track_ids(frame: Frame, src: str, where: str) -> None:
    """DataError if two people of a frame share a track id."""
    ids = [p.track_id for p in frame.people]
    if len(set(ids)) != len(ids):
        dup = next(t for t in ids if ids.count(t) > 1)
        _fail(src, where, "track_id", "ids unique within the frame", dup)


def _parse_regions_2017(value: Any, src: str, where: str) -> list[np.ndarray]:
    """Ignore polygons from a 2017 frame's `ignore_regions`."""
    regions = []
    for r, region in enumerate(_list(value, src, where, "ignore_regions")):
        field = f"ignore_regions[{r}].point"
        points = _list(_dict(region, src, where, f"ignore_regions[{r}]").get("point"),
                       src, where, field)
        xy = np.zeros((len(points), 2))
        for q, point in enumerate(points):
            point = _dict(point, src, where, field)
            xy[q, 0] = _number(_unwrap(point.get("x"), src, where, f"{field}.x"), src, where,
                               f"{field}.x")
            xy[q, 1] = _number(_unwrap(point.get("y"), src, where, f"{field}.y"), src, where,
                               f"{field}.y")
        regions.append(xy)
    return regions


def _parse_points_2017(rect: dict, src: str, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(K, 3) keypoints and (K,) scores (None if no point has one) of a 2017 person."""
    keypoints = np.zeros((joints.NUM_JOINTS, _KP_FIELDS))
    scores = np.zeros(joints.NUM_JOINTS)
    has_score = np.zeros(joints.NUM_JOINTS, bool)
    annopoints = _list(rect.get("annopoints", []), src, where, "annopoints")
    if not annopoints:
        return keypoints, None
    first = _dict(annopoints[0], src, where, "annopoints[0]")
    points = _list(first.get("point", []), src, where, "annopoints[0].point")
    seen = set()
    for point in points:
        point = _dict(point, src, where, "point")
        pid = _unwrap(point.get("id"), src, where, "point.id")
        if not (_is_integral(pid) and 0 <= pid < len(joints.POSETRACK17_NAMES)) or pid in seen:
            _fail(src, where, "point.id", "a joint id in 0..14, once per person", pid)
        seen.add(pid)
        slot = joints.POSETRACK17_TO_SLOT[int(pid)]
        keypoints[slot, 0] = _number(_unwrap(point.get("x"), src, where, "point.x"), src, where,
                                     "point.x")
        keypoints[slot, 1] = _number(_unwrap(point.get("y"), src, where, "point.y"), src, where,
                                     "point.y")
        visible = point.get("is_visible", 1)
        keypoints[slot, 2] = _number(_unwrap(visible, src, where, "point.is_visible"), src, where,
                                     "point.is_visible")
        if "score" in point:
            scores[slot] = _number(_unwrap(point["score"], src, where, "point.score"), src,
                                   where, "point.score")
            has_score[slot] = True
    if not has_score.any():
        return keypoints, None
    # A point without a score gets the official fallback score, as poseval would give it.
    missing = ~has_score & np.any(keypoints != 0, axis=1)
    scores[missing] = MIN_SCORE
    return keypoints, scores


def _parse_person_2017(rect: Any, src: str, where: str) -> Person:
    """One 2017 `annorect` entry."""
    rect = _dict(rect, src, where, "annorect[]")
    if "track_id" not in rect:
        _fail(src, where, "track_id", f"an integer in [0, {MAX_TRACK_ID})")
    track_id = _track_id(_unwrap(rect["track_id"], src, where, "track_id"), src, where)
    keypoints, scores = _parse_points_2017(rect, src, where)
    head_box = box = score = None
    corners = [k for k in ("x1", "y1", "x2", "y2") if k in rect]
    if corners:
        if len(corners) != _BOX_LEN:
            _fail(src, where, "x1, y1, x2, y2", "all four head-box corners", corners)
        head_box = np.array([_number(_unwrap(rect[k], src, where, k), src, where, k)
                             for k in ("x1", "y1", "x2", "y2")])
    if "bbox" in rect:
        box = _vector(rect["bbox"], _BOX_LEN, src, where, "bbox")
    if rect.get("score") is not None:
        score = _number(_unwrap(rect["score"], src, where, "score"), src, where, "score")
    extra = {k: v for k, v in rect.items() if k not in _RECT_KEYS_2017}
    return Person(keypoints=keypoints, track_id=track_id, scores=scores, head_box=head_box,
                  box=box, score=score, extra=extra)


def _parse_2017(data: dict, src: str) -> tuple[list[Frame], dict]:
    """Frames of a 2017 file (all its videos) and its top-level extras."""
    annolist = _list(data["annolist"], src, "", "annolist")
    if not annolist:
        raise DataError(f"{src}: empty sequence: 'annolist' is empty")
    frames = []
    for i, entry in enumerate(annolist):
        entry = _dict(entry, src, _frame_where(i), "annolist[]")
        image = _list(entry.get("image"), src, _frame_where(i), "image")
        first = _dict(image[0] if image else None, src, _frame_where(i), "image[0]")
        name = first.get("name")
        if not isinstance(name, str) or not name:
            _fail(src, _frame_where(i), "image[0].name", "a non-empty string", name)
        where = _frame_where(i, name)
        rects = _list(entry.get("annorect", []), src, where, "annorect")
        people = [_parse_person_2017(r, src, _frame_where(i, name, k))
                  for k, r in enumerate(rects)]
        labeled = _flag(entry["is_labeled"], src, where, "is_labeled") \
            if "is_labeled" in entry else bool(people)
        image_id = _int(_unwrap(entry["image_id"], src, where, "image_id"), src, where,
                        "image_id") if "image_id" in entry else None
        frame = Frame(file_name=name, frame_index=_frame_index(name, i), is_labeled=labeled,
                      people=people,
                      ignore_regions=_parse_regions_2017(entry.get("ignore_regions", []), src,
                                                         where),
                      image_id=image_id,
                      extra={k: v for k, v in entry.items() if k not in _FRAME_KEYS_2017})
        _check_track_ids(frame, src, where)
        frames.append(frame)
    return frames, {k: v for k, v in data.items() if k != "annolist"}


def _group_videos(frames: list[Frame], extra: dict, src: str,
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
                        f"{', '.join(_short(g) for g in sorted(groups)[:2])}, ...); read it "
                        f"with read_sequences")
    seqs = []
    for folder, group in groups.items():
        name = single_name or os.path.basename(folder) or Path(src).stem
        for frame in group:
            default_image_id = frame.image_id if frame.image_id is not None \
                else official_image_id(frame.file_name)
            defaults = {"frame_id": default_image_id, "nframes": len(group),
                        "vid_id": _default_vid_id(frame.file_name, name)}
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
    frames, extra = (_parse_2017(data, src) if fmt == "2017"
                     else _parse_2018(data, src, require_annotations))
    return _group_videos(frames, extra, src, single_name)


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
    return sequences_from_json(_load_json(path), str(path), single_name=path.stem,
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
        files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
        if not files:
            raise DataError(f"{path}: no .json sequence files in the folder")
        return [read_sequence(f, require_annotations) for f in files]
    return sequences_from_json(_load_json(path), str(path),
                               require_annotations=require_annotations)


# --------------------------------------------------------------------------------------------
# Writing


def _num(value: float) -> int | float:
    """A JSON number: integral values as int (as PoseTrack files write them)."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _nums(values: np.ndarray) -> list:
    """A flat list of JSON numbers."""
    return [_num(v) for v in np.asarray(values, dtype=np.float64).ravel().tolist()]


def _check_person(person: Person, name: str, where: str) -> None:
    """DataError if a person cannot be written (shapes, non-finite values, track id)."""
    src = f"sequence {name}"
    _track_id(person.track_id, src, where)
    kp = np.asarray(person.keypoints)
    if kp.shape != (joints.NUM_JOINTS, _KP_FIELDS) or not np.isfinite(kp).all():
        _fail(src, where, "keypoints", f"a finite ({joints.NUM_JOINTS}, 3) array", kp.shape)
    for field, length in (("scores", joints.NUM_JOINTS), ("head_box", _BOX_LEN),
                          ("box", _BOX_LEN)):
        value = getattr(person, field)
        if value is not None and (np.shape(value) != (length,)
                                  or not np.isfinite(value).all()):
            _fail(src, where, field, f"None or {length} finite numbers", value)
    if person.score is not None and not math.isfinite(person.score):
        _fail(src, where, "score", "None or a finite number", person.score)


def _check_official_names(seq: Sequence) -> None:
    """DataError unless poseval can parse every frame name and the file holds one video."""
    folders = {os.path.dirname(f.file_name) for f in seq.frames}
    if len(folders) > 1:
        raise DataError(f"sequence {seq.name}: frames come from {len(folders)} image folders; "
                        f"poseval reads one video per file")
    for i, frame in enumerate(seq.frames):
        if official_image_id(frame.file_name) is None:
            _fail(f"sequence {seq.name}", _frame_where(i), "file_name",
                  "a poseval-readable path like images/val/000342_mpii_test/000010.jpg "
                  f"(folder <number>_<mpii|bonn|mpiinew>[_...], frame number < "
                  f"{MAX_FRAME_NUMBER})", frame.file_name)


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


def _check_sequence(seq: Sequence, check_official: bool) -> None:
    """Everything that would make a written file unreadable or wrong."""
    if not seq.frames:
        raise DataError(f"sequence {seq.name}: empty sequence: nothing to write")
    if check_official:
        _check_official_names(seq)
    for i, frame in enumerate(seq.frames):
        for k, person in enumerate(frame.people):
            _check_person(person, seq.name, _frame_where(i, frame.file_name, k))
        _check_track_ids(frame, f"sequence {seq.name}", _frame_where(i, frame.file_name))


def _reusable_categories(cats: Any) -> bool:
    """True if `categories` has one person entry naming the 17 slots in order.

    Only such entries are kept on reading and written back; files naming other layouts are
    read into the 17 slots and written with `DEFAULT_CATEGORY`.
    """
    if not isinstance(cats, list):
        return False
    people = [c for c in cats if isinstance(c, dict) and c.get("name") == "person"]
    return len(people) == 1 and people[0].get("keypoints") == list(joints.JOINT_NAMES)


def _categories(seq: Sequence) -> list:
    """The sequence's own `categories` if reusable, else the default."""
    cats = seq.extra.get("categories")
    return cats if _reusable_categories(cats) else [DEFAULT_CATEGORY]


def _regions_json_2018(regions: list[np.ndarray]) -> dict:
    """`ignore_regions_x` / `ignore_regions_y` of a frame, or nothing if it has none."""
    if not regions:
        return {}
    return {"ignore_regions_x": [_nums(np.asarray(r)[:, 0]) for r in regions],
            "ignore_regions_y": [_nums(np.asarray(r)[:, 1]) for r in regions]}


def _head_box_json(person: Person) -> list:
    """The 2018 [x, y, w, h] head box, reusing the file's own numbers when they agree."""
    raw = person.extra.get("bbox_head")
    if isinstance(raw, list) and len(raw) == _BOX_LEN and all(_is_finite(v) for v in raw):
        x, y, w, h = (float(v) for v in raw)
        if np.array_equal([x, y, x + w, y + h], np.asarray(person.head_box, np.float64)):
            return raw
    return _xywh(person.head_box)


def _person_json_2018(person: Person, image_id: int, index: int) -> dict:
    """One 2018 annotation."""
    ann = {"id": image_id * ANNOTATION_ID_FACTOR + index, "category_id": PERSON_CATEGORY_ID}
    ann.update(person.extra)
    ann.pop("bbox_head", None)
    ann.update({"image_id": image_id, "track_id": int(person.track_id),
                "keypoints": _nums(person.keypoints),
                "scores": [] if person.scores is None else _nums(person.scores)})
    if person.head_box is not None:
        ann["bbox_head"] = _head_box_json(person)
    if person.box is not None:
        ann["bbox"] = _nums(person.box)
    if person.score is not None:
        ann["score"] = _num(person.score)
    return ann


def _to_2018(seq: Sequence) -> dict:
    """The 2018 JSON object of a checked sequence."""
    ids = _image_ids(seq)
    images, annotations = [], []
    for frame, image_id in zip(seq.frames, ids, strict=True):
        image = {"frame_id": image_id, "nframes": len(seq.frames),
                 "vid_id": _default_vid_id(frame.file_name, seq.name)}
        image.update(frame.extra)
        image.update({"file_name": frame.file_name, "id": image_id,
                      "is_labeled": bool(frame.is_labeled)})
        image.update(_regions_json_2018(frame.ignore_regions))
        images.append(image)
        annotations.extend(_person_json_2018(p, image_id, k) for k, p in enumerate(frame.people))
    out = {k: v for k, v in seq.extra.items() if k != "categories"}
    out.update({"categories": _categories(seq), "images": images, "annotations": annotations})
    return out


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
        point = {"id": [pid], "x": [_num(x)], "y": [_num(y)], "is_visible": [_num(v)]}
        if person.scores is not None:
            point["score"] = [_num(person.scores[slot])]
        points.append(point)
    rect["annopoints"] = [{"point": points}]
    if person.head_box is not None:
        for key, value in zip(("x1", "y1", "x2", "y2"), person.head_box, strict=True):
            rect[key] = [_num(value)]
    if person.box is not None:
        rect["bbox"] = _nums(person.box)
    if person.score is not None:
        rect["score"] = [_num(person.score)]
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
                {"point": [{"x": [_num(x)], "y": [_num(y)]} for x, y in np.asarray(r).tolist()]}
                for r in frame.ignore_regions]
        annolist.append(entry)
    out = dict(seq.extra)
    out["annolist"] = annolist
    return out


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
        from gnnpose_jax.data import posetrack21  # built on this module's helpers

        return posetrack21.sequence_to_json(seq)
    _check_sequence(seq, check_official and fmt == "2018")
    return _to_2018(seq) if fmt == "2018" else _to_2017(seq)


def write_json_atomic(obj: Any, path: str | os.PathLike) -> None:
    """Writes JSON through a temporary file and `os.replace`, so readers never see half a file.

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


# --------------------------------------------------------------------------------------------
# COCO detection files


def _detection_key(entry: dict, src: str, where: str) -> int | str:
    """The image key of a detection: its integer `image_id`, else its `file_name`."""
    if "image_id" in entry:
        value = entry["image_id"]
        if isinstance(value, str) and value:
            return value
        return _int(value, src, where, "image_id")
    name = entry.get("file_name")
    if not isinstance(name, str) or not name:
        _fail(src, where, "image_id", "an image id or a file_name", None)
    return name


def read_detections(path: str | os.PathLike,
                    category_id: int = PERSON_CATEGORY_ID) -> dict[int | str, np.ndarray]:
    """Reads a COCO detection-results file (a list of {image_id, bbox, score, category_id}).

    Args:
      path: the JSON file.
      category_id: keep only this category (entries without one are kept).

    Returns:
      image_id (or file_name, for entries keyed by name) -> (N, 5) float64 [x, y, w, h, score],
      in file order. Boxes with a non-finite number or without a positive width and height
      are dropped, and their count is logged as a warning.

    Raises:
      DataError: unreadable or malformed file, one line naming the entry and field.
    """
    src = str(path)
    data = _load_json(Path(path))
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    entries = _list(data, src, "", "detections")
    rows: dict[int | str, list[np.ndarray]] = {}
    dropped = 0
    for i, entry in enumerate(entries):
        where = f"detection {i}"
        entry = _dict(entry, src, where, "detections[]")
        if entry.get("category_id", category_id) != category_id:
            continue
        key = _detection_key(entry, src, where)
        box = _detection_box(entry.get("bbox"), src, where)
        score = _number(entry.get("score"), src, where, "score")
        if not (np.isfinite(box).all() and box[2] > 0 and box[3] > 0):
            dropped += 1
            continue
        rows.setdefault(key, []).append(np.append(box, score))
    if dropped:
        logging.getLogger(__name__).warning(
            "%s: dropped %d detection(s) whose bbox has a non-finite number or no positive "
            "width and height", src, dropped)
    return {k: np.stack(v) for k, v in rows.items()}


def _detection_box(value: Any, src: str, where: str) -> np.ndarray:
    """A detection's (4,) bbox; non-finite numbers become NaN (the caller drops such boxes)."""
    if isinstance(value, list) and len(value) == _BOX_LEN and all(map(_is_number, value)):
        return np.array([float(v) if _is_finite(v) else math.nan for v in value])
    return _vector(value, _BOX_LEN, src, where, "bbox")


def _detection_entries(detections: Any, category_id: int) -> list[dict]:
    """COCO entries from a key -> (N, 5) mapping or from a list of entries (validated)."""
    if isinstance(detections, Mapping):
        entries = []
        for key, arr in detections.items():
            arr = np.asarray(arr, dtype=np.float64).reshape(-1, _BOX_LEN + 1)
            key_field = "file_name" if isinstance(key, str) else "image_id"
            key = key if isinstance(key, str) else int(key)
            entries.extend({key_field: key, "category_id": category_id,
                            "bbox": _nums(row[:_BOX_LEN]), "score": _num(row[_BOX_LEN])}
                           for row in arr)
        return entries
    entries = []
    for i, entry in enumerate(detections):
        where = f"detection {i}"
        entry = dict(_dict(entry, "detections", where, "detections[]"))
        _detection_key(entry, "detections", where)
        entry["bbox"] = _nums(_vector(entry.get("bbox"), _BOX_LEN, "detections", where, "bbox"))
        entry["score"] = _num(_number(entry.get("score"), "detections", where, "score"))
        entry.setdefault("category_id", category_id)
        entries.append(entry)
    return entries


def write_detections(detections: Mapping[int | str, np.ndarray] | Iterable[dict],
                     path: str | os.PathLike, category_id: int = PERSON_CATEGORY_ID) -> None:
    """Writes a COCO detection-results file atomically.

    Args:
      detections: image_id (int) or file_name (str) -> (N, 5) [x, y, w, h, score], as
        `read_detections` returns; or a list of COCO entries {image_id, bbox, score[,
        category_id]}.
      path: the JSON file.
      category_id: category written for entries that have none.

    Raises:
      DataError: malformed entries or non-finite numbers, or an unwritable path.
    """
    write_json_atomic(_detection_entries(detections, category_id), path)
