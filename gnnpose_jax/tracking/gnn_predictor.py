"""The GNN as the tracker's `PosePredictor` (docs/spec/method.md §1 step 3, §2).

Crops follow the training windows exactly (`data.windows`), with the crop settings the GNN
export stores (`CropSettings`), in one of two ways (its `feature_source`):

- "poses" (exports older than the field): a history frame's crop is its emitted pose's box
  enlarged `box_enlarge` (a detection crop, 1.25 by default), and the current crop is the last
  pose's box enlarged `box_enlarge × track_enlarge` (1.25 × 1.2, `windows.track_crop_region`),
  both at the export's input size. HRNet features of a history crop are computed once, in the
  HRNet call of the frame after the pose was emitted (the tracker runs the predictor's crops
  with the detections' crops, one batched call per frame), and cached for n frames.
- "detections": no crop of its own but in the recovery case. A history frame's features are
  those of the crop that produced the emitted pose: the detection's crop HRNet ran on (its
  features and crop matrix come back with the estimates, `TopDownEstimator.estimate(...,
  features=True)`), or for a recovered pose the current crop it was predicted from; they are
  cached per (track, frame) for n frames. The current crop is the crop of the detection whose
  box best overlaps the track's last pose box (IoU at least the tracker's `cover_iou`); a track
  no detection covers gets the track crop of "poses", the one extra crop HRNet runs.

Tracks are batched into padded graphs (the next power of two up to `max_tracks`), so a
video compiles the GNN a few times at most. Asked for maps (the "heatmap_average" merge rule),
a prediction also carries its candidate probabilities P_k on the grid and the grid → image
affine, from a second jitted forward compiled only then.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import jax
import numpy as np

from gnnpose_jax.data import windows
from gnnpose_jax.graphs import (
    GraphSpec,
    batch_graphs,
    build_graph,
    candidate_probabilities,
    decode_grid,
    decode_poses,
    graph_budget,
    grid_to_image_affines,
)
from gnnpose_jax.models.gnn_io import CropSettings, GnnExport
from gnnpose_jax.models.topdown import TopDownEstimator, padded_size, warp_crops
from gnnpose_jax.tracking.heatmap_merge import JointMaps
from gnnpose_jax.tracking.tracker import Pose, Track, TrackedPose


def _pose_array(pose: Pose) -> np.ndarray:
    return np.concatenate([pose.keypoints, pose.scores[:, None]], axis=1)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one [x, y, w, h] box with each of (N, 4) boxes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y2 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


class _Plan(NamedTuple):
    """What a usable track contributes to this frame's graphs (`GnnPredictor.crops`)."""

    history: np.ndarray  # (n, K, 3) poses of frames t-1 .. t-n (zeros where missing)
    affines: np.ndarray  # (n, 2, 3) their crop matrices
    keys: list  # n feature-cache keys, None where a frame is missing
    current: np.ndarray  # (2, 3) the current crop's matrix (a covering detection's: its own)
    box: np.ndarray  # the last pose's box
    detection: int | None = None  # the covering detection ("detections" source), else None


