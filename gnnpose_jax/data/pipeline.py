"""Grain input pipelines: record sources, per-person and per-window samples, pmap-shaped batches.

A `RecordSource` gives random access to frame records (the layout of `frame_records`) and the
split's `SequenceIndex`, from a prepared TFDS dataset (`tfds_source`) or straight from a
PoseTrack folder such as a synthetic world (`folder_source`). The sampling units are small
integer references, enumerated from the index without decoding a record:

- `person_refs`: (record, people slot) of every annotated person in a labeled frame, for
  top-down HRNet samples (`TopDownTransform`, `topdown_samples.py`);
- `window_refs`: (sequence number, frame t, track id) of every GNN sample (`WindowTransform`,
  `windows.py`);
- `detector_samples.frame_refs`: (record,) of every labeled frame, for YOLOX samples
  (`DetectorTransform`, `detector_samples.py`).

`make_loader` turns references and a transform into a `grain.IterDataset`:

    refs -> shuffle(seed) -> repeat(epochs) -> random_map(transform) -> slice(process)
         -> batch(devices x per-device batch) [-> map(batch_map)] -> to_iter_dataset
         -> mp_prefetch(workers)

The shuffle is global and reseeded every epoch; each process then takes every `shard_count`-th
example of the shuffled stream, so the processes see disjoint examples and, with a finite
number of epochs, the same number of batches. Augmentation randomness comes from grain's
per-element generator, seeded by the seed and the example's position in the global stream, so
the output does not depend on the number of worker processes or threads. Batches are the
transform's NamedTuple with every field shaped (num_local_devices, per_device_batch, ...), ready
for `jax.pmap`. The iterator (`iter(dataset)`) is checkpointable: `get_state()` returns a small
dict, and `set_state(state)` on a fresh iterator of the same pipeline resumes exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from collections.abc import Sequence as SequenceType
from pathlib import Path
from typing import Any, NamedTuple

import grain
import jax
import numpy as np
from absl import flags

from gnnpose_jax.data import detector_samples, topdown_samples, transforms, windows
from gnnpose_jax.data.frame_records import RecordLayout, SplitPlan
from gnnpose_jax.data.sequence_index import SequenceIndex, load_index
from gnnpose_jax.errors import ConfigError, DataError


class RecordSource:
    """Random access to one split's frame records (a grain data source), and its index."""

    def __init__(self, records: SequenceType[dict[str, Any]], index: SequenceIndex, name: str):
        """Wraps records and their index.

        Args:
          records: random-access records, record i described by index entry i.
          index: the split's sequence index.
          name: what the source is, for errors.
        """
        if len(records) != len(index):
            raise DataError(f"{name}: {len(records)} records but the sequence index describes "
                            f"{len(index)}; prepare the dataset again")
        self.records = records
        self.index = index
        self.name = name

    def __len__(self) -> int:
        """The number of records."""
        return len(self.records)

    def __getitem__(self, record: int) -> dict[str, Any]:
        """Record `record`."""
        return self.records[record]

    def __repr__(self) -> str:
        """The source's name."""
        return f"RecordSource({self.name})"

    def image(self, record: dict[str, Any]) -> np.ndarray:
        """The record's (H, W, 3) uint8 RGB image; DataError naming the path if missing."""
        return transforms.read_image_rgb(self.index.image_root / record["image"].decode())


def tfds_source(builder: Any, split: str) -> RecordSource:
    """The split of a prepared `tfds_posetrack` builder, through `as_data_source()`.

    Args:
      builder: a prepared builder with `file_format="array_record"`.
      split: the split name.

    Returns:
      The source.

    Raises:
      DataError: an unknown split or a missing or malformed sequence index.
    """
    sources = builder.as_data_source()
    if split not in sources:
        raise DataError(f"{builder.data_dir}: no split {split!r} (expected one of "
                        f"{', '.join(sorted(sources))})")
    return RecordSource(sources[split], load_index(builder, split),
                       f"{builder.data_dir} [{split}]")


