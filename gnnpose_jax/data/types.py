"""Typed, in-memory PoseTrack data: sequences of frames of people.

Shapes use fixed letters: K = 17 joint slots (see `joints.py`). Coordinates are image pixels.
Everything in the project (readers, writers, the synthetic world, the tracker, the evaluation)
exchanges these types; the file formats live in `posetrack/` and `posetrack21.py`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass
class Person:
    """One annotated or predicted person in one frame.

    Attributes:
      keypoints: (K, 3) float64 [x, y, v]. A joint is absent when its row is exactly (0, 0, 0)
        (the PoseTrack 2018 rule); `v` is the visibility flag as stored in the file.
      track_id: integer id in [0, 10000), unique within the frame.
      scores: (K,) float64 per-joint confidences (predictions), or None (ground truth).
      head_box: (4,) float64 head box [x1, y1, x2, y2], or None.
      box: (4,) float64 person box [x, y, w, h], or None.
      score: person-level confidence, or None.
      extra: fields of the source file that the model does not interpret (annotation `id`,
        `category_id`, ...), kept so that writing back loses nothing.
    """

    keypoints: np.ndarray
    track_id: int
    scores: np.ndarray | None = None
    head_box: np.ndarray | None = None
    box: np.ndarray | None = None
    score: float | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def present(self) -> np.ndarray:
        """(K,) bool: which joints exist."""
        return np.any(self.keypoints != 0.0, axis=1)


@dataclasses.dataclass
class Frame:
    """One frame of a sequence.

    Attributes:
      file_name: image path relative to the dataset root, e.g.
        `images/val/000342_mpii_test/000010.jpg`.
      frame_index: position of the frame in the video (0-based).
      is_labeled: whether ground truth exists for this frame.
      people: the people in the frame.
      ignore_regions: list of (P, 2) float64 polygons [x, y] whose inside is not evaluated.
      image_id: the file's image id, if any.
      extra: uninterpreted image fields kept for lossless writing.
    """

    file_name: str
    frame_index: int
    is_labeled: bool
    people: list[Person] = dataclasses.field(default_factory=list)
    ignore_regions: list[np.ndarray] = dataclasses.field(default_factory=list)
    image_id: int | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Sequence:
    """One video: its name (the JSON file stem, e.g. `000342_mpii_test`) and its frames."""

    name: str
    frames: list[Frame]
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
