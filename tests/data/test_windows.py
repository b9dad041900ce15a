"""GNN tracklet windows (gnnpose_jax.data.windows): which samples, crops, augmentation."""

import dataclasses

import numpy as np
import pytest

from gnnpose_jax.data import transforms
from gnnpose_jax.data.joints import FLIP_PERMUTATION, NUM_JOINTS
from gnnpose_jax.data.windows import (
    WindowConfig,
    augment_history_pose,
    current_crop_matrix,
    detection_crop_matrix,
    detection_like_box,
    history_crop_matrix,
    make_window,
    pose_box,
    track_crop_region,
    window_samples,
)
from tests.helpers.dots import dot_image, random_person

INPUT_HW = (128, 96)


def test_window_samples_rule():
    tracks = {0: {1}, 1: {1, 2}, 2: {2}, 5: {1, 3}, 6: {3}, 9: {3}}
    assert window_samples(tracks, history=3) == [(1, 1), (2, 2), (6, 3), (9, 3)]
    assert window_samples(tracks, history=1) == [(1, 1), (2, 2), (6, 3)]
    assert window_samples({4: {7}}, history=3) == []


def _track(rng, num_frames=4, shape=(240, 320)):
    """A person drifting right by 5 px per frame: images (dots at joints) and poses, f order."""
    base = random_person(rng)
    poses, images = [], []
    for f in range(num_frames):
        pose = base.copy()
        pose[pose[:, 2] > 0, 0] -= 5.0 * f  # frame t - f is 5 f px further left
        poses.append(pose)
        images.append(dot_image(shape, pose))
    return images, poses


def test_unaugmented_window_uses_the_inference_crop():
    rng = np.random.default_rng(10)
    images, poses = _track(rng)
    poses[2], images[2] = None, None  # the track was missed at t - 2
    config = WindowConfig(input_hw=INPUT_HW)
    window = make_window(images, poses, rng, config, augment=False)
    np.testing.assert_allclose(window.frame_matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-7)
    np.testing.assert_allclose(window.image_matrices, window.crop_matrices, atol=1e-6)
    np.testing.assert_array_equal(window.frame_valid, [True, True, False, True])
    # The current crop: the t - 1 pose's box, enlarged 1.25 x 1.2, aspect fixed (inference).
    box = transforms.box_from_keypoints(poses[1])
    expected, _ = transforms.box_crop_transform(box, INPUT_HW, enlarge=1.25 * 1.2)
    np.testing.assert_allclose(window.crop_matrices[0], expected, atol=1e-5)
    np.testing.assert_allclose(window.crop_matrices[0], transforms.get_affine_transform(
        *track_crop_region(poses[1], INPUT_HW), 0.0, INPUT_HW[::-1]), atol=1e-5)
    # History crops are plain detection-style crops of each frame's pose box.
    np.testing.assert_allclose(window.crop_matrices[3], transforms.box_crop_transform(
        transforms.box_from_keypoints(poses[3]), INPUT_HW)[0], atol=1e-5)
    assert not window.crops[2].any() and not window.crop_matrices[2].any()
    np.testing.assert_allclose(window.box, box, atol=1e-4)
    present = poses[1][:, 2] > 0
    np.testing.assert_allclose(window.history[0][present], poses[1][present], atol=1e-5)
    assert not window.history[1].any()
    np.testing.assert_allclose(window.target[:, :3], poses[0], atol=1e-5)
    np.testing.assert_array_equal(window.target[:, 3], poses[0][:, 2] > 0)


