"""The tracker's networks, from any source: a converted folder, an official `.pth` file, or a
training run's exports (WORKDIR/hrnet, WORKDIR/gnn, WORKDIR/yolox).

`load_networks` gives the pose HRNet and the GNN (`TrackerNetworks`); `load_person_detector`
the YOLOX person detector. Every command that tracks loads them here.
"""

from __future__ import annotations

from pathlib import Path

from gnnpose_jax.errors import CheckpointError
from gnnpose_jax.graphs import GraphSpec
from gnnpose_jax.models.gnn_io import GnnExport
from gnnpose_jax.models.pretrained import PoseNetwork, load_pose_network
from gnnpose_jax.models.run_folder import GNN_EXPORT, HRNET_EXPORT, YOLOX_EXPORT, load_gnn
from gnnpose_jax.models.topdown import TopDownEstimator
from gnnpose_jax.tracking.boxes import DEFAULT_CONF, DEFAULT_NMS
from gnnpose_jax.tracking.merge_table import MERGE_TABLE, MergeTable
from gnnpose_jax.tracking.plausibility import POSE_BOUNDS, PoseBounds


class TrackerNetworks:
    """The networks a tracker runs: HRNet always, the GNN unless disabled.

    Args:
      estimator: the pose estimator.
      gnn: the run's GNN export when the GNN runs, else None.
      gnn_features: the HRNet the GNN was trained on, when it is not `estimator`'s: the GNN's
        crop features come from it.
      pose: what `estimator` runs (for the log).
      max_tracks: the most tracks per GNN call.
      gnn_spec: the graph settings of the run's GNN export, also when the GNN does not run
        (the baseline of a GNN run): the tracker's n and τ_joint
        (`tracking.config.tracker_config`).
      bounds: the run's learned pose bounds (`plausibility.POSE_BOUNDS`), or None.
      merge_table: the run's merge table (`merge_table.MERGE_TABLE`), or None.
    """

    def __init__(self, estimator: TopDownEstimator, gnn: GnnExport | None = None,
                 gnn_features: TopDownEstimator | None = None, pose: PoseNetwork | None = None,
                 max_tracks: int = 16, gnn_spec: GraphSpec | None = None,
                 bounds: PoseBounds | None = None, merge_table: MergeTable | None = None):
        self.estimator, self.gnn, self.gnn_features = estimator, gnn, gnn_features
        self.pose, self.max_tracks, self.bounds = pose, max_tracks, bounds
        self.merge_table = merge_table
        self.gnn_spec = gnn.spec if gnn is not None else gnn_spec
        self._predictor = None

    def predictor(self):
        """A fresh GNN predictor (its feature cache is per video), or None.

        Every predictor shares the first one's compiled network, so only the first video
        compiles.
        """
        if self.gnn is None:
            return None
        if self._predictor is None:
            from gnnpose_jax.tracking.gnn_predictor import GnnPredictor

            self._predictor = GnnPredictor.from_export(self.gnn_features or self.estimator,
                                                       self.gnn, self.max_tracks)
        return self._predictor.fresh()


