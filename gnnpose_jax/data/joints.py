"""The joint layout, declared once (docs/spec/method.md §5).

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

#: The 15 evaluated joints in PoseTrack 2017 order (`per_joint` keys, docs/spec/metrics.md §5).
EVAL_JOINT_NAMES = POSETRACK17_NAMES
EVAL_SLOTS = POSETRACK17_TO_SLOT

#: The joint layouts a 17-joint pose network can have: COCO's (eyes in slots 1, 2) or ours.
JOINT_LAYOUTS = ("coco", "posetrack")
COCO_EYES, COCO_EARS, SHOULDERS = (1, 2), (3, 4), (5, 6)
HEAD_BOTTOM, HEAD_TOP = 1, 2
#: `heatmaps[..., COCO_FLIP_PERMUTATION]` swaps left and right in COCO's layout (eyes too).
COCO_FLIP_PERMUTATION = FLIP_PERMUTATION[[0, 2, 1, *range(3, NUM_JOINTS)]]
#: Where head_bottom and head_top lie on the line from the shoulder midpoint m to the head
#: centre c (the eyes and ears): m + t (c − m). With H the head height (head_bottom to
#: head_top), PoseTrack's head_bottom lies about H/4 above m (the shipped samples' annotations:
#: 0.27 H), and the eyes and ears are taken to lie H/2 above head_bottom, so c = m + 3H/4.
HEAD_BOTTOM_T, HEAD_TOP_T = 1 / 3, 5 / 3


def coco_to_posetrack(keypoints: np.ndarray, scores: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Maps poses of a COCO-trained network into the PoseTrack slots.

    COCO's eyes (slots 1, 2) become head_bottom and head_top, placed on the line from the
    shoulder midpoint m to the head centre c, the score-weighted mean of the eyes and ears:
    head_bottom = m + (c − m)/3, head_top = m + 5(c − m)/3. Both take the score
    min(best eye or ear score, lower shoulder score). Every other slot is kept (COCO's ears
    stay in the ear slots, which PoseTrack never annotates).

    Args:
      keypoints: (N, 17, 2) in COCO order.
      scores: (N, 17).

    Returns:
      (keypoints, scores) in the PoseTrack slots, new arrays.
    """
    keypoints, scores = np.array(keypoints, np.float64), np.array(scores, np.float64)
    head = list(COCO_EYES + COCO_EARS)
    weights = np.clip(scores[:, head], 0.0, None)
    total = weights.sum(1, keepdims=True)
    weights = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1 / len(head))
    centre = (weights[..., None] * keypoints[:, head]).sum(1)
    shoulders = keypoints[:, list(SHOULDERS)].mean(1)
    score = np.minimum(scores[:, head].max(1), scores[:, list(SHOULDERS)].min(1))
    for slot, t in ((HEAD_BOTTOM, HEAD_BOTTOM_T), (HEAD_TOP, HEAD_TOP_T)):
        keypoints[:, slot] = shoulders + t * (centre - shoulders)
        scores[:, slot] = score
    return keypoints, scores
