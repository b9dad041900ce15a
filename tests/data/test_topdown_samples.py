"""Top-down HRNet samples (gnnpose_jax.data.topdown_samples): targets, geometry, augmentation."""

import numpy as np
import pytest

from gnnpose_jax.data import transforms
from gnnpose_jax.data.joints import FLIP_PERMUTATION, NUM_JOINTS, UPPER_BODY
from gnnpose_jax.data.topdown_samples import (
    TopDownConfig,
    draw_augmentation,
    gaussian_targets,
    make_topdown_sample,
)
from tests.helpers.dots import dot_image, random_person

INPUT_HW = (128, 96)
NO_AUG = dict(scale_factor=0.0, rotation_prob=0.0, flip_prob=0.0, half_body_prob=0.0)


def official_generate_target(joints, joints_vis, image_size, heatmap_size, sigma):
    """HRNet's JointsDataset.generate_target (gaussian), verbatim up to names: the reference."""
    num_joints = len(joints)
    target_weight = np.ones((num_joints, 1), dtype=np.float32)
    target_weight[:, 0] = joints_vis
    target = np.zeros((num_joints, heatmap_size[1], heatmap_size[0]), dtype=np.float32)
    tmp_size = sigma * 3
    for joint_id in range(num_joints):
        feat_stride = image_size / heatmap_size
        mu_x = int(joints[joint_id][0] / feat_stride[0] + 0.5)
        mu_y = int(joints[joint_id][1] / feat_stride[1] + 0.5)
        ul = [int(mu_x - tmp_size), int(mu_y - tmp_size)]
        br = [int(mu_x + tmp_size + 1), int(mu_y + tmp_size + 1)]
        if ul[0] >= heatmap_size[0] or ul[1] >= heatmap_size[1] or br[0] < 0 or br[1] < 0:
            target_weight[joint_id] = 0
            continue
        size = 2 * tmp_size + 1
        x = np.arange(0, size, 1, np.float32)
        y = x[:, np.newaxis]
        x0 = y0 = size // 2
        g = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))
        g_x = max(0, -ul[0]), min(br[0], heatmap_size[0]) - ul[0]
        g_y = max(0, -ul[1]), min(br[1], heatmap_size[1]) - ul[1]
        img_x = max(0, ul[0]), min(br[0], heatmap_size[0])
        img_y = max(0, ul[1]), min(br[1], heatmap_size[1])
        if target_weight[joint_id] > 0.5:
            target[joint_id][img_y[0]:img_y[1], img_x[0]:img_x[1]] = \
                g[g_y[0]:g_y[1], g_x[0]:g_x[1]]
    return target, target_weight[:, 0]