def folder_source(root: str | os.PathLike, split: str, layout: RecordLayout | None = None
                  ) -> RecordSource:
    """A split read straight from a PoseTrack folder (annotations/, images/, detections/).

    Args:
      root: the folder, e.g. a synthetic world written by `python -m gnnpose_jax.data.synthetic`.
      split: the split name (annotations/<split>/*.json; detections/<split>.json if present).
      layout: the record padding (default `RecordLayout()`).

    Returns:
      The source, building records on access.

    Raises:
      DataError: a missing folder, an empty split, or a malformed file.
    """
    root = Path(root)
    ann_dir = root / "annotations" / split
    if not ann_dir.is_dir():
        raise DataError(f"{ann_dir}: folder not found; expected a PoseTrack folder with "
                        f"annotations/{split}/*.json and the images they name")
    plan = SplitPlan(root, split, layout or RecordLayout())
    return RecordSource(plan, plan.index, f"{root} [{split}]")


def person_refs(index: SequenceIndex, min_joints: int = 1) -> np.ndarray:
    """(N, 2) int64 [record, slot] of each person with >= min_joints joints in labeled frames."""
    refs = [(r, slot) for r, people in enumerate(index.people) if index.is_labeled[r]
            for slot, (_, count) in enumerate(people) if count >= min_joints]
    return np.array(refs, dtype=np.int64).reshape(-1, 2)


def _tracks_by_frame(index: SequenceIndex, records: list[int], min_joints: int
                     ) -> dict[int, set[int]]:
    """Frame index -> tracks with a GT pose of >= min_joints joints, over labeled records."""
    return {index.frame_index[r]: {t for t, count in index.people[r] if count >= min_joints}
            for r in records if index.is_labeled[r]}


def window_refs(index: SequenceIndex, history: int, min_joints: int = 1) -> np.ndarray:
    """(N, 3) int64 [sequence number, frame t, track id] of every GNN window sample.

    The sequence number is the position in `index.sequences` (its insertion order).
    """
    refs = []
    for number, records in enumerate(index.sequences.values()):
        tracks = _tracks_by_frame(index, records, min_joints)
        refs.extend((number, t, track) for t, track in windows.window_samples(tracks, history))
    return np.array(refs, dtype=np.int64).reshape(-1, 3)


def refs_with_estimates(refs: np.ndarray, index: SequenceIndex,
                        estimates: Mapping[tuple[int, int], np.ndarray], history: int,
                        threshold: float) -> np.ndarray:
    """The window refs whose history has an estimate with a joint scoring above `threshold`.

    The others could not be predicted at inference either: the tracker has no usable pose for
    such a track.
    """
    frames = [index.frame_records(name) for name in index.sequences]
    best = {key: float(pose[:, 2].max()) for key, pose in estimates.items()}
    keep = [any(best.get((frames[number].get(t - f), track), -np.inf) > threshold
                for f in range(1, history + 1))
            for number, t, track in refs.tolist()]
    return refs[np.array(keep, bool).reshape(-1)]


def _slot_of(record: dict[str, Any], track_id: int) -> int | None:
    """The people slot of a track in a record, or None."""
    people = record["people"]
    slots = np.flatnonzero(people["track_id"][: people["count"]] == track_id)
    return int(slots[0]) if len(slots) else None


@dataclasses.dataclass(frozen=True)
class TopDownTransform(grain.transforms.RandomMap):
    """[record, slot] -> `topdown_samples.TopDownSample` (decode, crop, augment, targets)."""

    source: RecordSource
    config: topdown_samples.TopDownConfig
    augment: bool = True
    min_box_side: float = 8.0

    def random_map(self, element: np.ndarray, rng: np.random.Generator
                   ) -> topdown_samples.TopDownSample:
        """Builds the sample of one person reference."""
        record = self.source[int(element[0])]
        people, slot = record["people"], int(element[1])
        keypoints = people["keypoints"][slot].astype(np.float64)
        box = people["box"][slot].astype(np.float64)
        if box[2] <= 0 or box[3] <= 0:
            # 2017 people carry no box; their joints' box stands in.
            present = topdown_samples.annotated(keypoints)
            box = windows.pose_box(keypoints, min_side=self.min_box_side, present=present)
        return topdown_samples.make_topdown_sample(self.source.image(record), keypoints, box,
                                                   rng, self.config, self.augment)