@pytest.mark.parametrize("flip", [False, True])
def test_window_target_keeps_each_joints_visibility(flip):
    rng = np.random.default_rng(14)
    images, poses = _track(rng)
    gt = poses[0].copy()
    gt[[5, 8, 11], 2] = 0.0  # annotated but hidden: a position, visibility flag 0
    gt[6] = 0.0  # not annotated
    gt[9, 2] = 2.0  # PoseTrack-style flag 2: visible
    poses[0] = gt
    config = WindowConfig(input_hw=INPUT_HW, flip_prob=float(flip))
    window = make_window(images, poses, np.random.default_rng(0), config)
    annotated = np.any(gt != 0.0, axis=1)
    visible = annotated & (gt[:, 2] > 0)
    order = FLIP_PERMUTATION if flip else np.arange(NUM_JOINTS)
    np.testing.assert_array_equal(window.target[:, 2], annotated[order])
    np.testing.assert_array_equal(window.target[:, 3], visible[order])
    assert window.target[:, 3].sum() == NUM_JOINTS - 2 - 4  # ears, slot 6, three hidden


def test_augmented_window_joints_land_on_their_pixels():
    rng = np.random.default_rng(11)
    images, poses = _track(rng)
    config = WindowConfig(input_hw=INPUT_HW, jitter=0.0, dropout=0.0)
    white = transforms.normalize_image(np.full((1, 1, 3), 255, np.uint8)).mean()
    for seed in range(12):
        w = make_window(images, poses, np.random.default_rng(seed), config)
        for f in np.flatnonzero(w.frame_valid):
            np.testing.assert_allclose(w.crops[f], transforms.normalize_image(
                transforms.warp_crop(images[f], w.image_matrices[f], INPUT_HW)), atol=0.03)
        frames = [(0, w.target)] + [(f, w.history[f - 1]) for f in range(1, 4)]
        for f, pose in frames:
            xy = transforms.apply_affine(pose[:, :2], w.crop_matrices[f].astype(np.float64))
            for (x, y), v in zip(xy, pose[:, 2], strict=True):
                if v > 0 and 0 <= x < INPUT_HW[1] - 0.5 and 0 <= y < INPUT_HW[0] - 0.5:
                    assert w.crops[f][round(y), round(x)].mean() == pytest.approx(white, abs=0.3)


def test_window_flip_mirrors_every_crop_and_swaps_slots():
    rng = np.random.default_rng(12)
    images, poses = _track(rng)
    base = dict(input_hw=INPUT_HW, jitter=0.0, dropout=0.0, scale_factor=0.0, rotation_prob=0.0)
    plain = make_window(images, poses, np.random.default_rng(0), WindowConfig(**base,
                                                                               flip_prob=0.0))
    flipped = make_window(images, poses, np.random.default_rng(0), WindowConfig(**base,
                                                                                 flip_prob=1.0))
    np.testing.assert_allclose(flipped.crops[:, :, 1:], plain.crops[:, :, :0:-1], atol=0.05)
    cx = plain.box[0] + plain.box[2] / 2
    mirrored = plain.target.copy()
    mirrored[:, 0] = np.where(plain.target[:, 2] > 0, 2 * cx - plain.target[:, 0], 0.0)
    np.testing.assert_allclose(flipped.target, mirrored[FLIP_PERMUTATION], atol=1e-4)
    np.testing.assert_allclose(flipped.history[..., 2], plain.history[:, FLIP_PERMUTATION, 2])


def test_history_augmentation_statistics():
    rng = np.random.default_rng(13)
    pose = random_person(rng)
    config = WindowConfig()
    side = max(pose_box(pose)[2:])
    outs = np.stack([augment_history_pose(pose, rng, config) for _ in range(3000)])
    present = pose[:, 2] > 0
    kept = outs[:, present, 2] > 0
    assert abs(1.0 - kept.mean() - 0.1) < 0.01
    scores = outs[:, present, 2][kept]
    assert scores.min() >= 0.5 and scores.max() < 1.0 and abs(scores.mean() - 0.75) < 0.01
    error = (outs[:, present, :2] - pose[present, :2])[kept]
    assert abs(error.std() / side - 0.03) < 0.002
    assert not outs[:, ~present].any()


