"""What the PoseTrack formats fix: limits, poseval's names and image ids, the person category."""

from __future__ import annotations

import os
import re
from typing import Any

from gnnpose_jax.data import joints

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

#: Values per keypoint (x, y, visibility) and per box.
KP_FIELDS = 3
BOX_LEN = 4

# Digit runs are bounded so that int() stays cheap and within Python's conversion limit.
_FOLDER_RE = re.compile(r"^(\d{1,12})_(mpii|bonn|mpiinew)(_.*)?$")
_FRAME_RE = re.compile(r"^(\d{1,12})(\.[^/]*)?$")


def video_folder(file_name: str) -> str:
    """The folder of a frame's image path (`images/val/000342_mpii_test/000010.jpg` -> `...`)."""
    return os.path.basename(os.path.dirname(file_name))


def frame_number(file_name: str) -> int | None:
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
    number = frame_number(file_name)
    if m is None or number is None or number >= MAX_FRAME_NUMBER:
        return None
    return SEQUENCE_TYPES[m.group(2)] * TYPE_FACTOR + int(m.group(1)) * SEQUENCE_FACTOR + number


def default_vid_id(file_name: str, seq_name: str) -> str:
    """The 2018 `vid_id` written when none is known: the folder's leading number."""
    folder = video_folder(file_name) or seq_name
    return folder.split("_")[0]


def frame_index(file_name: str, position: int) -> int:
    """The frame's position in the video: its file number, else its position in the file."""
    number = frame_number(file_name)
    return position if number is None else number


def reusable_categories(cats: Any) -> bool:
    """True if `categories` has one person entry naming the 17 slots in order.

    Only such entries are kept on reading and written back; files naming other layouts are
    read into the 17 slots and written with `DEFAULT_CATEGORY`.
    """
    if not isinstance(cats, list):
        return False
    people = [c for c in cats if isinstance(c, dict) and c.get("name") == "person"]
    return len(people) == 1 and people[0].get("keypoints") == list(joints.JOINT_NAMES)
