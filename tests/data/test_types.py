"""The in-memory records (gnnpose_jax.data.types): a joint is absent only when its row is all
zero, whatever its visibility flag; frames own their lists."""

import numpy as np

from gnnpose_jax.data.types import Frame, Person


def test_a_joint_is_present_unless_its_row_is_all_zero():
    keypoints = np.zeros((5, 3))
    keypoints[0] = (10.0, 20.0, 1.0)  # visible
    keypoints[1] = (10.0, 20.0, 0.0)  # occluded, but annotated
    keypoints[2] = (0.0, 0.0, 1.0)  # at the origin, flagged: present
    keypoints[3] = (0.0, 7.0, 0.0)  # x = 0 alone does not make it absent
    np.testing.assert_array_equal(Person(keypoints, track_id=1).present,
                                  [True, True, True, True, False])


def test_frames_do_not_share_default_lists():
    a, b = Frame("a.jpg", 0, True), Frame("b.jpg", 1, True)
    a.people.append(Person(np.ones((17, 3)), track_id=0))
    a.ignore_regions.append(np.zeros((3, 2)))
    assert b.people == [] and b.ignore_regions == [] and b.extra == {}
