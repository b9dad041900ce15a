"""The joint layout, declared once (METHOD.md section 5).

Internally every pose has K = 17 slots in COCO order, with PoseTrack's head_bottom and
head_top in the eye slots (1, 2) and the ears (3, 4) never annotated. Augmentation, target
generation, decoding, matching (OKS), evaluation and rendering all read these tables.
"""

import numpy as np

NUM_JOINTS = 17

#: PoseTrack 2018 keypoint names, slot by slot (the `categories[0].keypoints` list).
JOINT_NAMES = (
    "nose",
    "head_bottom",
    "head_top",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

#: Slots that are never annotated in PoseTrack (the ears).
UNANNOTATED_SLOTS = (3, 4)

#: Left/right pairs swapped by a horizontal flip. head_bottom/head_top are not a pair.
FLIP_PAIRS = ((3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))


def _flip_permutation() -> np.ndarray:
    perm = np.arange(NUM_JOINTS)
    for a, b in FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return perm


#: `keypoints[FLIP_PERMUTATION]` swaps left and right.
FLIP_PERMUTATION = _flip_permutation()

#: Per-joint OKS sigmas: COCO's, with head_bottom and head_top taking the ear sigma.
OKS_SIGMAS = (
    np.array([0.26, 0.35, 0.35, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62,
              1.07, 1.07, 0.87, 0.87, 0.89, 0.89], dtype=np.float64) / 10.0
)

#: Limbs for drawing, as slot pairs. Left limbs come first within each group.
LIMBS = (
    (0, 1), (1, 2),  # nose-neck, neck-head top
    (1, 5), (1, 6),  # neck-shoulders
    (5, 7), (7, 9), (6, 8), (8, 10),  # arms
    (5, 11), (6, 12), (11, 12),  # torso
    (11, 13), (13, 15), (12, 14), (14, 16),  # legs
)

#: Joints of the upper body, for half-body augmentation.
UPPER_BODY = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)

#: PoseTrack 2017 joint ids 0..14, in their order, and the 2018 slot each maps to.
POSETRACK17_NAMES = (
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "head_bottom",
    "nose",
    "head_top",
)
POSETRACK17_TO_SLOT = np.array([JOINT_NAMES.index(n) for n in POSETRACK17_NAMES])

#: The 15 evaluated joints, in PoseTrack 2017 order (METRICS.md's `per_joint` keys).
EVAL_JOINT_NAMES = POSETRACK17_NAMES
EVAL_SLOTS = POSETRACK17_TO_SLOT