@pytest.mark.parametrize("sigma,input_hw", [(2, (256, 192)), (3, (384, 288))])
def test_gaussian_targets_match_official_generate_target(sigma, input_hw):
    rng = np.random.default_rng(sigma)
    hm_hw = (input_hw[0] // 4, input_hw[1] // 4)
    # Joints inside, near and far outside the crop, and some unannotated.
    points = rng.uniform(-60, 60, (400, 2)) + rng.uniform(0, 1, (400, 2)) * input_hw[::-1]
    present = rng.random(400) > 0.2
    ours, weights = gaussian_targets(points, present, hm_hw, (4.0, 4.0), float(sigma))
    ref, ref_w = official_generate_target(points, present.astype(np.float32),
                                          np.array(input_hw[::-1]), np.array(hm_hw[::-1]),
                                          sigma)
    np.testing.assert_allclose(ours, ref.transpose(1, 2, 0), atol=1e-6)
    # The one documented difference: a window ending one cell before the map keeps weight 1
    # (and an empty heatmap) officially; here it is off the heatmap, weight 0.
    mu = np.trunc(points / 4.0 + 0.5)
    official_quirk = ((mu + 3 * sigma) == -1).any(axis=1)
    assert official_quirk.any() and (~official_quirk & (weights == 0)).any()
    np.testing.assert_array_equal(weights[~official_quirk], ref_w[~official_quirk])
    assert np.all(weights[official_quirk] == 0)


def test_gaussian_target_hand_computed():
    # x = 10 px, y = 6 px at stride 4: int(2.5 + 0.5) = 3, int(1.5 + 0.5) = 2.
    heatmaps, weights = gaussian_targets(np.array([[10.0, 6.0], [0.0, 0.0]]),
                                         np.array([True, False]), (8, 6), (4.0, 4.0), 1.0)
    assert heatmaps.shape == (8, 6, 2)
    assert heatmaps[2, 3, 0] == 1.0
    assert heatmaps[2, 4, 0] == pytest.approx(np.exp(-0.5))
    assert heatmaps[3, 4, 0] == pytest.approx(np.exp(-1.0))
    assert heatmaps[2, 0, 0] == pytest.approx(np.exp(-4.5))  # 3 cells away: inside 3 sigma
    assert heatmaps[6, 3, 0] == 0.0  # 4 cells away: outside the window
    np.testing.assert_array_equal(weights, [1.0, 0.0])
    assert not heatmaps[..., 1].any()


def test_unaugmented_sample_is_the_plain_box_crop():
    rng = np.random.default_rng(0)
    pose = random_person(rng)
    box = np.array([110.0, 50.0, 100.0, 140.0])
    image = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    sample = make_topdown_sample(image, pose, box, rng, TopDownConfig(input_hw=INPUT_HW),
                                 augment=False)
    expected, _ = transforms.box_crop_transform(box, INPUT_HW)
    np.testing.assert_allclose(sample.matrix, expected, atol=1e-5)
    centre = transforms.apply_affine(np.array([[160.0, 120.0]]), sample.matrix)[0]
    np.testing.assert_allclose(centre, [48.0, 64.0], atol=1e-4)
    assert sample.image.shape == (*INPUT_HW, 3) and sample.image.dtype == np.float32
    assert sample.heatmaps.shape == (32, 24, NUM_JOINTS)
    np.testing.assert_allclose(
        sample.image, transforms.normalize_image(transforms.warp_crop(image, expected, INPUT_HW)),
        atol=1e-6)


def test_augmented_joints_land_on_their_pixels():
    rng = np.random.default_rng(1)
    pose = random_person(rng)
    image = dot_image((240, 320), pose)
    white = transforms.normalize_image(np.full((1, 1, 3), 255, np.uint8)).mean()
    for seed in range(20):
        sample = make_topdown_sample(image, pose, np.array([110.0, 50.0, 100.0, 140.0]),
                                     np.random.default_rng(seed), TopDownConfig(input_hw=INPUT_HW))
        for x, y, v, _ in sample.keypoints:
            if v and 0 <= x < INPUT_HW[1] - 0.5 and 0 <= y < INPUT_HW[0] - 0.5:
                assert sample.image[round(y), round(x)].mean() == pytest.approx(white, abs=0.3)


def test_flip_mirrors_crop_and_targets_exactly():
    rng = np.random.default_rng(2)
    pose = random_person(rng)
    image = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    box = np.array([110.0, 50.0, 100.0, 140.0])
    plain = make_topdown_sample(image, pose, box, np.random.default_rng(0),
                                TopDownConfig(input_hw=INPUT_HW, **NO_AUG))
    flipped = make_topdown_sample(image, pose, box, np.random.default_rng(0),
                                  TopDownConfig(input_hw=INPUT_HW, **{**NO_AUG, "flip_prob": 1.0}))
    # Crop column j of the mirrored crop is column W - j of the plain one (official flip).
    np.testing.assert_allclose(flipped.image[:, 1:], plain.image[:, :0:-1], atol=0.05)
    np.testing.assert_allclose(flipped.keypoints[FLIP_PERMUTATION, 0],
                               np.where(plain.keypoints[:, 2] > 0,
                                        INPUT_HW[1] - plain.keypoints[:, 0], 0.0), atol=1e-4)
    np.testing.assert_array_equal(flipped.weights[FLIP_PERMUTATION], plain.weights)
    # The official flip test (mirror back, swap, shift one column) recovers the targets.
    back = transforms.flip_back_heatmaps(flipped.heatmaps[None])[0]
    np.testing.assert_allclose(back[:, 1:], plain.heatmaps[:, 1:], atol=1e-6)


def test_visibility_column_follows_the_joints_through_a_flip():
    pose = random_person(np.random.default_rng(4))
    pose[[5, 9, 14], 2] = 0.0  # annotated but hidden: left shoulder, left wrist, right knee
    box = np.array([110.0, 50.0, 100.0, 140.0])
    image = np.zeros((240, 320, 3), np.uint8)
    visible = (pose[:, 2] > 0).astype(np.float32)
    annotated = np.any(pose != 0, axis=1).astype(np.float32)
    for flip, order in ((0.0, np.arange(NUM_JOINTS)), (1.0, FLIP_PERMUTATION)):
        sample = make_topdown_sample(image, pose, box, np.random.default_rng(0),
                                     TopDownConfig(input_hw=INPUT_HW,
                                                   **{**NO_AUG, "flip_prob": flip}))
        np.testing.assert_array_equal(sample.keypoints[:, 2], annotated[order])
        np.testing.assert_array_equal(sample.keypoints[:, 3], visible[order])


@pytest.mark.parametrize("upper_prob,part", [(1.0, "upper"), (0.0, "lower")])
def test_half_body_crops_around_the_chosen_part(upper_prob, part):
    rng = np.random.default_rng(3)
    pose = random_person(rng)
    config = TopDownConfig(input_hw=INPUT_HW, **{**NO_AUG, "half_body_prob": 1.0},
                           half_body_upper_prob=upper_prob)
    aug = draw_augmentation(pose, np.array([110.0, 50.0, 100.0, 140.0]), rng, config)
    upper = np.zeros(NUM_JOINTS, bool)
    upper[list(UPPER_BODY)] = True
    chosen = pose[(upper if part == "upper" else ~upper) & (pose[:, 2] > 0), :2]
    np.testing.assert_allclose(aug.center, chosen.mean(axis=0))
    side = chosen.max(axis=0) - chosen.min(axis=0)
    w = max(side[0], side[1] * 0.75)
    np.testing.assert_allclose(aug.scale, [w * 1.5, w / 0.75 * 1.5])


def test_half_body_needs_more_than_8_joints():
    rng = np.random.default_rng(4)
    pose = random_person(rng)
    pose[9:] = 0.0  # 6 annotated joints
    config = TopDownConfig(input_hw=INPUT_HW, **{**NO_AUG, "half_body_prob": 1.0})
    box = np.array([110.0, 50.0, 100.0, 140.0])
    aug = draw_augmentation(pose, box, rng, config)
    np.testing.assert_allclose(aug.center, [160.0, 120.0])


def test_augmentation_draw_distribution():
    config = TopDownConfig(input_hw=INPUT_HW, half_body_prob=0.0)
    rng = np.random.default_rng(5)
    pose, box = random_person(rng), np.array([110.0, 50.0, 100.0, 140.0])
    base = transforms.box_to_center_scale(box, 0.75)[1]
    augs = [draw_augmentation(pose, box, rng, config) for _ in range(3000)]
    ratio = np.array([a.scale[0] / base[0] for a in augs])
    rot = np.array([a.rotation for a in augs])
    flips = np.array([a.flip for a in augs])
    assert ratio.min() >= 0.65 - 1e-9 and ratio.max() <= 1.35 + 1e-9
    assert np.abs(rot).max() <= 90.0 and np.abs(rot).max() > 45.0
    assert abs(np.mean(rot == 0.0) - 0.4) < 0.04
    assert abs(np.std(rot[rot != 0.0]) - 45.0 * 0.9) < 6.0  # N(0, 45) clipped at 2 sigma
    assert abs(flips.mean() - 0.5) < 0.04


def test_sample_is_a_pure_function_of_the_generator():
    rng = np.random.default_rng(6)
    pose, image = random_person(rng), rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    box, config = np.array([110.0, 50.0, 100.0, 140.0]), TopDownConfig(input_hw=INPUT_HW)
    a = make_topdown_sample(image, pose, box, np.random.default_rng(9), config)
    b = make_topdown_sample(image, pose, box, np.random.default_rng(9), config)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------------------------------------
# Tracklet windows
