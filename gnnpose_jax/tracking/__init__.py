"""Online multi-person pose tracking (docs/spec/method.md §1) and its inputs and outputs.

`OnlineTracker(estimator, config, predictor).step(frame_index, image, boxes)` tracks one frame;
`run.track_frames` tracks a sequence with the networks, `FrameSource` reads the frames of a
video or image folder and `Renderer` draws the tracks. Re-exported here: the tracker's types
(`tracker`), sequence running (`run`) and video input and output (`video`). Person boxes come
from `boxes.box_source`. Import the modules that load the networks (JAX) themselves:
`networks` (HRNet, GNN and YOLOX from any checkpoint or run), `split` (a whole dataset split),
`gnn_predictor` (the GNN as a `PosePredictor`) and `config` (tracker settings of a run).
"""

from gnnpose_jax.tracking.run import track_frames, track_sequence
from gnnpose_jax.tracking.tracker import (
    OnlineTracker,
    Pose,
    PoseEstimator,
    PosePredictor,
    Track,
    TrackedPose,
    TrackerConfig,
)
from gnnpose_jax.tracking.video import FrameSource, Renderer

__all__ = [
    "FrameSource",
    "OnlineTracker",
    "Pose",
    "PoseEstimator",
    "PosePredictor",
    "Renderer",
    "Track",
    "TrackedPose",
    "TrackerConfig",
    "track_frames",
    "track_sequence",
]
