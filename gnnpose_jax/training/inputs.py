"""The training package's view of the data: sources, loaders and step batches for every mode
(HRNet, GNN, detector).

Adapts `data.pipeline` (grain loaders of `TopDownSample` / `TrackletWindow` /
`DetectorSample` batches shaped (local devices, per-device batch, ...)) to the step contracts of
`steps.py`:
- train loaders repeat forever, reshuffled every pass; their iterators are what checkpoints
  store, and batches are converted to step dicts in the loop (`hrnet_batch`,
  `detector_batch`), or, for the GNN, in the loaders' workers (`gnn_batch`: graph building
  and padding);
- validation loaders make one pass in order; the reference list is padded to a whole number of
  global batches and every example carries a `valid` flag, so that no example is dropped and
  every process runs the same number of eval steps (big_vision's masked last batch).
"""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path
from typing import Any

import grain
import jax
import ml_collections
import numpy as np

from gnnpose_jax.data import (
    detector_samples,
    folders,
    pipeline,
    synthetic,
    tfds_posetrack,
    topdown_samples,
    windows,
)
from gnnpose_jax.errors import ConfigError, DataError
from gnnpose_jax.graphs import GraphSpec, batch_graphs, build_graph, grid_to_image_affines
from gnnpose_jax.graphs.budget import GraphBudget

SOURCES = ("synthetic", "folder", "tfds")
TFDS_BUILDERS = {"posetrack18": tfds_posetrack.Posetrack18,
                 "posetrack17": tfds_posetrack.Posetrack17,
                 "posetrack21": tfds_posetrack.Posetrack21,
                 "synthetic": tfds_posetrack.SyntheticPosetrack}

# Eval examples: the sample's fields plus `valid` (False for padding). Module-level names, so
# that grain worker processes can pickle them.
TopDownEval = collections.namedtuple("TopDownEval", topdown_samples.TopDownSample._fields
                                     + ("valid",))
WindowEval = collections.namedtuple("WindowEval", windows.TrackletWindow._fields + ("valid",))
DetectorEval = collections.namedtuple("DetectorEval",
                                      detector_samples.DetectorSample._fields + ("valid",))


def ensure_synthetic_world(root: Path, data: ml_collections.ConfigDict) -> None:
    """Generates the synthetic world's train, val and tune splits into `root` unless present.

    The tune split (for choosing tracker settings) is written only when it has videos. In a
    multi-process run, process 0 writes and the others wait for it.
    """
    settings = {"train": (data.synthetic_train_videos, 1),
                "val": (data.synthetic_val_videos, data.synthetic_val_label_every),
                "tune": (data.synthetic_tune_videos, data.synthetic_val_label_every)}
    settings = {split: v for split, v in settings.items() if v[0] > 0}
    if jax.process_index() == 0:
        for split, (videos, label_every) in settings.items():
            if not (root / "annotations" / split).is_dir():
                synthetic.generate_world(root, data.synthetic_seed, videos, split,
                                         num_frames=data.synthetic_frames,
                                         image_hw=tuple(data.synthetic_image_hw),
                                         label_every=label_every)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("synthetic world written")


def check_data_config(data: ml_collections.ConfigDict) -> None:
    """ConfigError unless `data.source` (and, for TFDS, `data.tfds_name`) is known."""
    if data.source not in SOURCES:
        raise ConfigError(f"data.source {data.source!r} must be one of {SOURCES}")
    if data.source == "tfds" and data.tfds_name not in TFDS_BUILDERS:
        raise ConfigError(f"data.tfds_name {data.tfds_name!r} must be one of "
                          f"{tuple(TFDS_BUILDERS)}")


def frame_source(data: ml_collections.ConfigDict, split: str, workdir: str | Path
                 ) -> pipeline.RecordSource:
    """The record source of one split, as `data.source` says.

    Args:
      data: the config's `data` section.
      split: the split name.
      workdir: the run's folder (the default home of a synthetic world).

    Returns:
      The source.

    Raises:
      ConfigError: an unknown source or TFDS dataset.
      DataError: missing or malformed data.
    """
    check_data_config(data)
    root = folders.data_root(data, workdir)
    if data.source == "synthetic":
        ensure_synthetic_world(root, data)
    if data.source in ("synthetic", "folder"):
        return pipeline.folder_source(root, split)
    builder = tfds_posetrack.prepare(TFDS_BUILDERS[data.tfds_name], root,
                                     manual_dir=folders.manual_folder(data, workdir),
                                     config=data.tfds_config or None)
    return pipeline.tfds_source(builder, split)


