"""Crop transforms, heatmap decoding and flip-back against hand-computed references."""

import cv2
import numpy as np
import pytest

from gnnpose_jax.data import transforms
from gnnpose_jax.data.joints import FLIP_PERMUTATION, NUM_JOINTS
from gnnpose_jax.errors import DataError

INPUT_HW = (384, 288)
HEATMAP_HW = (96, 72)


def _rotate(vec, degrees):
    """The official `get_dir` rotation of a 2-vector."""
    r = np.deg2rad(degrees)
    return np.array([vec[0] * np.cos(r) - vec[1] * np.sin(r),
                     vec[0] * np.sin(r) + vec[1] * np.cos(r)])


def _three_point_matrix(center, scale, rot, out_wh, shift):
    """The official construction: three point pairs through cv2.getAffineTransform."""
    src_c = np.asarray(center) + np.asarray(scale) * np.asarray(shift)
    src_b = src_c + _rotate([0.0, -0.5 * scale[0]], rot)
    dst_c = np.array([out_wh[0] * 0.5, out_wh[1] * 0.5])
    dst_b = dst_c + np.array([0.0, -0.5 * out_wh[0]])

    def third(a, b):
        """The official `get_3rd_point`: b plus (a - b) turned by 90 degrees."""
        d = a - b
        return b + np.array([-d[1], d[0]])

    src = np.stack([src_c, src_b, third(src_c, src_b)])
    dst = np.stack([dst_c, dst_b, third(dst_c, dst_b)])
    return cv2.getAffineTransform(src.astype(np.float32), dst.astype(np.float32))


@pytest.mark.parametrize(
    ("box", "center", "scale"),
    [
        pytest.param((10, 20, 300, 100), (160, 70), (375, 500), id="wide_box_gets_taller"),
        pytest.param((0, 0, 30, 120), (15, 60), (112.5, 150), id="tall_box_gets_wider"),
        pytest.param((5, 5, 75, 100), (42.5, 55), (93.75, 125), id="exact_aspect_only_enlarged"),
    ],
)
def test_box_to_center_scale_fixes_aspect_then_enlarges(box, center, scale):
    c, s = transforms.box_to_center_scale(box, aspect_ratio=0.75, enlarge=1.25)
    np.testing.assert_allclose(c, center)
    np.testing.assert_allclose(s, scale)


@pytest.mark.parametrize(
    ("rot", "shift"),
    [pytest.param(0.0, (0.0, 0.0), id="plain"), pytest.param(30.0, (0.0, 0.0), id="rot30"),
     pytest.param(-90.0, (0.1, -0.05), id="rot-90_shifted")],
)
def test_matrix_equals_official_three_point_construction(rot, shift):
    center, scale = (321.5, 208.25), (180.0, 240.0)
    got = transforms.get_affine_transform(center, scale, rot, (288, 384), shift=shift)
    expected = _three_point_matrix(center, scale, rot, (288, 384), shift)
    np.testing.assert_allclose(got, expected, atol=2e-3)  # cv2 solves in float32


@pytest.mark.parametrize("rot", [0.0, 17.0, -135.0])
def test_crop_then_inverse_round_trips_points(rot):
    rng = np.random.default_rng(0)
    center, scale = rng.uniform(50, 600, 2), rng.uniform(40, 400, 2)
    points = rng.uniform(-100, 800, (25, 2))
    forward = transforms.get_affine_transform(center, scale, rot, (288, 384))
    backward = transforms.get_affine_transform(center, scale, rot, (288, 384), inverse=True)
    np.testing.assert_allclose(transforms.invert_affine(forward), backward, atol=1e-12)
    crop_points = transforms.apply_affine(points, forward)
    np.testing.assert_allclose(transforms.apply_affine(crop_points, backward), points, atol=1e-9)


def test_batched_apply_and_invert_match_per_item():
    rng = np.random.default_rng(1)
    mats = np.stack([transforms.get_affine_transform(rng.uniform(0, 99, 2), rng.uniform(9, 99, 2),
                                                     rng.uniform(-45, 45), (48, 64))
                     for _ in range(4)])
    points = rng.uniform(0, 100, (4, 7, 2))
    batched = transforms.apply_affine(points, mats)
    for i in range(4):
        np.testing.assert_allclose(batched[i], transforms.apply_affine(points[i], mats[i]))
        np.testing.assert_allclose(transforms.invert_affine(mats)[i],
                                   transforms.invert_affine(mats[i]))


def test_box_centre_and_corners_map_to_crop_centre_and_corners():
    box = (40.0, 30.0, 150.0, 200.0)  # already 3:4
    matrix, _ = transforms.box_crop_transform(box, INPUT_HW, enlarge=1.0)
    corners = np.array([[40.0, 30.0], [190.0, 230.0], [115.0, 130.0]])
    np.testing.assert_allclose(transforms.apply_affine(corners, matrix),
                               [[0, 0], [288, 384], [144, 192]], atol=1e-9)


