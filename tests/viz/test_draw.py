"""Skeleton drawing (gnnpose_jax.viz.draw): limbs where the joints are and nowhere else, dashed
limbs for recovered people, stable colours per track id, RGB PNGs written atomically."""

import numpy as np

from gnnpose_jax.data import joints, transforms
from gnnpose_jax.viz.draw import draw_pose, track_colour, write_png

RED = (255, 0, 0)


def _arm(shape=(100, 120)):
    """A black image and a pose with only a left shoulder (20, 50) and elbow (100, 50)."""
    keypoints = np.zeros((joints.NUM_JOINTS, 3))
    keypoints[5] = (20, 50, 1)  # left shoulder
    keypoints[7] = (100, 50, 1)  # left elbow: limb (5, 7) runs along row 50
    return np.zeros((*shape, 3), np.uint8), keypoints


def _lit(image) -> np.ndarray:
    """(H, W) bool: pixels that are not black."""
    return image.any(-1)


def test_colours_are_stable_per_id_and_differ_between_neighbours():
    colours = [track_colour(i) for i in range(12)]
    assert colours == [track_colour(i) for i in range(12)]  # the same id, the same colour
    assert len(set(colours)) == 12
    assert all(0 <= c <= 255 for colour in colours for c in colour)
    # Neighbouring ids are far apart in colour (golden-ratio hue walk).
    gaps = [np.abs(np.subtract(a, b)).sum() for a, b in zip(colours, colours[1:], strict=False)]
    assert min(gaps) > 100


def test_a_limb_is_drawn_along_its_joints_and_nowhere_else():
    image, keypoints = _arm()
    out = draw_pose(image, keypoints, RED)
    assert out is image  # in place
    for x in (30, 60, 90):  # along the limb: the limb's colour
        np.testing.assert_array_equal(image[50, x], RED)
    lit = _lit(image)
    rows, cols = np.nonzero(lit)
    # Nothing beyond the limb's thickness and the joint dots (radius 3).
    assert rows.min() >= 46 and rows.max() <= 54
    assert cols.min() >= 16 and cols.max() <= 104
    # Only the limb's colour (anti-aliased: shades of red) is used.
    assert not image[lit][:, 1:].any()


def test_absent_joints_and_masked_joints_draw_no_limb():
    image, keypoints = _arm()
    present = np.zeros(joints.NUM_JOINTS, bool)
    present[5] = True  # the elbow is masked out: a dot at the shoulder, no limb
    draw_pose(image, keypoints, RED, present=present)
    assert _lit(image)[50, 15:26].any()
    assert not _lit(image)[:, 30:].any()
    lone = np.zeros((joints.NUM_JOINTS, 3))  # no joint at all: nothing drawn
    blank = np.zeros((100, 120, 3), np.uint8)
    draw_pose(blank, lone, RED, label="7")
    assert not blank.any()


def test_recovered_people_are_drawn_dashed():
    solid, keypoints = _arm()
    dashed = solid.copy()
    draw_pose(solid, keypoints, RED)
    draw_pose(dashed, keypoints, RED, dashed=True)
    between = slice(30, 91)  # the limb's middle, away from the joint dots
    assert _lit(solid)[50, between].all()
    on = _lit(dashed)[50, between]
    assert on.any() and not on.all()  # dashes and gaps
    # Dashes alternate: several separate runs of lit pixels along the limb.
    starts = np.flatnonzero(np.diff(on.astype(int)) == 1)
    assert len(starts) >= 3
    # The dashes lie on the solid limb.
    assert not (_lit(dashed) & ~_lit(solid)).any()


def test_label_is_drawn_above_the_pose():
    image, keypoints = _arm()
    draw_pose(image, keypoints, RED, label="12")
    rows = np.nonzero(_lit(image))[0]
    assert rows.min() < 46  # text above the limb
    assert not _lit(image)[55:].any()  # and nothing below it


def test_png_is_written_in_rgb_and_atomically(tmp_path):
    image = np.zeros((8, 10, 3), np.uint8)
    image[..., 0] = 200  # red
    image[2:4, 3:5] = (10, 20, 30)
    write_png(tmp_path / "out.png", image)
    np.testing.assert_array_equal(transforms.read_image_rgb(tmp_path / "out.png"), image)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary file left
