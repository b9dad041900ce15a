"""Writing one split of the world to disk in PoseTrack 2018 layout, all or nothing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from gnnpose_jax import atomic
from gnnpose_jax.data import posetrack
from gnnpose_jax.data.synthetic.config import (
    SPLIT_NUMBER_OFFSET,
    SPLITS,
    WorldConfig,
    check_video_args,
    check_world_args,
    sequence_name,
)
from gnnpose_jax.data.synthetic.video import iter_video
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.errors import DataError
from gnnpose_jax.viz.draw import write_png
from gnnpose_jax.viz.preview import render_preview


class WorldSummary(NamedTuple):
    """What `generate_world` wrote."""

    videos: int
    frames: int
    labeled_frames: int
    people: int
    detections: int
    preview: Path | None


def _split_targets(out: Path, split: str) -> list[Path]:
    """The three paths a split occupies: its images, its annotations and its detections."""
    return [out / "images" / split, out / "annotations" / split,
            out / "detections" / f"{split}.json"]


def _occupied(path: Path) -> bool:
    """Whether a target already holds something (an empty folder does not count)."""
    if path.is_dir():
        return any(path.iterdir())
    return path.exists()


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an (H, W, 3) uint8 RGB image."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise DataError("synthetic world: the JPEG encoder failed")
    return buf.tobytes()


def _write_video(images_dir: Path, annotations_dir: Path, split: str, number: int,
                 rng: np.random.Generator, video_args: dict[str, Any], jpeg_quality: int,
                 keep_images: bool) -> tuple[Sequence, list[np.ndarray], list[dict[str, Any]]]:
    """Simulates one video, streaming its frames into `images_dir`, and writes its JSON.

    Returns:
      The sequence, its images (only if `keep_images`, else empty) and its detections.
    """
    name = sequence_name(number, split)
    (images_dir / name).mkdir()
    frames, images, detections = [], [], []
    for sim in iter_video(rng, number, split, **video_args):
        path = images_dir / name / Path(sim.frame.file_name).name
        path.write_bytes(encode_jpeg(sim.image, jpeg_quality))
        frames.append(sim.frame)
        detections.extend(sim.detections)
        if keep_images:
            images.append(sim.image)
    seq = Sequence(name=name, frames=frames)
    posetrack.write_sequence(seq, annotations_dir / f"{name}.json", fmt="2018")
    return seq, images, detections


def generate_world(out_dir: str | os.PathLike, seed: int, num_videos: int, split: str = "train",
                   num_frames: int = 50, image_hw: tuple[int, int] = (288, 384),
                   label_every: int = 1, overwrite: bool = False, preview: bool = False,
                   config: WorldConfig | None = None, jpeg_quality: int = 90,
                   progress: Callable[[int, int], None] | None = None) -> WorldSummary:
    """Writes one split of the synthetic world in PoseTrack 2018 layout.

    The split is written into a staging folder inside `out_dir` and renamed into place at the
    end (`atomic.atomic_paths`), so a crash leaves no half-written split. Video i of a split
    depends only on (seed, split, i): the same arguments give byte-identical files.

    Args:
      out_dir: dataset root; `images/`, `annotations/` and `detections/` go under it.
      seed: non-negative seed.
      num_videos: number of sequences.
      split: "train" or "val".
      num_frames: frames per video (T), at most 10000.
      image_hw: (H, W) frame size.
      label_every: label every n-th frame (1 = every frame).
      overwrite: replace an existing split instead of refusing.
      preview: also write `preview_{split}.png`, annotated frames of the first video.
      config: world settings (defaults if None).
      jpeg_quality: JPEG quality of the frames.
      progress: called with (videos done, total) after each video.

    Returns:
      Counts of what was written, and the preview path if any.

    Raises:
      DataError: bad arguments, an occupied split without `overwrite`, or an unwritable folder.
    """
    check_world_args(seed, num_videos, split)
    check_video_args(num_frames, image_hw, label_every)
    out = Path(out_dir)
    targets = _split_targets(out, split)
    occupied = [p for p in targets if _occupied(p)]
    if occupied and not overwrite:
        raise DataError(f"{occupied[0]}: already holds a {split} split; pass --overwrite "
                        f"(overwrite=True) to replace it")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{out}: cannot write the synthetic world there ({e.strerror})") from e
    video_args = {"num_frames": num_frames, "image_hw": image_hw,
                  "label_every": label_every, "config": config}
    counts = np.zeros(4, int)
    detections: list[dict[str, Any]] = []
    first = None
    try:
        with atomic.atomic_paths(targets) as (images_dir, annotations_dir, detections_file):
            images_dir.mkdir()
            annotations_dir.mkdir()
            for v in range(num_videos):
                rng = np.random.default_rng([seed, SPLITS.index(split), v])
                number = SPLIT_NUMBER_OFFSET[split] + v + 1
                seq, images, dets = _write_video(images_dir, annotations_dir, split, number, rng,
                                                 video_args, jpeg_quality,
                                                 keep_images=preview and v == 0)
                detections.extend(dets)
                counts += [1, len(seq.frames), sum(f.is_labeled for f in seq.frames),
                           sum(len(f.people) for f in seq.frames)]
                if images:
                    first = (seq, images, dets)
                if progress is not None:
                    progress(v + 1, num_videos)
            posetrack.write_detections(detections, detections_file)
        preview_path = None
        if first is not None:
            preview_path = out / f"preview_{split}.png"
            write_png(preview_path, render_preview(*first))
    except OSError as e:
        raise DataError(f"{e.filename or out}: cannot write the synthetic world "
                        f"({e.strerror})") from e
    return WorldSummary(*(int(c) for c in counts), len(detections), preview_path)