def test_positive_rotation_moves_a_point_right_of_centre_up():
    matrix = transforms.get_affine_transform((100, 100), (80, 80), 90.0, (80, 80))
    np.testing.assert_allclose(transforms.apply_affine(np.array([[110.0, 100.0]]), matrix),
                               [[40.0, 30.0]], atol=1e-9)


def test_warp_crop_puts_the_box_centre_pixel_at_the_crop_centre():
    image = np.zeros((200, 300, 3), np.uint8)
    image[90, 120] = (255, 128, 7)
    matrix, _ = transforms.box_crop_transform((120 - 24, 90 - 32, 48, 64), (64, 48), enlarge=1.0)
    crop = transforms.warp_crop(image, matrix, (64, 48))
    assert crop.shape == (64, 48, 3) and crop.dtype == np.uint8
    assert tuple(crop[32, 24]) == (255, 128, 7)
    assert crop.sum() == 255 + 128 + 7


def test_warp_crop_fills_outside_the_image_with_zeros():
    image = np.full((50, 50, 3), 200, np.uint8)
    matrix = transforms.get_affine_transform((0, 0), (50, 50), 0.0, (50, 50))
    crop = transforms.warp_crop(image, matrix, (50, 50))
    assert crop[:20, :20].max() == 0 and crop[30:, 30:].min() == 200


def test_normalize_image_numbers():
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [124, 116, 104]]], np.uint8)
    out = transforms.normalize_image(pixels)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    assert out.dtype == np.float32 and out.shape == (1, 3, 3)
    np.testing.assert_allclose(out[0, 0], -mean / std, rtol=1e-6)
    np.testing.assert_allclose(out[0, 1], (1 - mean) / std, rtol=1e-6)
    np.testing.assert_allclose(out[0, 2], [0.0055655, -0.0049020, 0.0081917], atol=1e-6)


def _gaussian_heatmap(centers, hw, sigma=2.0):
    """(h, w, K) Gaussians at continuous cell positions `centers` (K, 2) [u, v]."""
    v, u = np.mgrid[0:hw[0], 0:hw[1]].astype(np.float64)
    d2 = (u[..., None] - centers[:, 0]) ** 2 + (v[..., None] - centers[:, 1]) ** 2
    return np.exp(-d2 / (2 * sigma**2))


@pytest.mark.parametrize("rot", [0.0, 25.0])
def test_decode_recovers_sub_cell_peaks_in_image_space(rot):
    rng = np.random.default_rng(2)
    box = (210.0, 95.0, 130.0, 260.0)
    matrix, inverse = transforms.box_crop_transform(box, INPUT_HW, rot=rot)
    # Known sub-cell peak positions, including exact cells and near-half offsets.
    cells = rng.uniform(5, 60, (NUM_JOINTS, 2)) + np.array([0.0, 3.0])
    cells[:4] = [[10.0, 10.0], [20.1, 30.4], [30.45, 40.0], [40.0, 50.49]]
    heatmaps = _gaussian_heatmap(cells, HEATMAP_HW)[None].astype(np.float32)
    truth = transforms.apply_affine(cells * 4.0, inverse)  # the image points of those cells
    keypoints, scores = transforms.decode_heatmaps(heatmaps, inverse[None], input_hw=INPUT_HW)
    assert keypoints.shape == (1, NUM_JOINTS, 2) and scores.shape == (1, NUM_JOINTS)
    error_cells = transforms.apply_affine(keypoints[0], matrix) / 4.0 - cells
    assert np.abs(error_cells).max() < 0.3
    np.testing.assert_allclose(keypoints[0, 0], truth[0], atol=1e-3)  # on a cell centre: exact
    image_px_per_cell = 4.0 / np.linalg.norm(matrix[:, 0])
    error_px = np.linalg.norm(keypoints[0] - truth, axis=-1)
    assert error_px.max() < 0.3 * np.sqrt(2) * image_px_per_cell
    np.testing.assert_allclose(scores[0], heatmaps[0].reshape(-1, NUM_JOINTS).max(axis=0))


def test_decode_shift_rule_and_official_bounds():
    heatmaps = np.zeros((1, 8, 10, 3), np.float32)
    heatmaps[0, 4, 5, 0] = 1.0  # right and up neighbours higher: +0.25 in u, -0.25 in v
    heatmaps[0, 4, 6, 0], heatmaps[0, 3, 5, 0] = 0.5, 0.5
    heatmaps[0, 4, 1, 1], heatmaps[0, 4, 2, 1] = 1.0, 0.5  # u = 1 is outside 1 < u: no shift
    heatmaps[0, 6, 8, 2], heatmaps[0, 6, 7, 2] = 2.0, 0.9  # inside; left higher in u only
    identity = np.array([[[1.0, 0, 0], [0, 1.0, 0]]])
    keypoints, scores = transforms.decode_heatmaps(heatmaps, identity, input_hw=(8, 10))
    np.testing.assert_allclose(keypoints[0], [[5.25, 3.75], [1.0, 4.0], [7.75, 6.0]])
    np.testing.assert_allclose(scores[0], [1.0, 1.0, 2.0])


