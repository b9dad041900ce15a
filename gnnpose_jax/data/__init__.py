"""PoseTrack data: the joint layout, the record types, file formats, crops and input pipelines.

Re-exported here: the joint layout (`joints`), the PoseTrack records `Frame`, `Person` and
`Sequence` (`types`), and where a run config's data live (`folders`). Importing the package
stays cheap (NumPy only): evaluation reads PoseTrack files through it without OpenCV, TFDS or
JAX. Import the other modules themselves: `posetrack`, `posetrack21` (PoseTrack files),
`transforms` (affines, crops, heatmap decoding; OpenCV), `topdown_samples` and `windows`
(training samples), `frame_records` and `sequence_index` (the record layout and its index),
`tfds_posetrack` (TFDS builders), `pipeline` (grain loaders) and `synthetic` (the synthetic
world).
"""

from gnnpose_jax.data.folders import data_root, manual_folder, posetrack_folder
from gnnpose_jax.data.joints import JOINT_NAMES, NUM_JOINTS
from gnnpose_jax.data.types import Frame, Person, Sequence

__all__ = [
    "JOINT_NAMES",
    "NUM_JOINTS",
    "Frame",
    "Person",
    "Sequence",
    "data_root",
    "manual_folder",
    "posetrack_folder",
]
