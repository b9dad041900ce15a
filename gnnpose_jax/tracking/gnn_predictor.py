"""The GNN as the tracker's `PosePredictor` (METHOD.md section 1 step 3, section 2).

Crops follow the training windows exactly (`data.windows`), with the crop settings the GNN
export stores (`CropSettings`): a history frame's crop is its emitted pose's box enlarged
`box_enlarge` (a detection crop, 1.25 by default), and the current crop is the last pose's box
enlarged `box_enlarge × track_enlarge` (1.25 × 1.2, `windows.track_crop_region`), both at the
export's input size. HRNet features of history crops are computed
once, when the pose is emitted (`observe`), and cached for n frames. Tracks are batched into
padded graphs of a fixed budget, so a video compiles the GNN once.
"""

from __future__ import annotations

import copy

import jax
import numpy as np

from gnnpose_jax.data import windows
from gnnpose_jax.graphs import (
    GraphSpec,
    batch_graphs,
    build_graph,
    decode_poses,
    graph_budget,
    grid_to_image_affines,
)
from gnnpose_jax.models.gnn_io import CropSettings, GnnExport
from gnnpose_jax.models.topdown import TopDownEstimator, padded_size, warp_crops
from gnnpose_jax.tracking.tracker import Pose, Track, TrackedPose


def _pose_array(pose: Pose) -> np.ndarray:
    return np.concatenate([pose.keypoints, pose.scores[:, None]], axis=1)


class GnnPredictor:
    """Predicts each active track's pose in the current frame with the pose-dynamics GNN.

    Args:
      estimator: the HRNet top-down estimator (its `run` gives crop features).
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
        self.crops = crops or CropSettings(estimator.input_hw)
        self.budget = graph_budget(spec, max_tracks)
        self._budgets = {}  # padded track count -> its graph budget
        self.variables = jax.device_put(gnn_variables)
        grid = spec.grid

        def forward(variables, graphs, features, grid_to_image):
            logits = gnn_module.apply(variables, graphs, features)
            return decode_poses(logits, graphs, grid_to_image, grid, radius=spec.decode_radius)

        self._forward = jax.jit(forward)
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def from_export(cls, estimator: TopDownEstimator, export: GnnExport, max_tracks: int = 16
                    ) -> GnnPredictor:
        """The predictor of a loaded GNN export: its graph and crop settings."""
        return cls(estimator, export.module, export.variables, export.spec, max_tracks,
                   export.crops)

    def fresh(self) -> GnnPredictor:
        """A predictor for another video: an empty feature cache, the same compiled network."""
        other = copy.copy(self)
        other._cache = {}
        return other

    def _box(self, pose: np.ndarray) -> np.ndarray:
        return windows.pose_box(pose, self.spec.joint_threshold)

    def _features(self, image: np.ndarray, matrices: list[np.ndarray]) -> np.ndarray:
        return self.estimator.run(warp_crops(image, matrices, self.crops.input_hw))[1]

    def observe(self, image: np.ndarray, frame_index: int, outputs: list[TrackedPose]) -> None:
        """Caches the history-crop features of every emitted pose of this frame."""
        hw, enlarge = self.crops.input_hw, self.crops.box_enlarge
        matrices, keys = [], []
        for out in outputs:
            pose = _pose_array(out.pose)
            if (pose[:, 2] >= self.spec.joint_threshold).sum() < 1:
                continue
            matrices.append(windows.history_crop_matrix(pose, hw, enlarge,
                                                        self.spec.joint_threshold))
            keys.append((out.track_id, frame_index))
        if matrices:
            for key, m, f in zip(keys, matrices, self._features(image, matrices), strict=True):
                self._cache[key] = (m, f)
        oldest = frame_index - self.spec.history
        self._cache = {k: v for k, v in self._cache.items() if k[1] > oldest}

    def predict(self, image: np.ndarray, frame_index: int, tracks: list[Track]
                ) -> list[Pose | None]:
        """One predicted pose per track (None for a track without usable history)."""
        out: list[Pose | None] = []
        for start in range(0, len(tracks), self.max_tracks):
            chunk = tracks[start:start + self.max_tracks]
            out.extend(self._predict_chunk(image, frame_index, chunk))
        return out

    def _predict_chunk(self, image, frame_index, tracks) -> list[Pose | None]:
        spec, crops = self.spec, self.crops
        hw = crops.input_hw
        n, k = spec.history, spec.num_joints
        graphs, currents, history_feats, usable = [], [], [], []
        for track in tracks:
            frames = dict(track.history)
            last_frame = max(frames)
            last = _pose_array(frames[last_frame])
            if (last[:, 2] >= spec.joint_threshold).sum() < 1:
                usable.append(False)
                continue
            history = np.zeros((n, k, 3))
            affines = np.tile(np.eye(2, 3), (n, 1, 1))
            feats = [None] * n
            for f in range(1, n + 1):
                key = (track.track_id, frame_index - f)
                if frame_index - f in frames and key in self._cache:
                    history[f - 1] = _pose_array(frames[frame_index - f])
                    affines[f - 1], feats[f - 1] = self._cache[key]
            if not (history[..., 2] >= spec.joint_threshold).any():
                usable.append(False)
                continue
            current = windows.current_crop_matrix(
                last, hw, crops.box_enlarge * crops.track_enlarge, spec.joint_threshold)
            graphs.append(build_graph(spec, history, affines, current, self._box(last)))
            currents.append(current)
            history_feats.append(feats)
            usable.append(True)
        if not graphs:
            return [None] * len(tracks)

        current_feats = self._features(image, currents)
        shape = current_feats.shape[1:]
        size = padded_size(len(graphs), self.max_tracks)
        if size not in self._budgets:
            self._budgets[size] = graph_budget(spec, size)
        features = np.zeros((size, n + 1, *shape), np.float32)
        for i, feats in enumerate(history_feats):
            features[i, 0] = current_feats[i]
            for f, feat in enumerate(feats, start=1):
                if feat is not None:
                    features[i, f] = feat
        grid_to_image = np.tile(np.eye(2, 3), (size, 1, 1))
        grid_to_image[: len(currents)] = grid_to_image_affines(np.stack(currents), spec.grid)
        batch = batch_graphs(graphs, self._budgets[size])
        poses = np.asarray(self._forward(self.variables, batch, features, grid_to_image))

        results, i = [], 0
        for ok in usable:
            if ok:
                results.append(Pose(poses[i, :, :2].astype(np.float64),
                                    poses[i, :, 2].astype(np.float64)))
                i += 1
            else:
                results.append(None)
        return results