def person_box(people: Mapping[str, np.ndarray], slot: int, min_side: float = 8.0
               ) -> np.ndarray:
    """A record person's box [x, y, w, h]; a person without one (2017 files) gets the box of
    its annotated joints."""
    box = np.asarray(people["box"][slot], np.float64)
    if box[2] > 0 and box[3] > 0:
        return box
    keypoints = np.asarray(people["keypoints"][slot], np.float64)
    return windows.pose_box(keypoints, min_side=min_side,
                            present=topdown_samples.annotated(keypoints))


def detection_box(record_index: int, people: Mapping[str, np.ndarray], slot: int,
                  jitter: tuple[float, float]) -> np.ndarray:
    """The detection-like box of a record's person (`windows.detection_like_box` of
    `person_box`): the box GNN windows and history estimates of feature source "detections"
    crop that person in that frame."""
    return windows.detection_like_box(person_box(people, slot), record_index,
                                      int(people["track_id"][slot]), jitter)


@dataclasses.dataclass(frozen=True)
class WindowTransform(grain.transforms.RandomMap):
    """[sequence number, t, track] -> `windows.TrackletWindow` (records, images, crops).

    With `estimates` ((record index, track id) -> (K, 3) [x, y, score]), the history poses are
    those estimates (a person without one has no pose in that frame) and `config` must say
    `history_from_estimates`; the pose at t stays the GT target. Under feature source
    "detections", each frame's crop is cut from the person's `detection_box`.
    """

    source: RecordSource
    config: windows.WindowConfig
    augment: bool = True
    estimates: Mapping[tuple[int, int], np.ndarray] | None = None

    @functools.cached_property
    def _frames(self) -> list[dict[int, int]]:
        """Per sequence number: frame index -> record index."""
        return [self.source.index.frame_records(name) for name in self.source.index.sequences]

    def random_map(self, element: np.ndarray, rng: np.random.Generator
                   ) -> windows.TrackletWindow:
        """Builds the window of one (sequence, t, track) reference."""
        number, t, track = (int(v) for v in element)
        frames = self._frames[number]
        images, poses, boxes = [], [], []
        detections = self.config.feature_source == "detections"
        for f in range(self.config.history + 1):
            record_index = frames.get(t - f)
            record = None if record_index is None else self.source[record_index]
            slot = None if record is None or not record["is_labeled"] else _slot_of(record, track)
            pose = None if slot is None else record["people"]["keypoints"][slot]
            if pose is not None and topdown_samples.annotated(pose).sum() < self.config.min_joints:
                pose = None
            if f and pose is not None and self.estimates is not None:
                pose = self.estimates.get((record_index, track))
            poses.append(pose)
            images.append(None if pose is None else self.source.image(record))
            boxes.append(detection_box(record_index, record["people"], slot,
                                       self.config.detection_jitter)
                         if detections and pose is not None else None)
        return windows.make_window(images, poses, rng, self.config, self.augment,
                                   boxes if detections else None)


@dataclasses.dataclass(frozen=True)
class DetectorTransform(grain.transforms.RandomMap):
    """[record] -> `detector_samples.DetectorSample` (decode, letterbox, augment, boxes; the
    record's ignore regions filled and kept in input pixels)."""

    source: RecordSource
    config: detector_samples.DetectorConfig
    augment: bool = True

    def random_map(self, element: np.ndarray, rng: np.random.Generator
                   ) -> detector_samples.DetectorSample:
        """Builds the sample of one frame reference."""
        record = self.source[int(element[0])]
        boxes = detector_samples.person_boxes(record, self.config.min_visible_joints)
        slots = RecordLayout()
        slots = (slots.max_ignore_points, slots.max_ignore_regions)
        if "ignore_regions" in record:
            slots = (len(record["ignore_regions"]["points"]),
                     len(record["ignore_regions"]["sizes"]))
        return detector_samples.make_detector_sample(
            self.source.image(record), boxes, rng, self.config, self.augment,
            ignore_regions=detector_samples.record_ignore_regions(record), max_ignore=slots)


def stack_for_devices(examples: SequenceType[NamedTuple], num_devices: int) -> NamedTuple:
    """Stacks examples into one NamedTuple with fields (num_devices, per_device, ...)."""
    first = examples[0]
    fields = []
    for name in first._fields:
        stacked = np.stack([np.asarray(getattr(e, name)) for e in examples])
        fields.append(stacked.reshape(num_devices, -1, *stacked.shape[1:]))
    return type(first)(*fields)