class VisibleJointsSource:
    """A record source whose people keep only their visible joints (visibility flag > 0).

    HRNet's targets are weighted by visibility (official `joints_vis`): a joint hidden behind
    something nearer has nothing to localise in the crop, so it gets no target.
    """

    def __init__(self, source: pipeline.RecordSource):
        """Wraps `source`."""
        self.source = source
        self.index = source.index
        self.name = source.name

    def __len__(self) -> int:
        """The number of records."""
        return len(self.source)

    def __getitem__(self, record: int) -> dict[str, Any]:
        """Record `record`, hidden joints set to (0, 0, 0)."""
        out = dict(self.source[record])
        people = dict(out["people"])
        keypoints = np.array(people["keypoints"], copy=True)
        keypoints[keypoints[..., 2] <= 0] = 0.0
        people["keypoints"] = keypoints
        out["people"] = people
        return out

    def image(self, record: dict[str, Any]) -> np.ndarray:
        """The record's image."""
        return self.source.image(record)


def _loader_config(config: ml_collections.ConfigDict, per_device_batch: int, train: bool
                   ) -> pipeline.LoaderConfig:
    """The grain settings of a train (shuffled, endless) or eval (ordered, one pass) loader."""
    return pipeline.LoaderConfig(
        per_device_batch=per_device_batch, seed=config.seed, shuffle=train,
        num_epochs=None if train else 1, num_workers=config.data.num_workers,
        read_threads=config.data.read_threads, read_buffer_size=config.data.read_buffer_size)


