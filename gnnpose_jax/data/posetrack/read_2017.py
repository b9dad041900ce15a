"""Reader of the PoseTrack 2017 layout (`{"annolist": [...]}`, 15 joints with ids 0..14)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data.posetrack.spec import BOX_LEN, KP_FIELDS, MAX_TRACK_ID, MIN_SCORE, frame_index
from gnnpose_jax.data.posetrack.validate import (
    as_dict,
    as_list,
    check_track_ids,
    fail,
    flag,
    frame_where,
    integer,
    is_integral,
    number,
    track_id,
    unwrap,
    vector,
)
from gnnpose_jax.data.types import Frame, Person
from gnnpose_jax.errors import DataError

_FRAME_KEYS = ("image", "annorect", "is_labeled", "ignore_regions", "image_id")
_RECT_KEYS = ("track_id", "x1", "y1", "x2", "y2", "score", "annopoints", "bbox")


def _regions(value: Any, src: str, where: str) -> list[np.ndarray]:
    """Ignore polygons from a 2017 frame's `ignore_regions`."""
    regions = []
    for r, region in enumerate(as_list(value, src, where, "ignore_regions")):
        field = f"ignore_regions[{r}].point"
        points = as_list(as_dict(region, src, where, f"ignore_regions[{r}]").get("point"),
                         src, where, field)
        xy = np.zeros((len(points), 2))
        for q, point in enumerate(points):
            point = as_dict(point, src, where, field)
            xy[q, 0] = number(unwrap(point.get("x"), src, where, f"{field}.x"), src, where,
                              f"{field}.x")
            xy[q, 1] = number(unwrap(point.get("y"), src, where, f"{field}.y"), src, where,
                              f"{field}.y")
        regions.append(xy)
    return regions


def _points(rect: dict, src: str, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(K, 3) keypoints and (K,) scores (None if no point has one) of a 2017 person."""
    keypoints = np.zeros((joints.NUM_JOINTS, KP_FIELDS))
    scores = np.zeros(joints.NUM_JOINTS)
    has_score = np.zeros(joints.NUM_JOINTS, bool)
    annopoints = as_list(rect.get("annopoints", []), src, where, "annopoints")
    if not annopoints:
        return keypoints, None
    first = as_dict(annopoints[0], src, where, "annopoints[0]")
    points = as_list(first.get("point", []), src, where, "annopoints[0].point")
    seen = set()
    for point in points:
        point = as_dict(point, src, where, "point")
        pid = unwrap(point.get("id"), src, where, "point.id")
        if not (is_integral(pid) and 0 <= pid < len(joints.POSETRACK17_NAMES)) or pid in seen:
            fail(src, where, "point.id", "a joint id in 0..14, once per person", pid)
        seen.add(pid)
        slot = joints.POSETRACK17_TO_SLOT[int(pid)]
        keypoints[slot, 0] = number(unwrap(point.get("x"), src, where, "point.x"), src, where,
                                    "point.x")
        keypoints[slot, 1] = number(unwrap(point.get("y"), src, where, "point.y"), src, where,
                                    "point.y")
        visible = point.get("is_visible", 1)
        keypoints[slot, 2] = number(unwrap(visible, src, where, "point.is_visible"), src, where,
                                    "point.is_visible")
        if "score" in point:
            scores[slot] = number(unwrap(point["score"], src, where, "point.score"), src,
                                  where, "point.score")
            has_score[slot] = True
    if not has_score.any():
        return keypoints, None
    # A point without a score gets the official fallback score, as poseval would give it.
    missing = ~has_score & np.any(keypoints != 0, axis=1)
    scores[missing] = MIN_SCORE
    return keypoints, scores


def _person(rect: Any, src: str, where: str) -> Person:
    """One 2017 `annorect` entry."""
    rect = as_dict(rect, src, where, "annorect[]")
    if "track_id" not in rect:
        fail(src, where, "track_id", f"an integer in [0, {MAX_TRACK_ID})")
    tid = track_id(unwrap(rect["track_id"], src, where, "track_id"), src, where)
    keypoints, scores = _points(rect, src, where)
    head_box = box = score = None
    corners = [k for k in ("x1", "y1", "x2", "y2") if k in rect]
    if corners:
        if len(corners) != BOX_LEN:
            fail(src, where, "x1, y1, x2, y2", "all four head-box corners", corners)
        head_box = np.array([number(unwrap(rect[k], src, where, k), src, where, k)
                             for k in ("x1", "y1", "x2", "y2")])
    if "bbox" in rect:
        box = vector(rect["bbox"], BOX_LEN, src, where, "bbox")
    if rect.get("score") is not None:
        score = number(unwrap(rect["score"], src, where, "score"), src, where, "score")
    extra = {k: v for k, v in rect.items() if k not in _RECT_KEYS}
    return Person(keypoints=keypoints, track_id=tid, scores=scores, head_box=head_box,
                  box=box, score=score, extra=extra)


def parse_2017(data: dict, src: str) -> tuple[list[Frame], dict]:
    """Frames of a 2017 file (all its videos) and its top-level extras."""
    annolist = as_list(data["annolist"], src, "", "annolist")
    if not annolist:
        raise DataError(f"{src}: empty sequence: 'annolist' is empty")
    frames = []
    for i, entry in enumerate(annolist):
        entry = as_dict(entry, src, frame_where(i), "annolist[]")
        image = as_list(entry.get("image"), src, frame_where(i), "image")
        first = as_dict(image[0] if image else None, src, frame_where(i), "image[0]")
        name = first.get("name")
        if not isinstance(name, str) or not name:
            fail(src, frame_where(i), "image[0].name", "a non-empty string", name)
        where = frame_where(i, name)
        rects = as_list(entry.get("annorect", []), src, where, "annorect")
        people = [_person(r, src, frame_where(i, name, k))
                  for k, r in enumerate(rects)]
        labeled = flag(entry["is_labeled"], src, where, "is_labeled") \
            if "is_labeled" in entry else bool(people)
        image_id = integer(unwrap(entry["image_id"], src, where, "image_id"), src, where,
                           "image_id") if "image_id" in entry else None
        frame = Frame(file_name=name, frame_index=frame_index(name, i), is_labeled=labeled,
                      people=people,
                      ignore_regions=_regions(entry.get("ignore_regions", []), src,
                                                         where),
                      image_id=image_id,
                      extra={k: v for k, v in entry.items() if k not in _FRAME_KEYS})
        check_track_ids(frame, src, where)
        frames.append(frame)
    return frames, {k: v for k, v in data.items() if k != "annolist"}