class GnnPredictor:
    """Predicts each active track's pose in the current frame with the pose-dynamics GNN.

    A frame is two calls: `crops` names the crops whose HRNet features it needs (under
    "poses": the history crops of the previous frames' emitted poses not yet run, then each
    usable track's current crop; under "detections": the current crop of each track no
    detection covers), the tracker runs them through `estimator` in the same batched call as
    the detections' crops, and `predict` takes their features (and, under "detections", those
    of the detections' crops). So HRNet runs once per frame.

    Args:
      estimator: the HRNet top-down estimator whose features the GNN was trained on.
      gnn_module: a `GnnPose`.
      gnn_variables: its variables.
      spec: the graph settings the GNN was trained with.
      max_tracks: the most graphs per jitted call (fewer tracks are padded to the next power
        of two, `padded_size`); more tracks are processed in several calls.
      crops: how the GNN's training crops were cut; None: at the estimator's input size with
        the default enlargements.
    """

    def __init__(self, estimator: TopDownEstimator, gnn_module, gnn_variables, spec: GraphSpec,
                 max_tracks: int = 16, crops: CropSettings | None = None):
        self.estimator, self.spec, self.max_tracks = estimator, spec, max_tracks
        self.crop_settings = crops or CropSettings(estimator.input_hw)
        #: Whether `predict` and `observe` read the detections' crop features (the tracker
        #: then asks the estimator for them).
        self.detection_features = self.crop_settings.feature_source == "detections"
        if self.detection_features and tuple(estimator.input_hw) != self.crop_settings.input_hw:
            raise ValueError(f"GnnPredictor: the GNN's crops are {self.crop_settings.input_hw}, "
                             f"its estimator's {tuple(estimator.input_hw)}; detection-crop "
                             "features need one size")
        self._budgets = {}  # padded track count -> its graph budget
        self.variables = jax.device_put(gnn_variables)
        grid = spec.grid

        def forward(variables, graphs, features, grid_to_image):
            logits = gnn_module.apply(variables, graphs, features)
            return decode_poses(logits, graphs, grid_to_image, grid, radius=spec.decode_radius)

        def forward_maps(variables, graphs, features, grid_to_image):
            logits = gnn_module.apply(variables, graphs, features)
            probs = candidate_probabilities(logits, graphs, grid, grid_to_image.shape[0])
            return decode_grid(probs, grid_to_image, radius=spec.decode_radius), probs

        self._forward = jax.jit(forward)
        self._forward_maps = jax.jit(forward_maps)
        self._reset()

    def _reset(self) -> None:
        #: (track id, frame) -> the HRNet features of that pose's history crop (None until
        #: its crop has run).
        self._cache: dict[tuple[int, int], np.ndarray | None] = {}
        #: Under "detections": (track id, frame) -> that crop's image -> crop matrix.
        self._matrices: dict[tuple[int, int], np.ndarray] = {}
        #: Keys and normalised crops of emitted poses whose features are not computed yet.
        self._pending: list[tuple[tuple[int, int], np.ndarray]] = []
        self._plans: list[_Plan | None] = []
        #: Under "detections": track id -> (features, matrix) of its current crop this frame.
        self._current: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def from_export(cls, estimator: TopDownEstimator, export: GnnExport, max_tracks: int = 16
                    ) -> GnnPredictor:
        """The predictor of a loaded GNN export: its graph and crop settings."""
        return cls(estimator, export.module, export.variables, export.spec, max_tracks,
                   export.crops)

    def fresh(self) -> GnnPredictor:
        """A predictor for another video: an empty feature cache, the same compiled network."""
        other = copy.copy(self)
        other._reset()
        return other

    def observe(self, image: np.ndarray, frame_index: int, outputs: list[TrackedPose],
                detections: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Caches what every emitted pose of this frame gives the next frames' graphs.

        Under "poses", cuts its history crop; the features are computed with the next frame's
        crops (`crops`), in HRNet's one call of that frame. Under "detections", keeps the
        features and matrix of the crop it came from: its detection's (`detections`, the
        frame's detection-crop features and image -> crop matrices) or, for a recovered pose,
        its track's current crop. No crop is cut.
        """
        if self.detection_features:
            self._observe_detections(frame_index, outputs, detections)
            return
        settings, threshold = self.crop_settings, self.spec.joint_threshold
        poses = [(out.track_id, _pose_array(out.pose)) for out in outputs]
        poses = [(track_id, pose) for track_id, pose in poses if pose[:, 2].max() > threshold]
        matrices = [windows.history_crop_matrix(pose, settings.input_hw, settings.box_enlarge,
                                                threshold) for _, pose in poses]
        for (track_id, _), crop in zip(poses, warp_crops(image, matrices, settings.input_hw),
                                       strict=True):
            self._cache[track_id, frame_index] = None
            self._pending.append(((track_id, frame_index), crop))
        oldest = frame_index - self.spec.history
        self._cache = {k: v for k, v in self._cache.items() if k[1] > oldest}
        self._pending = [(k, c) for k, c in self._pending if k in self._cache]

    def _observe_detections(self, frame_index: int, outputs: list[TrackedPose],
                            detections: tuple[np.ndarray, np.ndarray] | None) -> None:
        for out in outputs:
            key = (out.track_id, frame_index)
            if out.detection is not None:
                if detections is None:
                    raise ValueError("observe: feature source 'detections' needs the frame's "
                                     "detection-crop features")
                self._cache[key] = detections[0][out.detection]
                self._matrices[key] = detections[1][out.detection]
            elif out.track_id in self._current:
                self._cache[key], self._matrices[key] = self._current[out.track_id]
        oldest = frame_index - self.spec.history
        self._cache = {k: v for k, v in self._cache.items() if k[1] > oldest}
        self._matrices = {k: v for k, v in self._matrices.items() if k in self._cache}
        self._current = {}

    def crops(self, image: np.ndarray, frame_index: int, tracks: list[Track],
              boxes: np.ndarray | None = None, cover_iou: float = 0.3) -> np.ndarray:
        """The normalised crops (M, H, W, 3) whose HRNet features `predict` needs for
        `tracks` in this frame. Under "poses": the pending history crops, then each usable
        track's current crop (the last pose's box enlarged `box_enlarge × track_enlarge`).
        Under "detections": that current crop only for each usable track that no box of
        `boxes` ((N, 4+) the frame's detections, the estimator's boxes) covers with an IoU of
        at least `cover_iou`."""
        boxes = np.zeros((0, 4)) if boxes is None else np.asarray(boxes)[:, :4]
        self._plans = [self._plan(frame_index, track, boxes, cover_iou) for track in tracks]
        currents = [plan.current for plan in self._plans
                    if plan is not None and plan.detection is None]
        pending = [crop for _, crop in self._pending]
        current = warp_crops(image, currents, self.crop_settings.input_hw)
        return np.concatenate([np.stack(pending), current]) if pending else current

    def _plan(self, frame_index: int, track: Track, boxes: np.ndarray, cover_iou: float
              ) -> _Plan | None:
        spec, crops = self.spec, self.crop_settings
        history = np.zeros((spec.history, spec.num_joints, 3))
        keys = [None] * spec.history
        frames = dict(track.history)
        for f in range(1, spec.history + 1):
            key = (track.track_id, frame_index - f)
            if frame_index - f in frames and key in self._cache:
                history[f - 1] = _pose_array(frames[frame_index - f])
                keys[f - 1] = key
        geometry = windows.crop_geometry(history, crops.input_hw, crops.box_enlarge,
                                         crops.track_enlarge, spec.joint_threshold)
        if geometry is None:
            return None
        matrices, box = geometry
        if not self.detection_features:
            return _Plan(history, matrices[1:], keys, matrices[0], box)
        affines = np.zeros_like(matrices[1:])
        for f, key in enumerate(keys):
            if key is not None:
                affines[f] = self._matrices[key]
        detection = None
        if len(boxes):
            overlap = box_iou(box, boxes)
            best = int(np.argmax(overlap))
            detection = best if overlap[best] >= cover_iou else None
        return _Plan(history, affines, keys, matrices[0], box, detection)

    def predict(self, image: np.ndarray, frame_index: int, tracks: list[Track],
                features: np.ndarray, maps: bool = False,
                detections: tuple[np.ndarray, np.ndarray] | None = None) -> list[Pose | None]:
        """One predicted pose per track (None for a track without usable history).

        Args:
          image: the frame.
          frame_index: its index.
          tracks: the tracks `crops` was called with, for this frame.
          features: HRNet features of the crops `crops` returned, in its order.
          maps: attach each pose's `JointMaps` (P_k on the candidate grid, grid → image).
          detections: under "detections", the features (N, h, w, C) and image -> crop
            matrices (N, 2, 3) of the crops of the boxes `crops` was given.
        """
        if len(self._plans) != len(tracks):
            raise ValueError("predict: call crops() with the same tracks first")
        for (key, _), feature in zip(self._pending, features, strict=False):
            self._cache[key] = feature
        current = iter(features[len(self._pending):])
        self._pending = []
        if self.detection_features:
            usable = self._detection_currents(tracks, current, detections)
        else:
            usable = [(plan, next(current)) for plan in self._plans if plan is not None]
        poses = []
        for start in range(0, len(usable), self.max_tracks):
            poses.extend(self._predict_chunk(usable[start:start + self.max_tracks], maps))
        poses = iter(poses)
        return [next(poses) if plan is not None else None for plan in self._plans]

    def _detection_currents(self, tracks: list[Track], extra, detections
                            ) -> list[tuple[_Plan, np.ndarray]]:
        """Each usable track's plan (its current matrix the covering detection's crop) and
        current features, remembered for `observe`."""
        usable, self._current = [], {}
        for i, (track, plan) in enumerate(zip(tracks, self._plans, strict=True)):
            if plan is None:
                continue
            if plan.detection is None:
                feature = next(extra)
            else:
                if detections is None:
                    raise ValueError("predict: feature source 'detections' needs the frame's "
                                     "detection-crop features")
                feature = detections[0][plan.detection]
                plan = plan._replace(current=detections[1][plan.detection])
                self._plans[i] = plan
            self._current[track.track_id] = (feature, plan.current)
            usable.append((plan, feature))
        return usable

    def _predict_chunk(self, chunk: list[tuple[_Plan, np.ndarray]], maps: bool) -> list[Pose]:
        spec = self.spec
        n = spec.history
        shape = chunk[0][1].shape
        size = padded_size(len(chunk), self.max_tracks)
        if size not in self._budgets:
            self._budgets[size] = graph_budget(spec, size)
        features = np.zeros((size, n + 1, *shape), np.float32)
        graphs, currents = [], []
        for i, (plan, current_feature) in enumerate(chunk):
            features[i, 0] = current_feature
            for f, key in enumerate(plan.keys, start=1):
                if key is not None:
                    features[i, f] = self._cache[key]
            graphs.append(build_graph(spec, plan.history, plan.affines, plan.current, plan.box))
            currents.append(plan.current)
        grid_to_image = np.tile(np.eye(2, 3), (size, 1, 1))
        grid_to_image[: len(currents)] = grid_to_image_affines(np.stack(currents), spec.grid)
        batch = batch_graphs(graphs, self._budgets[size])
        if not maps:
            poses = np.asarray(self._forward(self.variables, batch, features, grid_to_image))
            return [Pose(poses[i, :, :2].astype(np.float64), poses[i, :, 2].astype(np.float64))
                    for i in range(len(chunk))]
        poses, probs = map(np.asarray, self._forward_maps(self.variables, batch, features,
                                                          grid_to_image))
        return [Pose(poses[i, :, :2].astype(np.float64), poses[i, :, 2].astype(np.float64),
                     JointMaps(probs[i], grid_to_image[i])) for i in range(len(chunk))]
