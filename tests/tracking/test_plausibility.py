"""Pose bounds learned from synthetic-world poses: accept the world's people, reject stitches."""

import json

import numpy as np
import pytest

from gnnpose_jax.data import joints
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError
from gnnpose_jax.tracking.plausibility import LIMBS, PoseBounds
from tests.helpers.walkers import walker_poses

K = joints.NUM_JOINTS
UPPER = [0, 1, 2, 5, 6, 7, 8, 9, 10]
LOWER = [11, 12, 13, 14, 15, 16]


@pytest.fixture(scope="module")
def bounds():
    """Bounds fitted on 100 walkers of 20 cameras, 25 frames each (the demo's train split has
    about as many poses)."""
    return PoseBounds.fit(*walker_poses(0, 100))


@pytest.fixture(scope="module")
def other_people():
    """Poses of 20 other walkers of the same world (another seed), 40 frames each."""
    return walker_poses(11, 20, frames=40)[0]


def stitched(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`a`'s head and arms on `b`'s hips and legs."""
    pose = a.copy()
    pose[LOWER] = b[LOWER]
    return pose


def far_apart_pairs(poses):
    """Pairs of poses (a, b) whose hips lie more than a body height apart."""
    pairs = []
    for a in poses[::10]:
        for b in poses[::13]:
            height = np.ptp(a[:, 1][a[:, 2] > 0])
            if np.linalg.norm(a[11, :2] - b[11, :2]) > height:
                pairs.append((a, b))
    return pairs


def test_bounds_accept_the_worlds_people(bounds, other_people):
    accepted = [not bounds.implausible(p[:, :2], p[:, 2] > 0) for p in other_people]
    assert np.mean(accepted) >= 0.99
    assert bounds.poses == 100 * 25 and bounds.accept == 0.995
    assert (bounds.lower <= bounds.upper).all() and (bounds.upper > 1).all()
    assert np.isinf(bounds.spread[list(joints.UNANNOTATED_SLOTS)]).all()


def test_bounds_reject_a_pose_stitched_from_two_people(bounds, other_people):
    pairs = far_apart_pairs(other_people)
    assert len(pairs) > 20
    for a, b in pairs:
        pose = stitched(a, b)
        assert bounds.implausible(pose[:, :2], pose[:, 2] > 0)


def test_prune_never_keeps_joints_of_both_people(bounds, other_people):
    for a, b in far_apart_pairs(other_people):
        pose = stitched(a, b)
        scores = np.where(pose[:, 2] > 0, 0.9, 0.0)
        keep = bounds.keep(pose[:, :2], scores, 0.2)
        assert not (keep[UPPER].any() and keep[LOWER].any())
        np.testing.assert_array_equal(bounds.prune(pose[:, :2], scores, 0.2),
                                      np.where(keep, scores, 0.0))


@pytest.mark.parametrize("upper, lower", [(0.9, 0.3), (0.3, 1.0)])
def test_prune_keeps_the_better_supported_person_whole(bounds, other_people, upper, lower):
    # Two people of one build, side by side: the part with the higher summed score stays.
    a = other_people[0]
    pose = stitched(a, a + [2 * np.ptp(a[:, 1]), 0.0, 0.0])
    scores = np.where(pose[:, 2] > 0, upper, 0.0)
    scores[LOWER] = lower
    keep = bounds.keep(pose[:, :2], scores, 0.2)
    upper_wins = 9 * upper > 6 * lower
    assert keep[UPPER].all() == upper_wins and keep[LOWER].all() != upper_wins
    assert not keep[UPPER].any() or not keep[LOWER].any()


def test_prune_leaves_a_plausible_pose_and_a_pose_without_scale(bounds, other_people):
    pose = other_people[3]
    scores = np.where(pose[:, 2] > 0, 0.8, 0.0)
    np.testing.assert_array_equal(bounds.prune(pose[:, :2], scores, 0.2), scores)
    # One limb gives no scale: nothing to judge, nothing removed.
    lone = np.zeros(K)
    lone[[5, 7]] = 0.8
    far = pose[:, :2].copy()
    far[7] += 1000.0
    np.testing.assert_array_equal(bounds.prune(far, lone, 0.2), lone)


def test_a_joint_far_from_the_rest_is_removed_by_the_spread_bound(bounds, other_people):
    pose = other_people[5][:, :2].copy()
    scores = np.full(K, 0.9)
    scores[list(joints.UNANNOTATED_SLOTS)] = 0.0
    scores[7] = 0.0  # the left elbow is absent, so no limb ties the wrist to the pose
    pose[9] += [0.0, 5 * np.ptp(pose[:, 1])]
    keep = bounds.keep(pose, scores, 0.2)
    assert not keep[9]
    assert keep[np.arange(K) != 9].all()


def test_a_collapsed_pose_loses_every_joint(bounds):
    scores = np.full(K, 0.9)
    assert not bounds.keep(np.zeros((K, 2)), scores, 0.2).any()


def test_save_load_round_trip(bounds, other_people, tmp_path):
    path = tmp_path / "pose_bounds.json"
    bounds.save(path)
    loaded = PoseBounds.load(path)
    assert loaded.to_json() == bounds.to_json()
    for pose in other_people[:20]:
        stitch = stitched(pose, other_people[-1])
        for p in (pose, stitch):
            assert loaded.implausible(p[:, :2], p[:, 2] > 0) == bounds.implausible(
                p[:, :2], p[:, 2] > 0)
    assert json.loads(path.read_text())["spread"][3] is None  # inf is written as null


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.pop("upper"), "upper"),
    (lambda d: d.update(lower=d["lower"][:-1]), "lower"),
    (lambda d: d.update(spread=["x"] * K), "spread"),
    (lambda d: d.update(typical=[0.0] * len(LIMBS)), "typical"),
    (lambda d: d.update(lower=[9.0] * len(LIMBS)), "lower"),
    (lambda d: d.update(limbs=[[0, 1]]), "limbs"),
    (lambda d: d.update(grow="wide"), "grow"),
    (lambda d: d.update(format="other"), "format"),
])
def test_load_refuses_a_malformed_file_with_one_line(bounds, tmp_path, edit, field):
    data = bounds.to_json()
    edit(data)
    path = tmp_path / "bounds.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=f"{path}: .*{field}") as error:
        PoseBounds.load(path)
    assert "\n" not in str(error.value)


def test_load_refuses_a_missing_or_broken_file(tmp_path):
    with pytest.raises(DataError, match="cannot read pose bounds"):
        PoseBounds.load(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(DataError, match="broken.json: cannot read pose bounds"):
        PoseBounds.load(tmp_path / "broken.json")


def test_fit_needs_complete_poses_and_a_share_to_accept():
    poses, _ = walker_poses(2, 1, frames=5)
    with pytest.raises(ValueError, match="5 poses with every limb annotated; need at least"):
        PoseBounds.fit(poses)
    with pytest.raises(ValueError, match="accept 0 is not in"):
        PoseBounds.fit(poses, accept=0)
    with pytest.raises(ValueError, match="3 groups for 5 poses"):
        PoseBounds.fit(poses, [0, 1, 2])


def test_fit_sequences_groups_by_video():
    poses, groups = walker_poses(3, 6, frames=4)
    people = [Person(keypoints=p, track_id=0) for p in poses]
    sequences = [Sequence(f"video{g}", [Frame(f"{g}/{i}.jpg", i, True, [people[g * 4 + i]])
                                        for i in range(4)]) for g in range(6)]
    assert (PoseBounds.fit_sequences(sequences).to_json()
            == PoseBounds.fit(people, groups).to_json())
    # One group: no held-out videos, so no margins.
    single = PoseBounds.fit(people)
    assert single.shrink == 0.0 and single.grow == 0.0
