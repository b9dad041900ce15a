"""The sequence index: record numbering, people per record, and `sequence_index.json`."""

import json

import numpy as np
import pytest

from gnnpose_jax.data import sequence_index as si
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError


def _person(track_id: int, joints: int) -> Person:
    keypoints = np.zeros((17, 3))
    keypoints[:joints] = (1, 1, 1)
    return Person(keypoints, track_id)


def _sequences() -> list[Sequence]:
    """Two sequences, the first with its frames out of order."""
    labeled = Frame("b/0.jpg", 0, True, [_person(3, 17), _person(1, 4)])
    first = Sequence("b_video", [Frame("b/2.jpg", 2, False), labeled])
    second = Sequence("a_video", [Frame("a/5.jpg", 5, True, [_person(0, 0)])])
    return [first, second]


def test_records_are_numbered_in_sequence_then_frame_order(tmp_path):
    index = si.build_index(_sequences(), tmp_path)
    assert len(index) == 3
    assert index.sequences == {"b_video": [0, 1], "a_video": [2]}
    assert index.frame_index == [0, 2, 5] and index.is_labeled == [True, False, True]
    assert index.people == [[(3, 17), (1, 4)], [], [(0, 0)]]
    assert index.frame_records("b_video") == {0: 0, 2: 1}


@pytest.mark.parametrize("seqs, message", [
    ([], "empty split"),
    ([Sequence("v", [Frame("x.jpg", 1, True), Frame("y.jpg", 1, True)])],
     "two frames with frame index 1 \\(x.jpg, y.jpg\\)"),
    ([Sequence("v", [Frame("x.jpg", 0, True)])] * 2, "two sequences are named 'v'"),
])
def test_bad_splits_are_one_line(tmp_path, seqs, message):
    with pytest.raises(DataError, match=message) as err:
        si.build_index(seqs, tmp_path, src="ann/val")
    assert str(err.value).startswith("ann/val: ") and "\n" not in str(err.value)


def test_the_index_file_round_trips_with_a_relative_image_root(tmp_path):
    index = si.build_index(_sequences(), tmp_path / "world")
    path = tmp_path / si.INDEX_FILE
    si.write_index({"val": index}, path, "world")
    back = si.read_index(path, "val")
    assert back == index
    assert json.loads(path.read_text())["format"] == si.INDEX_FORMAT


def test_a_bad_index_file_is_one_line(tmp_path):
    path = tmp_path / si.INDEX_FILE
    with pytest.raises(DataError, match="sequence index not found"):
        si.read_index(path, "val")
    si.write_index({"train": si.build_index(_sequences(), tmp_path)}, path, ".")
    with pytest.raises(DataError, match="no split 'val' \\(expected one of train\\)"):
        si.read_index(path, "val")
    path.write_text('{"image_root": ".", "splits": {"val": {"sequences": {}}}}')
    with pytest.raises(DataError, match="malformed sequence index \\(KeyError") as err:
        si.read_index(path, "val")
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
