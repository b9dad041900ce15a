"""Frames in (a video file or a folder of images) and a rendered video out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from gnnpose_jax import atomic
from gnnpose_jax.data import transforms
from gnnpose_jax.data.image_header import check_image_size
from gnnpose_jax.data.types import Frame, Sequence
from gnnpose_jax.errors import DataError
from gnnpose_jax.tracking.tracker import TrackedPose
from gnnpose_jax.viz.draw import draw_pose, track_colour

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class FrameSource:
    """The frames of a video file, a folder of images or one image, in order, all of one size.

    Not `data.pipeline.RecordSource`: that is random access to a dataset split's annotated
    frame records for training; this reads raw frames to track.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            self.files = sorted(p for p in self.path.iterdir()
                                if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.files:
                raise DataError(f"{self.path}: no images ({', '.join(IMAGE_SUFFIXES)}) in folder")
            self.fps = 25.0
        elif self.path.is_file() and self.path.suffix.lower() in IMAGE_SUFFIXES:
            self.files = [self.path]
            self.fps = 25.0
        elif self.path.is_file():
            self.files = None
            capture = cv2.VideoCapture(str(self.path))
            if not capture.isOpened():
                raise DataError(f"{self.path}: cannot open the video")
            size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                    int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
            if min(size) > 0:  # the size the container declares, checked before decoding
                try:
                    check_image_size(*size, self.path)
                except DataError:
                    capture.release()
                    raise
            self.fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
            ok, _ = capture.read()
            capture.release()
            if not ok:
                raise DataError(f"{self.path}: the video has no readable frame")
        else:
            raise DataError(f"{self.path}: no such video or folder")

    def names(self) -> list[str]:
        """Frame names: the image file names, or `000000.jpg`-style names for a video."""
        if self.files is not None:
            return [p.name for p in self.files]
        capture = cv2.VideoCapture(str(self.path))
        count = 0
        while capture.grab():
            count += 1
        capture.release()
        return [f"{i:06d}.jpg" for i in range(count)]

    def image_ids(self) -> list[int | str]:
        """Each frame's key in a detection file: the file name of an image, the index of a
        video frame (what `as_sequence`'s frames are looked up by)."""
        if self.files is not None:
            return [p.name for p in self.files]
        return list(range(len(self.names())))

    def __iter__(self) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8 RGB frames; a frame of another size than the first is an error."""
        size = None
        for i, image in enumerate(self._raw()):
            if size is None:
                size = image.shape
            elif image.shape != size:
                where = self.files[i] if self.files is not None else f"{self.path} frame {i}"
                raise DataError(f"{where}: frame size {image.shape[1]}x{image.shape[0]} differs "
                                f"from the first frame's {size[1]}x{size[0]}")
            yield image

    def _raw(self) -> Iterator[np.ndarray]:
        if self.files is not None:
            for p in self.files:
                yield transforms.read_image_rgb(p)
            return
        capture = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()

    def as_sequence(self) -> Sequence:
        """An unlabeled PoseTrack sequence naming the frames (for the tracker's output)."""
        name = self.path.stem
        frames = [Frame(file_name=f"{name}/{n}", frame_index=i, is_labeled=False, image_id=i)
                  for i, n in enumerate(self.names())]
        return Sequence(name, frames)


def render(image: np.ndarray, outputs: list[TrackedPose], joint_threshold: float) -> np.ndarray:
    """Draws every output on a copy of `image`: stable colour per id, dashed if recovered."""
    canvas = image.copy()
    for out in outputs:
        draw_pose(canvas, out.pose.keypoints, track_colour(out.track_id),
                  present=out.pose.scores >= joint_threshold, dashed=out.recovered,
                  label=f"{out.track_id}{'*' if out.recovered else ''}")
    return canvas


class VideoWriter:
    """Writes RGB frames to an MP4 (mp4v) that appears at `path` only when closed whole
    (`atomic.PendingFile`)."""

    def __init__(self, path: str | Path, fps: float, size_wh: tuple[int, int]):
        self.path = Path(path)
        self.pending = atomic.PendingFile(self.path)
        self.writer = cv2.VideoWriter(str(self.pending.tmp), cv2.VideoWriter_fourcc(*"mp4v"),
                                      fps, size_wh)
        if not self.writer.isOpened():
            self.pending.discard()
            raise DataError(f"{self.path}: cannot write a video here")

    def write(self, image_rgb: np.ndarray) -> None:
        self.writer.write(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))

    def close(self, keep: bool = True) -> None:
        """Finishes the file and moves it into place (or deletes it if `keep` is False)."""
        self.writer.release()
        if keep:
            self.pending.commit()
        else:
            self.pending.discard()


class Renderer:
    """Draws tracker outputs into `stem.mp4`, and the frame with the most recovered people
    into `stem.png`; both appear only on `close()`. As a context manager, it keeps the files
    when the block succeeds and discards them when it raises."""

    def __init__(self, stem: Path, joint_threshold: float, fps: float = 10.0):
        self.stem, self.joint_threshold, self.fps = Path(stem), joint_threshold, fps
        self.writer: VideoWriter | None = None
        self.best: tuple[int, np.ndarray | None] = (-1, None)

    def __call__(self, image: np.ndarray, outputs: list[TrackedPose]) -> None:
        canvas = render(image, outputs, self.joint_threshold)
        if self.writer is None:
            self.writer = VideoWriter(self.files(self.stem)[0], self.fps,
                                      (image.shape[1], image.shape[0]))
        self.writer.write(canvas)
        recovered = sum(o.recovered for o in outputs)
        if recovered > self.best[0]:
            self.best = (recovered, canvas)

    @staticmethod
    def files(stem: Path) -> list[Path]:
        """The video and the PNG a renderer of `stem` writes: `stem.mp4`, `stem.png` (a stem
        like `clip.v2` keeps its dot)."""
        return [stem.with_name(stem.name + suffix) for suffix in (".mp4", ".png")]

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(keep=exc_type is None)

    def close(self, keep: bool = True) -> None:
        """Finishes the video (and writes the PNG), or discards it."""
        from gnnpose_jax.viz.draw import write_png

        if self.writer is None:
            return
        self.writer.close(keep)
        if keep:
            write_png(self.files(self.stem)[1], self.best[1])