def load_networks(workdir: str | Path | None, use_gnn: bool = True, batch_size: int = 8,
                max_tracks: int = 16, flip_test: bool = False, hrnet: str | Path | None = None,
                joint_layout: str | None = None, dtype: str | None = None) -> TrackerNetworks:
    """Loads the tracker's networks: a training run's exports, a pose checkpoint, or both.

    A GNN run's `gnn/` export names the HRNet it was trained on; an HRNet run's workdir has
    `hrnet/` only (then only the baseline can run). `hrnet`, a converted folder or an official
    file (`pretrained.load_pose_network`), estimates the poses instead of the run's HRNet; the
    GNN still computes its crop features with the HRNet it was trained on. The run's pose
    bounds (WORKDIR/pose_bounds.json, written by GNN training) and merge table
    (WORKDIR/merge_table.json, written by `python -m gnnpose_jax.fit_merge`) are read when
    present.

    Args:
      workdir: the training run, or None (then `hrnet` is required and there is no GNN).
      use_gnn: load the run's GNN.
      batch_size, flip_test: of the pose estimator.
      max_tracks: the most tracks per GNN call.
      hrnet: a pose checkpoint to estimate with (its joint layout inferred unless given).
      joint_layout: "coco" or "posetrack", overriding the inferred layout.
      dtype: compute dtype of every network, "float32" or "bfloat16"; None: each runs in the
        one its export records (float32 for official and converted weights).

    Raises:
      CheckpointError: the workdir holds neither export, the GNN is asked for and absent, or
        a checkpoint is damaged, of the wrong kind or not 17 joints.
      DataError: a malformed pose bounds file.
      ConfigError: a malformed merge table.
    """
    gnn, gnn_spec, run_hrnet, bounds, table = None, None, None, None, None
    if workdir is not None:
        workdir = Path(workdir)
        if (workdir / POSE_BOUNDS).is_file():
            bounds = PoseBounds.load(workdir / POSE_BOUNDS)
        if (workdir / MERGE_TABLE).is_file():
            table = MergeTable.load(workdir / MERGE_TABLE)
        gnn_dir, run_hrnet = workdir / GNN_EXPORT, workdir / HRNET_EXPORT
        if gnn_dir.is_dir():
            export = load_gnn(gnn_dir, dtype)
            run_hrnet, gnn_spec = export.hrnet_checkpoint, export.spec
            if use_gnn:
                gnn = export
        elif use_gnn:
            raise CheckpointError(f"{workdir}: no GNN export ({GNN_EXPORT}/); train one with a "
                                  "GNN config, or pass --no-gnn for the baseline")
        if (hrnet is None or gnn is not None) and not run_hrnet.is_dir():
            raise CheckpointError(f"{workdir}: no HRNet checkpoint (looked for {run_hrnet}); "
                                  "run train.py with an HRNet config or convert_weights first")
    elif hrnet is None:
        raise CheckpointError("no pose network: pass an HRNet checkpoint or a training run")

    def estimator(pose) -> TopDownEstimator:
        return TopDownEstimator(pose.module, pose.variables, pose.input_hw, batch_size,
                                flip_test, pose.joint_layout)

    pose = (load_pose_network(hrnet, joint_layout, dtype=dtype) if hrnet is not None
            else load_pose_network(run_hrnet, joint_layout, default_layout="posetrack",
                                   dtype=dtype))
    gnn_features = None
    if gnn is not None and pose.path.resolve() != run_hrnet.resolve():
        gnn_features = estimator(load_pose_network(run_hrnet, default_layout="posetrack",
                                                   dtype=dtype))
    return TrackerNetworks(estimator(pose), gnn, gnn_features, pose, max_tracks, gnn_spec,
                           bounds, table)


def load_person_detector(checkpoint: str | Path, conf: float = DEFAULT_CONF,
                         nms: float = DEFAULT_NMS, batch_size: int = 1,
                         dtype: str | None = None):
    """The YOLOX person detector at these thresholds, as a `models.detect.PersonDetector`.

    Args:
      checkpoint: a converted folder, the official `.pth` (converted in memory) or a detector
        training run's folder (its `yolox/` export).
      conf, nms: the score and NMS IoU thresholds.
      batch_size: frames per network call.
      dtype: compute dtype, "float32" or "bfloat16"; None: the one the export records.

    Raises:
      CheckpointError, ConversionError: a missing, damaged or non-YOLOX checkpoint.
    """
    from gnnpose_jax.models import yolox
    from gnnpose_jax.models.detect import PersonDetector
    from gnnpose_jax.models.pretrained import load_detector

    path = Path(checkpoint)
    if path.is_dir() and not yolox.is_yolox_dir(path) and yolox.is_yolox_dir(path / YOLOX_EXPORT):
        path = path / YOLOX_EXPORT
    return PersonDetector(*load_detector(path, dtype=dtype), conf=conf, nms=nms,
                          batch_size=batch_size)