def pad_refs(refs: np.ndarray, multiple: int, limit: int = 0) -> np.ndarray:
    """References with a trailing valid column, padded to a multiple of `multiple` rows.

    Args:
      refs: (N, R) sample references.
      multiple: the global batch size.
      limit: keep at most this many references, spread evenly over the split (0 = all).

    Returns:
      (M, R + 1) int64: the references then 1, followed by copies of the first with 0.
    """
    if limit and len(refs) > limit:
        refs = refs[np.unique(np.linspace(0, len(refs) - 1, limit).round().astype(int))]
    total = -(-len(refs) // multiple) * multiple
    padded = np.concatenate([refs, np.repeat(refs[:1], total - len(refs), axis=0)])
    valid = (np.arange(total) < len(refs)).astype(np.int64)
    return np.concatenate([padded, valid[:, None]], axis=1)


@dataclasses.dataclass(frozen=True)
class FlaggedTransform(grain.transforms.RandomMap):
    """Applies a sample transform to a reference's leading columns; adds the valid flag."""

    transform: grain.transforms.RandomMap
    output: type

    def random_map(self, element: np.ndarray, rng: np.random.Generator):
        """The sample of `element[:-1]`, with `valid = element[-1]`."""
        sample = self.transform.random_map(element[:-1], rng)
        return self.output(*sample, np.bool_(element[-1]))


def eval_loader(refs: np.ndarray, transform: grain.transforms.RandomMap, output: type,
                config: ml_collections.ConfigDict, per_device_batch: int, name: str,
                batch_map=None) -> grain.IterDataset:
    """One ordered pass over padded references, batches of `output` with a `valid` field (or
    what `batch_map` makes of them, as in `pipeline.make_loader`)."""
    global_batch = per_device_batch * jax.device_count()
    padded = pad_refs(refs, global_batch, config.data.max_val_examples)
    return pipeline.make_loader(padded, FlaggedTransform(transform, output),
                                _loader_config(config, per_device_batch, train=False), name,
                                batch_map)


def topdown_config(config: ml_collections.ConfigDict) -> topdown_samples.TopDownConfig:
    """The top-down crop, target codec and augmentation from the config."""
    aug = config.augment
    return topdown_samples.TopDownConfig(
        input_hw=tuple(config.hrnet.input_hw), sigma=config.hrnet.heatmap_sigma or None,
        scale_factor=aug.scale_factor, rotation_factor=aug.rotation_factor,
        rotation_prob=aug.rotation_prob, flip_prob=aug.flip_prob,
        half_body_prob=aug.half_body_prob)


HISTORY_SOURCES = ("gt", "hrnet")


def window_config(config: ml_collections.ConfigDict) -> windows.WindowConfig:
    """The tracklet window settings from the config.

    Pose boxes count the joints scoring at least tau_joint, as the tracker's do.
    """
    aug, gnn = config.augment, config.gnn
    if gnn.history_source not in HISTORY_SOURCES:
        raise ConfigError(f"gnn.history_source {gnn.history_source!r} must be one of "
                          f"{HISTORY_SOURCES}")
    if gnn.feature_source not in windows.FEATURE_SOURCES:
        raise ConfigError(f"gnn.feature_source {gnn.feature_source!r} must be one of "
                          f"{windows.FEATURE_SOURCES}")
    if not 0.0 <= gnn.uncovered_prob <= 1.0 or len(gnn.detection_jitter) != 2 or min(
            gnn.detection_jitter) < 0:
        raise ConfigError(f"gnn.uncovered_prob {gnn.uncovered_prob} must be in [0, 1] and "
                          f"gnn.detection_jitter {tuple(gnn.detection_jitter)} two sds >= 0")
    return windows.WindowConfig(
        history=gnn.history, input_hw=tuple(config.hrnet.input_hw),
        box_threshold=gnn.joint_threshold, min_joints=config.data.min_joints,
        track_enlarge=gnn.track_enlarge, jitter=gnn.history_jitter,
        dropout=gnn.history_dropout, score_range=tuple(gnn.history_score_range),
        scale_factor=aug.scale_factor, rotation_factor=aug.rotation_factor,
        rotation_prob=aug.rotation_prob, flip_prob=aug.flip_prob,
        history_from_estimates=gnn.history_source == "hrnet",
        feature_source=gnn.feature_source, uncovered_prob=gnn.uncovered_prob,
        detection_jitter=tuple(float(v) for v in gnn.detection_jitter))


def hrnet_loaders(config: ml_collections.ConfigDict, workdir: str | Path, per_device_batch: int
                  ) -> tuple[grain.IterDataset, grain.IterDataset, int]:
    """(train loader, val loader, number of train examples) of HRNet mode."""
    data, codec = config.data, topdown_config(config)
    train = frame_source(data, data.train_split, workdir)
    train_refs = pipeline.person_refs(train.index, data.min_joints)
    samples = VisibleJointsSource(train) if config.hrnet.visible_targets_only else train
    train_loader = pipeline.make_loader(
        train_refs, pipeline.TopDownTransform(samples, codec),
        _loader_config(config, per_device_batch, train=True), train.name)
    val = frame_source(data, data.val_split, workdir)
    val_refs = pipeline.person_refs(val.index, data.min_joints)
    if len(val_refs) == 0:
        raise DataError(f"{val.name}: no annotated person to validate on")
    val_loader = eval_loader(val_refs, pipeline.TopDownTransform(val, codec, augment=False),
                             TopDownEval, config, per_device_batch, val.name)
    return train_loader, val_loader, len(train_refs)


def gnn_loaders(config: ml_collections.ConfigDict, workdir: str | Path, per_device_batch: int,
                estimates_for=None, step_batch=None
                ) -> tuple[grain.IterDataset, grain.IterDataset | None, int]:
    """(train loader, val loader or None, number of train windows) of GNN mode.

    The val loader is None when the val split has no window (PoseTrack labels its val videos
    every 4th frame, so no labeled history precedes a labeled frame within n frames).

    Args:
      config: the run config.
      workdir: the run's folder.
      per_device_batch: windows per device per step.
      estimates_for: with `gnn.history_source = "hrnet"`, (record source, split) -> the
        history estimates of that split (`training.history`).
      step_batch: optional window batch -> step batch (`gnn_batch` with its spec and budget),
        run in the loaders (their worker processes, if any), so that graph building and
        padding stay out of the training thread; None: the loaders give window batches.
    """
    data, settings = config.data, window_config(config)
    if settings.history_from_estimates and estimates_for is None:
        raise ConfigError("gnn.history_source 'hrnet' needs the frozen HRNet's estimates")

    def windows_of(split, augment):
        """A split's source, window refs and transform (with estimates if the history needs
        them; then only windows with a usable estimated history)."""
        source = frame_source(data, split, workdir)
        refs = pipeline.window_refs(source.index, settings.history, settings.min_joints)
        estimates = None
        if settings.history_from_estimates:
            estimates = estimates_for(source, split)
            usable = pipeline.refs_with_estimates(refs, source.index, estimates,
                                                  settings.history, settings.box_threshold)
            if len(refs) and not len(usable):
                raise DataError(
                    f"{source.name} [{split}]: gnn.history_source 'hrnet': no window of the "
                    f"{len(refs)} has an estimated history joint scoring above "
                    f"gnn.joint_threshold {settings.box_threshold} (is hrnet.checkpoint a "
                    "trained network?)")
            refs = usable
        return source, refs, pipeline.WindowTransform(source, settings, augment, estimates)

    train, train_refs, train_transform = windows_of(data.train_split, True)
    train_loader = pipeline.make_loader(
        train_refs, train_transform, _loader_config(config, per_device_batch, train=True),
        train.name, step_batch)
    val, val_refs, val_transform = windows_of(data.val_split, False)
    val_loader = None
    if len(val_refs):
        val_loader = eval_loader(val_refs, val_transform, WindowEval, config, per_device_batch,
                                 val.name, step_batch)
    return train_loader, val_loader, len(train_refs)


def detector_config(config: ml_collections.ConfigDict) -> detector_samples.DetectorConfig:
    """The detector's input, targets and augmentation from the config."""
    det = config.detector
    return detector_samples.DetectorConfig(
        input_hw=tuple(det.input_hw), max_boxes=det.max_boxes,
        min_visible_joints=det.min_visible_joints, flip_prob=config.augment.flip_prob,
        hsv=det.hsv, scale_jitter=det.scale_jitter)


def detector_loaders(config: ml_collections.ConfigDict, workdir: str | Path,
                     per_device_batch: int) -> tuple[grain.IterDataset, grain.IterDataset, int]:
    """(train loader, val loader, number of train frames) of detector mode.

    Raises:
      DataError: a split whose labeled frames hold no person box (nothing to learn or score).
    """
    data, settings = config.data, detector_config(config)

    def frames_of(split):
        """A split's source and labeled-frame refs; refused when no frame has a target box."""
        source = frame_source(data, split, workdir)
        refs = detector_samples.frame_refs(source.index)
        if not any(count >= settings.min_visible_joints
                   for r in refs[:, 0] for _, count in source.index.people[r]):
            raise DataError(f"{source.name}: no labeled frame has a person to box (detector "
                            "mode needs annotated people with visible joints)")
        return source, refs

    train, train_refs = frames_of(data.train_split)
    train_loader = pipeline.make_loader(
        train_refs, pipeline.DetectorTransform(train, settings),
        _loader_config(config, per_device_batch, train=True), train.name)
    val, val_refs = frames_of(data.val_split)
    val_loader = eval_loader(val_refs, pipeline.DetectorTransform(val, settings, augment=False),
                             DetectorEval, config, per_device_batch, val.name)
    return train_loader, val_loader, len(train_refs)


def detector_batch(samples: Any) -> dict[str, np.ndarray]:
    """A (D, b, ...) `DetectorSample` or `DetectorEval` batch as the detector step dict."""
    valid = getattr(samples, "valid", np.ones(samples.box_mask.shape[:2], bool))
    return {"image": samples.image, "boxes": samples.boxes, "classes": samples.classes,
            "box_mask": samples.box_mask & valid[..., None], "mask": valid,
            "ignore_points": samples.ignore_points, "ignore_sizes": samples.ignore_sizes}


def hrnet_batch(samples: Any) -> dict[str, np.ndarray]:
    """A (D, b, ...) `TopDownSample` or `TopDownEval` batch as the HRNet step dict."""
    valid = getattr(samples, "valid", np.ones(samples.weights.shape[:2], bool))
    return {"image": samples.image, "heatmaps": samples.heatmaps,
            "target_weight": samples.weights, "joints": samples.keypoints, "mask": valid}


def _device_graphs(windows_batch: Any, device: int, spec: GraphSpec, budget: GraphBudget,
                   valid: np.ndarray):
    """One device's padded graphs; padding examples get no targets, so they weigh nothing."""
    graphs = []
    for i in range(windows_batch.history.shape[1]):
        target = windows_batch.target[device, i] if valid[device, i] else None
        matrices = windows_batch.crop_matrices[device, i]
        graphs.append(build_graph(spec, windows_batch.history[device, i], matrices[1:],
                                  matrices[0], windows_batch.box[device, i], target))
    return batch_graphs(graphs, budget)


def prepared_batch(batch: dict[str, Any]) -> dict[str, Any]:
    """A batch its loader already made a step dict (GNN mode: `gnn_loaders(step_batch=...)`)."""
    return batch


def gnn_batch(windows_batch: Any, spec: GraphSpec, budget: GraphBudget) -> dict[str, Any]:
    """A (D, b, ...) `TrackletWindow` or `WindowEval` batch as the GNN step dict.

    GNN mode runs it in the loaders' workers (`gnn_loaders(step_batch=...)`).

    Args:
      windows_batch: the loader's batch.
      spec: the graph settings.
      budget: the per-device padding budget (b graphs).

    Returns:
      `crops`, `graphs` (one padded GraphsTuple per device, stacked), `grid_to_image`
      (candidate grid -> window frame), `gt` and `mask`, all with a leading device axis.
    """
    num_devices = windows_batch.history.shape[0]
    valid = getattr(windows_batch, "valid", np.ones(windows_batch.history.shape[:2], bool))
    per_device = [_device_graphs(windows_batch, d, spec, budget, valid)
                  for d in range(num_devices)]
    graphs = jax.tree.map(lambda *x: np.stack(x), *per_device)
    current = windows_batch.crop_matrices[:, :, 0]
    grid_to_image = np.stack([grid_to_image_affines(m, spec.grid) for m in current])
    return {"crops": windows_batch.crops, "graphs": graphs,
            "grid_to_image": grid_to_image.astype(np.float32), "gt": windows_batch.target,
            "mask": valid}
