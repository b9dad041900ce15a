"""The joint layout (gnnpose_jax.data.joints): names, flips, limbs, the evaluated joints, and
the COCO mapping."""

import numpy as np

from gnnpose_jax.data import joints


def test_flip_swaps_left_and_right_names_and_is_its_own_inverse():
    perm = joints.FLIP_PERMUTATION
    np.testing.assert_array_equal(perm[perm], np.arange(joints.NUM_JOINTS))
    for slot, name in enumerate(joints.JOINT_NAMES):
        flipped = joints.JOINT_NAMES[perm[slot]]
        if name.startswith("left_"):
            assert flipped == "right_" + name[5:]
        elif name.startswith("right_"):
            assert flipped == "left_" + name[6:]
        else:  # nose, head_bottom, head_top stay
            assert flipped == name


def test_limbs_join_existing_slots_and_mirror_under_the_flip():
    assert len(joints.JOINT_NAMES) == joints.NUM_JOINTS == len(joints.OKS_SIGMAS)
    limbs = {frozenset(limb) for limb in joints.LIMBS}
    assert len(limbs) == len(joints.LIMBS)
    assert all(0 <= k < joints.NUM_JOINTS for limb in joints.LIMBS for k in limb)
    perm = joints.FLIP_PERMUTATION
    assert {frozenset(int(perm[k]) for k in limb) for limb in limbs} == limbs
    # Every annotated joint is on some limb; the ears (never annotated) are not drawn.
    on_limbs = {k for limb in joints.LIMBS for k in limb}
    assert on_limbs == set(range(joints.NUM_JOINTS)) - set(joints.UNANNOTATED_SLOTS)


def test_evaluated_joints_are_posetrack17s_fifteen_in_its_order():
    assert len(joints.EVAL_SLOTS) == 15 == len(set(joints.EVAL_SLOTS.tolist()))
    assert [joints.JOINT_NAMES[s] for s in joints.EVAL_SLOTS] == list(joints.EVAL_JOINT_NAMES)
    assert joints.EVAL_JOINT_NAMES[0] == "right_ankle" and joints.EVAL_JOINT_NAMES[13] == "nose"
    assert not set(joints.EVAL_SLOTS.tolist()) & set(joints.UNANNOTATED_SLOTS)


def test_coco_to_posetrack_places_the_head_joints():
    keypoints = np.zeros((2, 17, 2))
    scores = np.full((2, 17), 0.8)
    keypoints[:, 5], keypoints[:, 6] = (0.0, 10.0), (4.0, 10.0)  # shoulders: midpoint (2, 10)
    keypoints[:, 1], keypoints[:, 2] = (1.0, 4.0), (3.0, 4.0)  # eyes: midpoint (2, 4)
    keypoints[:, 3], keypoints[:, 4] = (0.0, 4.0), (4.0, 4.0)  # ears at eye height
    scores[1, 1:3] = 0.0  # person 1 faces away: no eyes, the ears place the head
    scores[1, 6] = 0.5
    mapped, mapped_scores = joints.coco_to_posetrack(keypoints, scores)
    for person in range(2):
        np.testing.assert_allclose(mapped[person, joints.HEAD_BOTTOM], (2.0, 8.0))
        np.testing.assert_allclose(mapped[person, joints.HEAD_TOP], (2.0, 0.0))
    np.testing.assert_allclose(mapped_scores[:, 1:3], [[0.8, 0.8], [0.5, 0.5]])
    keep = [0, *range(3, 17)]
    np.testing.assert_array_equal(mapped[:, keep], keypoints[:, keep])
    np.testing.assert_array_equal(mapped_scores[:, keep], scores[:, keep])


def test_coco_flip_swaps_the_eyes():
    assert list(joints.COCO_FLIP_PERMUTATION[:3]) == [0, 2, 1]
    assert list(joints.FLIP_PERMUTATION[:3]) == [0, 1, 2]
    assert np.array_equal(joints.COCO_FLIP_PERMUTATION[3:], joints.FLIP_PERMUTATION[3:])
