"""COCO detection-results files (`[{image_id, bbox, score, category_id}, ...]`): read, write."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gnnpose_jax.data.posetrack.spec import BOX_LEN, PERSON_CATEGORY_ID
from gnnpose_jax.data.posetrack.validate import (
    as_dict,
    as_list,
    fail,
    integer,
    is_finite,
    is_number,
    load_json,
    number,
    vector,
)
from gnnpose_jax.data.posetrack.write import num, nums, write_json_atomic


def _detection_key(entry: dict, src: str, where: str) -> int | str:
    """The image key of a detection: its integer `image_id`, else its `file_name`."""
    if "image_id" in entry:
        value = entry["image_id"]
        if isinstance(value, str) and value:
            return value
        return integer(value, src, where, "image_id")
    name = entry.get("file_name")
    if not isinstance(name, str) or not name:
        fail(src, where, "image_id", "an image id or a file_name", None)
    return name


def _detection_box(value: Any, src: str, where: str) -> np.ndarray:
    """A detection's (4,) bbox; non-finite numbers become NaN (the caller drops such boxes)."""
    if isinstance(value, list) and len(value) == BOX_LEN and all(map(is_number, value)):
        return np.array([float(v) if is_finite(v) else math.nan for v in value])
    return vector(value, BOX_LEN, src, where, "bbox")


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
    data = load_json(Path(path))
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    entries = as_list(data, src, "", "detections")
    rows: dict[int | str, list[np.ndarray]] = {}
    dropped = 0
    for i, entry in enumerate(entries):
        where = f"detection {i}"
        entry = as_dict(entry, src, where, "detections[]")
        if entry.get("category_id", category_id) != category_id:
            continue
        key = _detection_key(entry, src, where)
        box = _detection_box(entry.get("bbox"), src, where)
        score = number(entry.get("score"), src, where, "score")
        if not (np.isfinite(box).all() and box[2] > 0 and box[3] > 0):
            dropped += 1
            continue
        rows.setdefault(key, []).append(np.append(box, score))
    if dropped:
        logging.getLogger(__name__).warning(
            "%s: dropped %d detection(s) whose bbox has a non-finite number or no positive "
            "width and height", src, dropped)
    return {k: np.stack(v) for k, v in rows.items()}


def _detection_entries(detections: Any, category_id: int) -> list[dict]:
    """COCO entries from a key -> (N, 5) mapping or from a list of entries (validated)."""
    if isinstance(detections, Mapping):
        entries = []
        for key, arr in detections.items():
            arr = np.asarray(arr, dtype=np.float64).reshape(-1, BOX_LEN + 1)
            key_field = "file_name" if isinstance(key, str) else "image_id"
            key = key if isinstance(key, str) else int(key)
            entries.extend({key_field: key, "category_id": category_id,
                            "bbox": nums(row[:BOX_LEN]), "score": num(row[BOX_LEN])}
                           for row in arr)
        return entries
    entries = []
    for i, entry in enumerate(detections):
        where = f"detection {i}"
        entry = dict(as_dict(entry, "detections", where, "detections[]"))
        _detection_key(entry, "detections", where)
        entry["bbox"] = nums(vector(entry.get("bbox"), BOX_LEN, "detections", where, "bbox"))
        entry["score"] = num(number(entry.get("score"), "detections", where, "score"))
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
