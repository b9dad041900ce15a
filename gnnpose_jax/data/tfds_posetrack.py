"""TFDS datasets of PoseTrack frames (2017, 2018, 21, the synthetic world), without TensorFlow.

The builders write ArrayRecord files of frame records (`frame_records`: one record per frame, in
sequence order, then frame order; `disable_shuffling`, record i is the i-th frame generated),
and `sequence_index.json` beside them (`sequence_index`), so that `download_and_prepare()` and
`as_data_source()` never import TensorFlow. Record image paths are relative to the image root,
and images are never copied into the records.

Builders: `Posetrack18`, `Posetrack17` and `Posetrack21` read the official release from the
manual folder (see their `MANUAL_DOWNLOAD_INSTRUCTIONS`); their image root is that folder.
`SyntheticPosetrack` generates a world with `synthetic.generate_world` inside the dataset folder
(`world/`), which is its image root. Preparation is atomic: the manual folder and every
annotation file are checked before anything is written, and TFDS writes into a temporary folder
renamed at the end.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import tensorflow_datasets as tfds
from etils import epath

from gnnpose_jax.data import posetrack, posetrack21, synthetic
from gnnpose_jax.data.folders import SPLITS
from gnnpose_jax.data.frame_records import RecordLayout, SplitPlan, record_features
from gnnpose_jax.data.sequence_index import INDEX_FILE, write_index
from gnnpose_jax.errors import DataError

_MANUAL_INSTRUCTIONS = """\
PoseTrack cannot be downloaded automatically ({access}).
Unpack the official {year} release so that the manual folder (by default
`<data_dir>/downloads/manual/`, or `tfds.download.DownloadConfig(manual_dir=...)`) holds:

    images/                      the release's image folders, untouched; annotation
                                 file names are relative to the manual folder
    {annotations}/train/*.json{pad}one {layout} annotation file per video
    {annotations}/val/*.json
    detections/train.json        optional: COCO detection results (image_id or file_name,
    detections/val.json          bbox [x, y, w, h], score) for the frames of the split

The images are not copied: records store each image's path relative to this folder, whose
absolute path is written to `sequence_index.json`. Do not move it after preparing.
"""


def check_manual_dir(root: Path, splits: tuple[str, ...] = SPLITS,
                     annotations: str = "annotations") -> None:
    """Raises a one-line DataError unless `root` holds `images/` and `annotations/<split>/`
    (`annotations` names that folder)."""
    expected = [root, root / "images"] + [root / annotations / s for s in splits]
    for path in expected:
        if not path.is_dir():
            raise DataError(f"{path}: folder not found; the manual folder must hold the "
                            f"official release's images/ and {annotations}/"
                            f"{{{','.join(splits)}}}/ (see MANUAL_DOWNLOAD_INSTRUCTIONS)")


@dataclasses.dataclass
class PosetrackConfig(tfds.core.BuilderConfig):
    """Builder config of the PoseTrack datasets: the record padding."""

    max_people: int = 64
    max_detections: int = 100

    @property
    def layout(self) -> RecordLayout:
        """The record layout of this config."""
        return RecordLayout(self.max_people, self.max_detections)


class _FrameRecordBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared machinery: frame records from split plans, and the sequence index beside them."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Frame records with image paths; sequence index JSON.",
                     "1.1.0": "Ignore-region polygons in every record."}
    HOMEPAGE = "https://posetrack.net"
    CITATION = ""

    def _info(self) -> tfds.core.DatasetInfo:
        """Features, homepage and the in-order record guarantee."""
        return tfds.core.DatasetInfo(
            builder=self, description=self.__doc__, features=record_features(
                self.builder_config.layout),
            homepage=self.HOMEPAGE, citation=self.CITATION, disable_shuffling=True)

    def _plans(self) -> dict[str, SplitPlan]:
        """The split plans, read by `download_and_prepare` or `_download_and_prepare`."""
        plans = getattr(self, "_split_plans", None)
        if plans is None:
            raise RuntimeError("split plans are read before generation")
        return plans

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        """One generator per planned split."""
        del dl_manager  # the plans were read before preparation started
        return {split: self._generate_examples(plan) for split, plan in self._plans().items()}

    def _generate_examples(self, plan: SplitPlan):
        """Yields (record index, record); the integer keys keep generation order on disk."""
        for i in range(len(plan)):
            yield i, plan[i]

    def _write_index(self, image_root: str) -> None:
        """Writes the sequence index into the (temporary) dataset folder."""
        indexes = {split: plan.index for split, plan in self._plans().items()}
        write_index(indexes, Path(os.fspath(self.data_dir)) / INDEX_FILE, image_root)


class _ManualPosetrack(_FrameRecordBuilder, skip_registration=True):
    """A PoseTrack release read from the manual folder."""

    BUILDER_CONFIGS = [PosetrackConfig(name="default", description="64 people, 100 detections")]
    #: The release's annotation folder (one subfolder per split) and the reader of its files.
    ANNOTATIONS = "annotations"
    read_sequences = staticmethod(posetrack.read_sequences)

    def download_and_prepare(self, *, download_dir: epath.PathLike | None = None,
                             download_config: tfds.download.DownloadConfig | None = None,
                             **kwargs) -> None:
        """Checks and reads the manual folder, then writes the records and the index.

        Args:
          download_dir: TFDS download folder (default `<data_dir>/downloads`).
          download_config: `manual_dir` says where the release is (default
            `<download_dir>/manual`).
          **kwargs: passed to `tfds.core.DatasetBuilder.download_and_prepare`.

        Raises:
          DataError: a missing manual folder or annotation folder (one line naming the
            expected path), or a malformed annotation or detection file; nothing is written.
        """
        download_config = download_config or tfds.download.DownloadConfig(
            try_download_gcs=False)
        if not self.data_path.exists():
            downloads = epath.Path(download_dir or self.data_dir_root / "downloads")
            root = Path(os.fspath(download_config.manual_dir or downloads / "manual"))
            check_manual_dir(root, annotations=self.ANNOTATIONS)
            root = root.resolve()
            layout = self.builder_config.layout
            self._manual_root = root
            self._split_plans = {s: SplitPlan(root, s, layout, self.ANNOTATIONS,
                                              self.read_sequences) for s in SPLITS}
        super().download_and_prepare(download_dir=download_dir,
                                     download_config=download_config, **kwargs)

    def _download_and_prepare(self, dl_manager, download_config=None) -> None:
        """Writes the records, then the index with the manual folder as image root."""
        super()._download_and_prepare(dl_manager, download_config)
        self._write_index(str(self._manual_root))


_POSETRACK_NET = "registration and licence at posetrack.net"
_ANNOTATIONS = {"annotations": "annotations", "pad": "     "}


class Posetrack18(_ManualPosetrack):
    """PoseTrack 2018 frames (2018 annotation layout), with images left in the release."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_INSTRUCTIONS.format(
        access=_POSETRACK_NET, year="2018",
        layout="PoseTrack 2018 (COCO-like `images`/`annotations`)", **_ANNOTATIONS)


class Posetrack17(_ManualPosetrack):
    """PoseTrack 2017 frames (2017 `annolist` layout, mapped to the 17 slots)."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_INSTRUCTIONS.format(
        access=_POSETRACK_NET, year="2017", layout="PoseTrack 2017 (`annolist`)",
        **_ANNOTATIONS)


class Posetrack21(_ManualPosetrack):
    """PoseTrack21 frames (the release's `posetrack_data/`: the 2018 layout with person ids,
    read by `posetrack21.py`), with images left in the release."""

    HOMEPAGE = "https://github.com/anDoer/PoseTrack21"
    MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_INSTRUCTIONS.format(
        access="the release comes from its authors, see " + HOMEPAGE, year="PoseTrack21",
        layout="PoseTrack21", annotations="posetrack_data", pad="  ")
    ANNOTATIONS = "posetrack_data"
    read_sequences = staticmethod(posetrack21.read_sequences)


@dataclasses.dataclass
class SyntheticConfig(PosetrackConfig):
    """A synthetic world: seed, size, and videos per split (see `synthetic.generate_world`)."""

    seed: int = 0
    train_videos: int = 20
    val_videos: int = 5
    num_frames: int = 50
    image_hw: tuple[int, int] = (288, 384)
    val_label_every: int = 1


class SyntheticPosetrack(_FrameRecordBuilder):
    """The synthetic world of `gnnpose_jax.data.synthetic`, generated inside the dataset folder.

    Configs: `default` (20 train and 5 val videos of 50 frames, 384x288) and `tiny` (2 + 1
    videos of 8 frames, 128x96, for tests).
    """

    BUILDER_CONFIGS = [
        SyntheticConfig(name="default", description="20 + 5 videos, 50 frames, 384x288",
                        max_people=16, max_detections=32),
        SyntheticConfig(name="tiny", description="2 + 1 videos, 8 frames, 128x96",
                        max_people=16, max_detections=32, train_videos=2, val_videos=1,
                        num_frames=8, image_hw=(96, 128)),
    ]
    #: The world's folder inside the dataset folder; the image root of the records.
    WORLD = "world"

    def download_and_prepare(self, *, download_dir: epath.PathLike | None = None,
                             download_config: tfds.download.DownloadConfig | None = None,
                             **kwargs) -> None:
        """Generates the world and writes the records and the index (no network, no GCS)."""
        download_config = download_config or tfds.download.DownloadConfig(
            try_download_gcs=False)
        super().download_and_prepare(download_dir=download_dir,
                                     download_config=download_config, **kwargs)

    def _download_and_prepare(self, dl_manager, download_config=None) -> None:
        """Writes the world into the temporary dataset folder, then records and index."""
        config = self.builder_config
        root = Path(os.fspath(self.data_dir)) / self.WORLD
        videos = {"train": config.train_videos, "val": config.val_videos}
        label_every = {"train": 1, "val": config.val_label_every}
        for split in SPLITS:
            synthetic.generate_world(root, config.seed, videos[split], split,
                                     num_frames=config.num_frames,
                                     image_hw=tuple(config.image_hw),
                                     label_every=label_every[split])
        self._split_plans = {s: SplitPlan(root, s, config.layout) for s in SPLITS}
        super()._download_and_prepare(dl_manager, download_config)
        self._write_index(self.WORLD)


def prepare(builder_cls: type[_FrameRecordBuilder], data_dir: str | os.PathLike,
            manual_dir: str | os.PathLike | None = None, config: str | None = None
            ) -> _FrameRecordBuilder:
    """Builds (or reuses) a dataset and returns its builder.

    Args:
      builder_cls: `Posetrack18`, `Posetrack17`, `Posetrack21` or `SyntheticPosetrack`.
      data_dir: the TFDS data folder.
      manual_dir: the PoseTrack release folder (manual builders only).
      config: the builder config name (default: the builder's first).

    Returns:
      The prepared builder (`as_data_source()` and `load_index` work on it).

    Raises:
      DataError: see the builders' `download_and_prepare`.
    """
    builder = builder_cls(data_dir=os.fspath(data_dir), config=config,
                          file_format="array_record")
    download_config = tfds.download.DownloadConfig(
        manual_dir=None if manual_dir is None else os.fspath(manual_dir),
        try_download_gcs=False)
    builder.download_and_prepare(download_config=download_config)
    return builder
