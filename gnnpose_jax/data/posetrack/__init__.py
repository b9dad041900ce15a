"""PoseTrack annotation and prediction files, 2017 and 2018 layouts, and COCO detection files.

Both layouts read into the dataclasses of `types.py` and write back from them without loss:

- **2017** (`{"annolist": [...]}`): 15 joints with ids 0..14 (`joints.POSETRACK17_NAMES`),
  mapped into the 17 slots. Two documented extensions make 2018 -> 2017 -> 2018 lossless for
  everything but the non-PoseTrack slots (ears): a person's `bbox` [x, y, w, h] and a frame's
  `image_id`. The official toolkit ignores both.
- **2018** (COCO-like `images` / `annotations` / `categories`): 17 x 3 keypoints in the
  layout named by `categories[0].keypoints`.

Fields the model does not interpret go to the `extra` dicts and are written back verbatim.
Fields that can be derived (2018 `frame_id`, `vid_id`, `nframes`, annotation `id` and
`category_id`) are dropped from `extra` when they equal the derived value and re-derived on
writing, so data made in memory and data read from a file write the same way.

Everything written here loads in the official toolkit (poseval) unchanged: 2018 files carry the
person category with its keypoint names and a track id on every person, and
`check_official=True` (the default) refuses sequence and frame names poseval cannot parse.
Bad input raises `DataError` with one line naming the file, the frame and the field.

Modules: `spec` (constants, poseval's names and ids), `validate` (the checks behind those
errors), `read` and `read_2017` (parsers), `write` (writers), `detections` (COCO detections).
"""

from gnnpose_jax.data.posetrack.detections import read_detections, write_detections
from gnnpose_jax.data.posetrack.read import (
    detect_format,
    read_sequence,
    read_sequences,
    sequence_files,
    sequences_from_json,
)
from gnnpose_jax.data.posetrack.spec import (
    DEFAULT_CATEGORY,
    FORMATS,
    MIN_SCORE,
    PERSON_CATEGORY_ID,
    official_image_id,
)
from gnnpose_jax.data.posetrack.validate import load_json
from gnnpose_jax.data.posetrack.write import (
    sequence_to_json,
    write_json_atomic,
    write_sequence,
    write_sequences,
)

__all__ = [
    "DEFAULT_CATEGORY", "FORMATS", "MIN_SCORE", "PERSON_CATEGORY_ID", "detect_format",
    "load_json", "official_image_id", "read_detections", "read_sequence", "read_sequences",
    "sequence_files", "sequence_to_json", "sequences_from_json", "write_detections",
    "write_json_atomic", "write_sequence", "write_sequences",
]
