"""Checks for parsed JSON: each returns the value it validates or raises a one-line `DataError`
naming the file, the place (frame, person) and the field, with a short repr of what it got."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from gnnpose_jax.data.posetrack.spec import MAX_TRACK_ID
from gnnpose_jax.data.types import Frame
from gnnpose_jax.errors import DataError

_GOT_CHARS = 40


def load_json(path: Path) -> Any:
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


def short(value: Any) -> str:
    """A one-line, truncated repr of a bad value for an error message."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= _GOT_CHARS else text[:_GOT_CHARS] + "..."


def fail(src: str, where: str, field: str, expected: str, got: Any = ...) -> NoReturn:
    """Raises the one-line DataError naming file, place, field and expectation."""
    place = f"{src}: {where}: " if where else f"{src}: "
    tail = "" if got is ... else f", got {short(got)}"
    message = f"{place}field '{field}': expected {expected}{tail}"
    raise DataError(message.replace("\n", "\\n").replace("\r", "\\r"))


def frame_where(index: int, file_name: str | None = None, person: int | None = None) -> str:
    """'frame 3 (images/.../000003.jpg), person 1' for error messages."""
    text = f"frame {index}" + (f" ({file_name})" if file_name else "")
    return text if person is None else f"{text}, person {person}"


def is_number(value: Any) -> bool:
    """True for JSON numbers (bool excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value: Any) -> bool:
    """True for JSON numbers that are finite as float64 (huge integers are not)."""
    if not is_number(value):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def is_integral(value: Any) -> bool:
    """True for finite JSON numbers with an integer value."""
    return is_finite(value) and float(value).is_integer()


def number(value: Any, src: str, where: str, field: str) -> float:
    """A finite float, or DataError."""
    if not is_finite(value):
        fail(src, where, field, "a finite number", value)
    return float(value)


def unwrap(value: Any, src: str, where: str, field: str) -> Any:
    """The single element of a 2017-style `[v]` list (a bare scalar is accepted too)."""
    if isinstance(value, list):
        if len(value) != 1:
            fail(src, where, field, "a one-element list", value)
        return value[0]
    return value


def track_id(value: Any, src: str, where: str, limit: int = MAX_TRACK_ID) -> int:
    """An integer track id in [0, limit); integral floats are accepted."""
    if not is_integral(value) or not 0 <= value < limit:
        fail(src, where, "track_id", f"an integer in [0, {limit})", value)
    return int(value)


def integer(value: Any, src: str, where: str, field: str) -> int:
    """An integer (integral floats accepted), or DataError."""
    if not is_integral(value):
        fail(src, where, field, "an integer", value)
    return int(value)


def flag(value: Any, src: str, where: str, field: str) -> bool:
    """A boolean flag written as bool, 0/1 or a 2017-style [0/1]."""
    value = unwrap(value, src, where, field)
    if isinstance(value, bool) or (is_number(value) and value in (0, 1)):
        return bool(value)
    fail(src, where, field, "a boolean or 0/1", value)


def as_dict(value: Any, src: str, where: str, field: str) -> dict:
    """The value if it is a JSON object, else DataError."""
    if not isinstance(value, dict):
        fail(src, where, field, "an object", value)
    return value


def as_list(value: Any, src: str, where: str, field: str) -> list:
    """The value if it is a JSON list, else DataError."""
    if not isinstance(value, list):
        fail(src, where, field, "a list", value)
    return value


def numeric(value: Any) -> np.ndarray | None:
    """float64 array of a (nested) list of finite numbers, or None if it is anything else."""
    try:
        arr = np.array(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.dtype.kind not in "biuf":
        return None
    arr = arr.astype(np.float64)
    return arr if np.isfinite(arr).all() else None


def vector(value: Any, length: int, src: str, where: str, field: str) -> np.ndarray:
    """(length,) float64 from a list of finite numbers, or DataError."""
    if not isinstance(value, list) or len(value) != length:
        n = len(value) if isinstance(value, list) else None
        fail(src, where, field, f"a list of {length} numbers",
             f"{n} values" if n is not None else value)
    arr = numeric(value)
    if arr is not None and arr.shape == (length,):
        return arr
    for v in value:
        if not is_finite(v):
            fail(src, where, field, "finite numbers", v)
    return np.asarray(value, dtype=np.float64)


def rows(values: list, length: int, src: str, where_of: Any, field: str) -> np.ndarray:
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
    arr = numeric(values) if all(isinstance(v, list) for v in values) else None
    if arr is not None and arr.shape == (len(values), length):
        return arr
    return np.stack([vector(row, length, src, where_of(i), field)
                     for i, row in enumerate(values)])


def optional_rows(anns: list[dict], name: str, length: int, src: str,
                  where_of: Any) -> tuple[np.ndarray, list[bool]]:
    """(N, length) values of an optional per-annotation list field, and which have it.

    A missing field, null, or (for `scores`) an empty list means "not given".
    """
    given = [a.get(name) is not None and a.get(name) != [] for a in anns]
    picked = [i for i, g in enumerate(given) if g]
    out = np.zeros((len(anns), length))
    out[picked] = rows([anns[i][name] for i in picked], length, src,
                       lambda k: where_of(picked[k]), name)
    return out, given


def check_track_ids(frame: Frame, src: str, where: str) -> None:
    """DataError if two people of a frame share a track id."""
    ids = [p.track_id for p in frame.people]
    if len(set(ids)) != len(ids):
        dup = next(t for t in ids if ids.count(t) > 1)
        fail(src, where, "track_id", "ids unique within the frame", dup)