@pytest.mark.parametrize(
    ("input_hw", "expected"),
    [pytest.param(None, [120.0, 200.0], id="default_stride_4"),
     pytest.param((384, 144), [60.0, 200.0], id="per_axis_ratios")],
)
def test_decode_scales_heatmap_cells_to_input_pixels(input_hw, expected):
    heatmaps = np.zeros((1, 96, 72, 1), np.float32)
    heatmaps[0, 50, 30, 0] = 1.0
    identity = np.array([[[1.0, 0, 0], [0, 1.0, 0]]])
    keypoints, _ = transforms.decode_heatmaps(heatmaps, identity, input_hw=input_hw)
    np.testing.assert_allclose(keypoints[0, 0], expected)


def _official_target(points, hw=HEATMAP_HW, stride=4, sigma=2.0):
    """Heatmaps the official target rule trains towards: Gaussians at int(x / stride + 0.5)."""
    cells = np.floor(np.asarray(points, np.float64) / stride + 0.5)
    return _gaussian_heatmap(cells, hw, sigma)[None]


def test_flip_back_restores_the_unflipped_heatmaps():
    rng = np.random.default_rng(3)
    width = INPUT_HW[1]
    points = np.stack([rng.integers(4, width - 4, NUM_JOINTS),
                       rng.integers(4, INPUT_HW[0] - 4, NUM_JOINTS)], axis=-1).astype(float)
    # The mirrored crop (official fliplr_joints): x -> width - 1 - x, left/right swapped.
    mirrored = points[FLIP_PERMUTATION] * [-1, 1] + [width - 1, 0]
    unflipped, flipped = _official_target(points), _official_target(mirrored)
    back = transforms.flip_back_heatmaps(flipped)
    np.testing.assert_array_equal(back[:, :, 1:], unflipped[:, :, 1:])  # column 0 is unknown
    averaged = transforms.average_with_flip(unflipped, flipped)
    np.testing.assert_allclose(averaged[:, :, 1:], unflipped[:, :, 1:], rtol=0, atol=1e-15)
    unshifted = transforms.flip_back_heatmaps(flipped, shift_column=False)
    assert not np.allclose(unshifted, unflipped, atol=1e-3)


def test_flip_back_swaps_left_and_right_channels():
    flipped = np.zeros((1, 4, 6, NUM_JOINTS), np.float32)
    flipped[0, 2, 1, 9] = 1.0  # left wrist, seen at column 1 of the mirrored crop
    back = transforms.flip_back_heatmaps(flipped)
    assert back[0, 2, 5, 10] == 1.0 and back.sum() == 1.0  # right wrist, column 6 - 1 - 1 + 1


def test_box_from_keypoints_uses_present_joints_only():
    keypoints = np.array([[10, 50, 1], [30, 20, 2], [999, 999, 0], [15, 80, 0.5]], float)
    assert transforms.box_from_keypoints(keypoints) == (10.0, 20.0, 20.0, 60.0)
    assert transforms.box_from_keypoints(keypoints, threshold=0.9) == (10.0, 20.0, 20.0, 30.0)
    with pytest.raises(ValueError, match="no joint"):
        transforms.box_from_keypoints(np.zeros((17, 3)))
    mask = np.array([True, False, False, True])  # a mask replaces the third-column test
    assert transforms.box_from_keypoints(keypoints[:, :2], present=mask) == (10.0, 50.0, 5.0, 30.0)


def test_pose_box_area_is_the_tight_box_area_and_zero_without_joints():
    from gnnpose_jax.tracking.oks import pose_box_area

    poses = np.array([[[10, 50], [30, 20], [15, 80]], [[1, 1], [2, 2], [3, 3]]], float)
    present = np.array([[True, True, False], [False, False, False]])
    np.testing.assert_array_equal(pose_box_area(poses, present), [20.0 * 30.0, 0.0])


def test_read_image_rgb_returns_rgb(tmp_path):
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's BGR order
    path = tmp_path / "red.png"
    cv2.imwrite(str(path), bgr)
    rgb = transforms.read_image_rgb(path)
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8
    assert (rgb[..., 0] == 200).all() and (rgb[..., 1:] == 0).all()


def test_read_image_rgb_names_missing_and_unreadable_files(tmp_path):
    missing = tmp_path / "nope.jpg"
    with pytest.raises(DataError, match="nope.jpg: image file not found"):
        transforms.read_image_rgb(missing)
    garbage = tmp_path / "broken.jpg"
    garbage.write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.jpg: cannot decode"):
        transforms.read_image_rgb(garbage)
