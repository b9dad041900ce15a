"""Frame records: one frame's fixed-shape arrays, their padding and the checks on what fits."""

import numpy as np
import pytest

from gnnpose_jax.data import frame_records as fr
from gnnpose_jax.data.types import Frame, Person
from gnnpose_jax.errors import DataError

LAYOUT = fr.RecordLayout(max_people=4, max_detections=3, max_ignore_regions=2,
                         max_ignore_points=8)


def _keypoints(points: dict[int, tuple[float, float]]) -> np.ndarray:
    """(17, 3) keypoints with the given joints present (visibility 1), the rest (0, 0, 0)."""
    out = np.zeros((17, 3))
    for joint, (x, y) in points.items():
        out[joint] = (x, y, 1)
    return out


def test_a_frame_becomes_a_padded_record_and_back():
    boxed = Person(_keypoints({0: (5, 6)}), track_id=7, head_box=np.array([1, 2, 3, 4.0]),
                   box=np.array([10, 20, 30, 40.0]))
    joints_only = Person(_keypoints({3: (12, 50), 9: (4, 80), 16: (30, 65)}), track_id=2)
    nothing = Person(np.zeros((17, 3)), track_id=5)
    triangle = np.array([[0, 0], [8, 0], [0, 8.0]])
    square = np.array([[1, 1], [2, 1], [2, 2], [1, 2.0]])
    frame = Frame("images/val/s/000003.jpg", 3, True, [boxed, joints_only, nothing],
                  [triangle, square], image_id=10030003)
    dets = np.array([[1, 2, 3, 4, 0.9], [5, 6, 7, 8, 0.5]])
    record = fr.frame_record("s", frame, dets, LAYOUT)

    assert (record["sequence"], record["image"]) == (b"s", b"images/val/s/000003.jpg")
    assert (record["frame_index"], record["image_id"], record["is_labeled"]) == (3, 10030003, True)
    people = record["people"]
    assert people["count"] == 3 and people["keypoints"].shape == (4, 17, 3)
    assert people["track_id"].tolist() == [7, 2, 5, fr.NO_TRACK]
    # The file's box; else the tight box of the joints (x 4..30, y 50..80); else zeros.
    np.testing.assert_array_equal(people["box"], [[10, 20, 30, 40], [4, 50, 26, 30],
                                                  [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(people["head_box"][0], [1, 2, 3, 4])
    assert not people["head_box"][1:].any() and not people["keypoints"][3].any()
    np.testing.assert_array_equal(people["keypoints"][1], joints_only.keypoints)
    assert record["detections"]["count"] == 2
    np.testing.assert_allclose(record["detections"]["boxes"], np.vstack([dets, np.zeros(5)]))
    polygons = fr.ignore_polygons(record)
    assert len(polygons) == 2
    np.testing.assert_array_equal(polygons[0], triangle)
    np.testing.assert_array_equal(polygons[1], square)


def test_a_frame_without_image_id_or_regions():
    record = fr.frame_record("s", Frame("a.jpg", 0, False), np.zeros((0, 5)), LAYOUT)
    assert record["image_id"] == fr.NO_IMAGE_ID and record["is_labeled"] is False
    assert fr.ignore_polygons(record) == []
    assert record["people"]["count"] == record["detections"]["count"] == 0


@pytest.mark.parametrize("frame, detections, message", [
    (Frame("a.jpg", 0, True, [Person(np.zeros((17, 3)), i) for i in range(5)]), 0,
     "a.jpg has 5 people, more than max_people=4"),
    (Frame("b.jpg", 0, True), 4, "b.jpg has 4 detections, more than max_detections=3"),
    (Frame("c.jpg", 0, True, ignore_regions=[np.zeros((5, 2))] * 3), 0,
     "c.jpg has 3 ignore regions with 15 vertices"),
    (Frame("d.jpg", 0, True, ignore_regions=[np.zeros((9, 2))]), 0,
     "d.jpg has 1 ignore regions with 9 vertices.*max_ignore_points=8"),
])
def test_what_does_not_fit_is_one_line(frame, detections, message):
    with pytest.raises(DataError, match=message) as err:
        fr.frame_record("s", frame, np.zeros((detections, 5)), LAYOUT, src="ann.json")
    assert str(err.value).startswith("ann.json: ") and "\n" not in str(err.value)


def test_frame_detections_by_image_id_then_poseval_id_then_file_name():
    frame = Frame("images/val/000342_mpii_test/000010.jpg", 10, True, image_id=5)
    box = np.array([[1, 2, 3, 4, 0.5]])
    assert fr.frame_detections(frame, {5: box, frame.file_name: 2 * box})[0, 0] == 1
    assert fr.frame_detections(frame, {frame.file_name: 2 * box})[0, 0] == 2
    assert fr.frame_detections(frame, {}).shape == (0, 5)
