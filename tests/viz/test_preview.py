"""Preview grids (gnnpose_jax.viz.preview): ground truth, detections and ignore regions drawn
where they are, on a copy; the grid picks labeled frames spread over the video."""

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.viz.draw import track_colour
from gnnpose_jax.viz.preview import draw_ground_truth, render_preview

H, W = 80, 100


def _person(track_id=3):
    """A visible left shoulder (30, 40) and elbow (60, 40), and an occluded nose (80, 65)."""
    kp = np.zeros((joints.NUM_JOINTS, 3))
    kp[5] = (30, 40, 1)
    kp[7] = (60, 40, 1)
    kp[0] = (80, 65, 0)  # present (non-zero) but not visible: a hollow dot, no limb
    return Person(keypoints=kp, track_id=track_id)


def _frame(t=0, people=(), regions=(), labeled=True):
    return Frame(file_name=f"images/val/x/{t:06d}.jpg", frame_index=t, is_labeled=labeled,
                 people=list(people), ignore_regions=list(regions), image_id=t)


def _shade_of(pixels, colour) -> bool:
    """Whether the brightest of `pixels` is `colour` up to anti-aliasing (a uniform dimming)."""
    pixel = max(pixels, key=lambda p: int(np.sum(p)))
    scale = np.sum(pixel) / np.sum(colour)
    return bool(scale > 0.8 and np.abs(pixel - scale * np.asarray(colour)).max() <= 3)


def test_ground_truth_is_drawn_on_a_copy_where_the_annotations_are():
    image = np.zeros((H, W, 3), np.uint8)
    person = _person()
    colour = np.array(track_colour(person.track_id))
    region = np.array([[5.0, 50.0], [25.0, 50.0], [25.0, 75.0], [5.0, 75.0]])
    detection = {"bbox": [40.0, 20.0, 30.0, 50.0], "image_id": 0}
    out = draw_ground_truth(image, _frame(people=[person], regions=[region]), [detection])
    assert not image.any()  # the input is untouched
    assert _shade_of(out[38:43, 45], colour)  # on the limb (anti-aliased), between the joints
    assert not out[30, 45].any() and not out[50, 45].any()  # and not beside it
    np.testing.assert_array_equal(out[40, 30], colour)  # a visible joint: a filled dot
    # The occluded nose: a hollow dot (its ring is drawn, its centre is not).
    assert not out[65, 80].any()
    assert _shade_of(out[62:69, 77:84].reshape(-1, 3), colour)
    np.testing.assert_array_equal(out[45, 70], (255, 255, 255))  # the detection box's edge
    np.testing.assert_array_equal(out[60, 5], (255, 230, 0))  # the ignore region's edge
    assert not out[60, 15].any()  # inside the region: not filled


def test_preview_grid_spreads_labeled_frames_and_pads_the_last_row():
    frames = [_frame(t, labeled=t != 2) for t in range(6)]  # frame 2 is unlabeled
    images = [np.full((H, W, 3), 10 * (t + 1), np.uint8) for t in range(6)]
    grid = render_preview(Sequence("x", frames), images, [], num_frames=4, columns=3)
    assert grid.shape == (2 * H, 3 * W, 3)
    tiles = [grid[r * H:(r + 1) * H, c * W:(c + 1) * W] for r in range(2) for c in range(3)]
    # Labeled frames 0, 1, 3, 4, 5: four picks spread over them are 0, 1, 4 and 5.
    assert [int(tile[-1, -1, 0]) for tile in tiles[:4]] == [10, 20, 50, 60]
    np.testing.assert_array_equal(tiles[2], draw_ground_truth(images[4], frames[4]))
    assert not tiles[4].any() and not tiles[5].any()  # the padding tiles are blank
