"""Random poses and images of white dots at their joints: a crop's pixels show where its joints
went, for the top-down sample and window tests."""

import cv2
import numpy as np

from gnnpose_jax.data.joints import NUM_JOINTS


def random_person(rng, center=(160.0, 120.0), spread=(30.0, 60.0)):
    """A random 17-slot pose (ears unannotated) around `center`."""
    pose = np.zeros((NUM_JOINTS, 3))
    pose[:, :2] = np.asarray(center) + rng.uniform(-1, 1, (NUM_JOINTS, 2)) * spread
    pose[:, 2] = 1.0
    pose[[3, 4]] = 0.0
    return pose


def dot_image(shape, pose, radius=3):
    """A black image with a white dot at every annotated joint."""
    image = np.zeros((*shape, 3), np.uint8)
    for x, y, v in pose:
        if v:
            cv2.circle(image, (round(x), round(y)), radius, (255, 255, 255), -1)
    return image