def test_window_needs_a_history_pose():
    rng = np.random.default_rng(14)
    images, poses = _track(rng)
    with pytest.raises(ValueError, match="no history pose"):
        make_window(images, [poses[0], None, None, None], rng, WindowConfig(input_hw=INPUT_HW))


@pytest.mark.parametrize("which", ["history", "current"])
@pytest.mark.parametrize("scale", [1.0, 1.3])
def test_window_crop_matrices_centre_and_size_the_pose_box(which, scale):
    # A tall pose box (60 x 200 about (130, 150)): the 3:4 crop is as high as the enlarged box.
    pose = np.zeros((NUM_JOINTS, 3))
    pose[:4] = [[100, 50, 0.9], [160, 250, 0.9], [130, 150, 0.9], [300, 300, 0.1]]
    crop = history_crop_matrix if which == "history" else current_crop_matrix
    matrix = crop(pose, (64, 48), 1.5, threshold=0.2, scale=scale)
    half_height = 100 * 1.5 * scale
    np.testing.assert_allclose(transforms.apply_affine(
        np.array([[130.0, 150.0], [130.0, 150.0 + half_height]]), matrix),
        [[24.0, 32.0], [24.0, 64.0]], atol=1e-9)


def test_detection_like_boxes_are_one_draw_per_person_and_frame():
    box = np.array([10.0, 20.0, 40.0, 90.0])
    a, b = detection_like_box(box, 5, 3, (0.05, 0.08)), detection_like_box(box, 5, 3, (0.05, 0.08))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, detection_like_box(box, 5, 4, (0.05, 0.08)))
    assert not np.allclose(a, detection_like_box(box, 6, 3, (0.05, 0.08)))
    np.testing.assert_allclose(detection_like_box(box, 5, 3, (0.0, 0.0)), box)
    np.testing.assert_array_equal(detection_crop_matrix(box, INPUT_HW, 1.25),
                                  transforms.box_crop_transform(box, INPUT_HW, 1.25)[0])


def _detection_boxes(poses):
    """Each frame's pose box, moved and grown a little as a detection's would be."""
    return [None if p is None else pose_box(p) + np.array([3.0, -2.0, 6.0, 8.0]) for p in poses]


@pytest.mark.parametrize("seed", range(4))
def test_detection_windows_crop_every_frame_around_its_box(seed):
    """Under augmentation, each crop of a "detections" window is centred on its frame's box;
    an uncovered window's current crop is the track crop of a "poses" window."""
    rng = np.random.default_rng(13)
    images, poses = _track(rng)
    boxes = _detection_boxes(poses)
    config = WindowConfig(input_hw=INPUT_HW, feature_source="detections", uncovered_prob=0.0)
    window = make_window(images, poses, np.random.default_rng(seed), config, boxes=boxes)
    for f, box in enumerate(boxes):
        centre = np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])
        np.testing.assert_allclose(
            transforms.apply_affine(centre[None], window.image_matrices[f].astype(np.float64)),
            [[INPUT_HW[1] / 2, INPUT_HW[0] / 2]], atol=1e-3)
    uncovered = dataclasses.replace(config, uncovered_prob=1.0)
    got = make_window(images, poses, np.random.default_rng(seed), uncovered, boxes=boxes)
    poses_way = make_window(images, poses, np.random.default_rng(seed),
                            WindowConfig(input_hw=INPUT_HW), boxes=boxes)
    np.testing.assert_array_equal(got.crop_matrices[0], poses_way.crop_matrices[0])
    np.testing.assert_array_equal(got.crop_matrices[1:], window.crop_matrices[1:])


def test_detection_windows_need_their_boxes():
    rng = np.random.default_rng(14)
    images, poses = _track(rng)
    boxes = _detection_boxes(poses)
    boxes[2] = None
    config = WindowConfig(input_hw=INPUT_HW, feature_source="detections")
    with pytest.raises(ValueError, match="needs a box"):
        make_window(images, poses, rng, config, boxes=boxes)