@dataclasses.dataclass(frozen=True)
class LoaderConfig:
    """Batching, shuffling, sharding and parallelism of a loader.

    Attributes:
      per_device_batch: examples per device per step.
      num_devices: leading batch axis; None: `jax.local_device_count()`.
      seed: shuffle and augmentation seed (the same on every process).
      shuffle: shuffle the examples (reshuffled every epoch).
      num_epochs: passes over the examples; None repeats forever.
      shard_index: this process's shard; None: `jax.process_index()`.
      shard_count: number of shards; None: `jax.process_count()`.
      num_workers: grain worker processes (0: everything in this process).
      worker_buffer_size: batches each worker prepares ahead.
      read_threads: threads per process computing examples (0: none).
      read_buffer_size: examples per process computed ahead by those threads.
    """

    per_device_batch: int
    num_devices: int | None = None
    seed: int = 0
    shuffle: bool = True
    num_epochs: int | None = None
    shard_index: int | None = None
    shard_count: int | None = None
    num_workers: int = 0
    worker_buffer_size: int = 1
    read_threads: int = 0
    read_buffer_size: int = 0


def make_loader(refs: np.ndarray, transform: grain.transforms.RandomMap, config: LoaderConfig,
                name: str = "loader", batch_map: Callable[[Any], Any] | None = None
                ) -> grain.IterDataset:
    """The batched, sharded, shuffled pipeline over sample references.

    Args:
      refs: (N, ...) integer references, one per example (`person_refs`, `window_refs`).
      transform: reference -> example NamedTuple.
      config: batching, shuffling, sharding and workers.
      name: what the examples come from, for errors.
      batch_map: optional (picklable) function of each stacked batch, run where the batch is
        made (in the worker processes when there are any), e.g. GNN graph building and padding.

    Returns:
      A `grain.IterDataset` of batches with fields (num_devices, per_device_batch, ...), or of
      what `batch_map` makes of them; `iter()` gives a checkpointable iterator.

    Raises:
      DataError: no references (an empty split), or fewer than one global batch.
      ConfigError: bad batch, shard or worker settings.
    """
    num_devices = config.num_devices or jax.local_device_count()
    shard_count = config.shard_count or jax.process_count()
    shard_index = jax.process_index() if config.shard_index is None else config.shard_index
    batch = num_devices * config.per_device_batch
    if config.per_device_batch < 1 or not 0 <= shard_index < shard_count:
        raise ConfigError(f"loader: per_device_batch {config.per_device_batch} must be >= 1 and "
                          f"shard_index {shard_index} in [0, {shard_count})")
    if config.num_workers < 0 or not 0 <= config.read_threads <= config.read_buffer_size:
        raise ConfigError(f"loader: num_workers {config.num_workers} must be >= 0 and "
                          f"read_threads {config.read_threads} in [0, read_buffer_size "
                          f"{config.read_buffer_size}]")
    if len(refs) == 0:
        raise DataError(f"{name}: no examples in the split (empty split, or no annotated "
                        "person or window); expected at least one")
    if len(refs) < batch * shard_count:
        raise DataError(f"{name}: {len(refs)} examples, fewer than one global batch of "
                        f"{batch * shard_count}; lower per_device_batch")
    ds = grain.MapDataset.source(refs)
    if config.shuffle:
        ds = ds.shuffle(seed=config.seed)
    ds = ds.repeat(config.num_epochs).random_map(transform, seed=config.seed)
    if config.num_epochs is not None:
        ds = ds[: len(ds) // shard_count * shard_count]
    ds = ds[shard_index::shard_count]
    ds = ds.batch(batch, drop_remainder=True,
                  batch_fn=functools.partial(stack_for_devices, num_devices=num_devices))
    if batch_map is not None:
        ds = ds.map(batch_map)
    read = grain.ReadOptions(num_threads=config.read_threads,
                             prefetch_buffer_size=config.read_buffer_size)
    ds = ds.to_iter_dataset(read)
    if config.num_workers:
        # grain's worker setup reads absl flags and fails if they were never parsed (outside an
        # absl app); their defaults are what we want.
        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()
        ds = ds.mp_prefetch(grain.MultiprocessingOptions(
            num_workers=config.num_workers, per_worker_buffer_size=config.worker_buffer_size))
    return ds
