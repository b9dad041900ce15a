"""Synthetic-world GT poses without rendering: the walkers' projected joints, for fitting and
checking pose bounds (`tracking.plausibility`) in seconds."""

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data.synthetic.config import WorldConfig
from gnnpose_jax.data.synthetic.motion import make_camera, make_walker

K = joints.NUM_JOINTS


def walker_poses(seed: int, walkers: int, frames: int = 25, per_camera: int = 5):
    """(K, 3) GT poses of synthetic-world walkers (every annotated slot present) and each
    pose's walker; a new camera every `per_camera` walkers."""
    config = WorldConfig()
    rng = np.random.default_rng(seed)
    poses, groups = [], []
    for w in range(walkers):
        if w % per_camera == 0:
            camera = make_camera(rng, (288, 384), config)
        walker = make_walker(rng, camera, frames, config)
        for t in range(frames):
            pose = np.ones((K, 3))
            pose[:, :2] = walker.points[t, :K]
            pose[list(joints.UNANNOTATED_SLOTS)] = 0.0
            poses.append(pose)
            groups.append(w)
    return poses, groups
