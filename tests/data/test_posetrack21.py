"""PoseTrack21 reader and writer: lossless round trips both ways, what the kit needs, bad input."""

import copy
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnnpose_jax.data import joints
from gnnpose_jax.data import posetrack as pt
from gnnpose_jax.data import posetrack21 as pt21
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError

NAME = "000001_bonn_train"
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def _same(a, b) -> bool:
    """Both None, or equal arrays."""
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(np.asarray(a), np.asarray(b))


def assert_sequences_equal(a: Sequence, b: Sequence) -> None:
    """Deep equality of two sequences (numpy-aware)."""
    assert (a.name, a.extra, len(a.frames)) == (b.name, b.extra, len(b.frames))
    for fa, fb in zip(a.frames, b.frames, strict=True):
        assert (fa.file_name, fa.frame_index, fa.is_labeled, fa.image_id, fa.extra) == (
            fb.file_name, fb.frame_index, fb.is_labeled, fb.image_id, fb.extra)
        assert len(fa.ignore_regions) == len(fb.ignore_regions)
        assert all(np.array_equal(ra, rb)
                   for ra, rb in zip(fa.ignore_regions, fb.ignore_regions, strict=True))
        assert len(fa.people) == len(fb.people)
        for pa, pb in zip(fa.people, fb.people, strict=True):
            assert np.array_equal(pa.keypoints, pb.keypoints) and _same(pa.scores, pb.scores)
            assert _same(pa.head_box, pb.head_box) and _same(pa.box, pb.box)
            assert (pa.track_id, pa.score, pa.extra) == (pb.track_id, pb.score, pb.extra)


def gt_file() -> dict:
    """A PoseTrack21 ground-truth file as the release writes it (two frames, one labeled)."""
    kp = [0.0] * 51
    kp[0:3] = [512.5, 300.25, 1]  # nose
    kp[15:18] = [480, 350, 0]  # left shoulder, occluded
    return {
        "images": [
            {"is_labeled": False, "nframes": 2, "frame_id": 10000010000, "id": 10000010000,
             "vid_id": "000001", "file_name": f"images/train/{NAME}/000000.jpg",
             "has_labeled_person": False, "ignore_regions_x": [], "ignore_regions_y": []},
            {"is_labeled": True, "nframes": 2, "frame_id": 10000010001, "id": 10000010001,
             "vid_id": "000001", "file_name": f"images/train/{NAME}/000001.jpg",
             "has_labeled_person": True, "ignore_regions_x": [[0, 100.5, 100, 0]],
             "ignore_regions_y": [[0, 0, 80, 80]]}],
        "annotations": [
            {"bbox": [450.1, 280, 120, 300.3], "bbox_head": [495.3, 270.1, 40.7, 45.9],
             "category_id": 1, "image_id": 10000010001, "id": 1000001000100,
             "keypoints": kp, "person_id": 1024, "track_id": 0},
            {"bbox": [10, 20, 30, 90], "bbox_head": [12, 20, 10, 12], "category_id": 1,
             "image_id": 10000010001, "id": 1000001000101, "keypoints": [0] * 51,
             "person_id": 1025, "track_id": 1}],
        "categories": [copy.deepcopy(pt.DEFAULT_CATEGORY)],
    }


def prediction_file() -> dict:
    """A submission as the PoseTrack21 docs describe it: images, keypoints and scores only."""
    return {"images": [{"file_name": f"images/train/{NAME}/000000.jpg", "id": 10000010000,
                        "frame_id": 10000010000}],
            "annotations": [{"image_id": 10000010000, "keypoints": [1.5] * 51,
                             "scores": [0.5] * 17, "track_id": 123456, "person_id": 7}]}


def test_ground_truth_file_reads_and_writes_back_to_the_same_json(tmp_path):
    path = tmp_path / f"{NAME}.json"
    path.write_text(json.dumps(gt_file()))
    seq = pt21.read_sequence(path)
    assert seq.name == NAME and [f.is_labeled for f in seq.frames] == [False, True]
    person = seq.frames[1].people[0]
    # 495.3 + 40.7 - 495.3 != 40.7 in floats: the file's own head box is kept to write back.
    assert person.track_id == 0
    assert person.extra == {"person_id": 1024, "bbox_head": [495.3, 270.1, 40.7, 45.9]}
    assert seq.frames[1].people[1].extra == {"person_id": 1025}
    assert person.keypoints[joints.JOINT_NAMES.index("left_shoulder")].tolist() == [480, 350, 0]
    assert person.head_box.tolist() == [495.3, 270.1, 495.3 + 40.7, 270.1 + 45.9]
    assert seq.frames[1].ignore_regions[0].tolist() == [[0, 0], [100.5, 0], [100, 80], [0, 80]]
    assert seq.frames[0].extra == {"has_labeled_person": False}
    assert pt21.sequence_to_json(seq) == gt_file()
    pt21.write_sequence(seq, tmp_path / "out" / f"{NAME}.json")
    assert json.loads((tmp_path / "out" / f"{NAME}.json").read_text()) == gt_file()


def test_prediction_file_gets_what_the_kit_reads(tmp_path):
    seq = pt21.sequence_from_json(prediction_file(), "pred.json")
    assert seq.name == NAME and seq.frames[0].people[0].track_id == 123456  # beyond poseval's
    written = pt21.sequence_to_json(seq)
    image = written["images"][0]
    assert image["frame_id"] == image["id"] == 10000010000
    assert image["ignore_regions_x"] == image["ignore_regions_y"] == []
    assert image["is_labeled"] is True and image["nframes"] == 1 and image["vid_id"] == "000001"
    ann = written["annotations"][0]
    assert ann["scores"] == [0.5] * 17 and ann["person_id"] == 7 and ann["track_id"] == 123456
    assert_sequences_equal(seq, pt21.sequence_from_json(written, "again.json"))


def test_people_without_scores_are_written_without_the_field():
    seq = pt21.sequence_from_json(gt_file(), "gt.json")
    assert all("scores" not in a for a in pt21.sequence_to_json(seq)["annotations"])


def test_is_posetrack21():
    assert pt21.is_posetrack21(gt_file()) and pt21.is_posetrack21(prediction_file())
    plain = prediction_file()
    del plain["annotations"][0]["person_id"]
    assert not pt21.is_posetrack21(plain) and not pt21.is_posetrack21([1])


def test_folder_reading_is_sorted_and_names_sequences_by_file_stem(tmp_path):
    for name in ("b", "a"):
        (tmp_path / f"{name}.json").write_text(json.dumps(gt_file()))
    (tmp_path / "notes.txt").write_text("x")
    assert [s.name for s in pt21.read_sequences(tmp_path)] == ["a", "b"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .json"):
        pt21.read_sequences(tmp_path / "empty")
    with pytest.raises(DataError, match="not found"):
        pt21.read_sequences(tmp_path / "missing.json")


def test_write_sequences_refuses_duplicate_names_and_a_failed_write_keeps_the_old_file(
        tmp_path):
    seq = pt21.sequence_from_json(gt_file(), "gt.json")
    with pytest.raises(DataError, match="two sequences"):
        pt21.write_sequences([seq, seq], tmp_path)
    path = pt21.write_sequences([seq], tmp_path)[0]
    before = path.read_bytes()
    seq.frames[1].people[0].keypoints[0, 0] = math.nan
    with pytest.raises(DataError, match="frame 1.*person 0.*keypoints"):
        pt21.write_sequence(seq, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]


def _edit(mutate) -> dict:
    data = gt_file()
    mutate(data)
    return data


def _second_video(d: dict) -> None:
    d["images"][0]["file_name"] = "images/train/000002_bonn_train/000000.jpg"


BAD = {
    "negative_track_id": (lambda d: d["annotations"][0].__setitem__("track_id", -1),
                          "frame 1.*person 0.*track_id.*integer in"),
    "fractional_track_id": (lambda d: d["annotations"][1].__setitem__("track_id", 0.5),
                            "person 1.*track_id"),
    "duplicate_track_id": (lambda d: d["annotations"][1].__setitem__("track_id", 0),
                           "frame 1.*track_id.*unique"),
    "text_person_id": (lambda d: d["annotations"][0].__setitem__("person_id", "a"),
                       "person 0.*person_id.*integer"),
    "short_keypoints": (lambda d: d["annotations"][1]["keypoints"].pop(),
                        "person 1.*keypoints.*51"),
    "nan_keypoint": (lambda d: d["annotations"][0]["keypoints"].__setitem__(4, math.nan),
                     "keypoints.*finite"),
    "unknown_image": (lambda d: d["annotations"][0].__setitem__("image_id", 3),
                      "annotation 0.*image_id"),
    "duplicate_image_id": (lambda d: d["images"][0].__setitem__("id", 10000010001),
                           "frame 1.*'id'.*unique"),
    "short_head_box": (lambda d: d["annotations"][0].__setitem__("bbox_head", [1, 2, 3]),
                       "bbox_head.*4 numbers"),
    "ragged_regions": (lambda d: d["images"][1]["ignore_regions_y"][0].pop(),
                       "frame 1.*ignore_regions_y"),
    "two_videos": (_second_video, "2 videos"),
    "no_images": (lambda d: d.pop("images"), "unknown layout"),
    "empty_images": (lambda d: d.__setitem__("images", []), "empty sequence"),
    "annotations_not_a_list": (lambda d: d.__setitem__("annotations", {}),
                               "annotations.*a list"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_raises_one_line_naming_file_frame_and_field(name, tmp_path):
    mutate, pattern = BAD[name]
    path = tmp_path / f"{NAME}.json"
    path.write_text(json.dumps(_edit(mutate)))
    with pytest.raises(DataError, match=pattern) as info:
        pt21.read_sequences(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("text", ['{"images": [', "[1, 2]", ""])
def test_malformed_files(text, tmp_path):
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(DataError, match="malformed JSON|top level"):
        pt21.read_sequence(path)


# --- hypothesis: sequences -> file -> sequences, and files -> sequences -> files -------------

_coord = st.floats(-1e4, 1e4, allow_nan=False, width=64)
#: Head-box corners on a quarter-pixel grid: [x, y, w, h] <-> corners is exact there (a box
#: is held as corners, so arbitrary floats can round in the last bit going through w, h).
_quarter = st.integers(-4000, 4000).map(lambda v: v / 4)


@st.composite
def _person(draw, track_id: int) -> Person:
    kp = np.array(draw(st.lists(_coord, min_size=51, max_size=51))).reshape(17, 3)
    kp[draw(st.lists(st.integers(0, 16), max_size=6))] = 0.0
    scores = draw(st.none() | st.lists(_coord, min_size=17, max_size=17).map(np.array))
    x, y, w, h = (draw(_quarter) for _ in range(4))
    head = draw(st.none() | st.just(np.array([x, y, x + w, y + h])))
    box = draw(st.none() | st.lists(_coord, min_size=4, max_size=4).map(np.array))
    score = draw(st.none() | _coord)
    extra = draw(st.sampled_from([{}, {"person_id": draw(st.integers(-1, 10**6))}]))
    return Person(keypoints=kp, track_id=track_id, scores=scores, head_box=head, box=box,
                  score=score, extra=extra)


@st.composite
def _sequence(draw) -> Sequence:
    frames = []
    for t in range(draw(st.integers(1, 3))):
        ids = draw(st.lists(st.integers(0, 2**31 - 1), max_size=3, unique=True))
        regions = [np.array(draw(st.lists(st.tuples(_coord, _coord), min_size=3, max_size=5)))
                   for _ in range(draw(st.integers(0, 2)))]
        frames.append(Frame(
            file_name=f"images/val/{NAME}/{t:06d}.jpg", frame_index=t,
            is_labeled=draw(st.booleans()), people=[draw(_person(i)) for i in ids],
            ignore_regions=regions, image_id=10_000_010_000 + t,
            extra=draw(st.sampled_from([{}, {"has_labeled_person": True}]))))
    return Sequence(name=NAME, frames=frames)


@settings(max_examples=60, deadline=None, suppress_health_check=_SLOW_OK)
@given(seq=_sequence())
def test_sequences_round_trip_through_files(seq, tmp_path):
    path = tmp_path / f"{NAME}.json"
    pt21.write_sequence(seq, path)
    assert_sequences_equal(seq, pt21.read_sequence(path))


@settings(max_examples=60, deadline=None, suppress_health_check=_SLOW_OK)
@given(seq=_sequence(), heads=st.lists(st.lists(_coord, min_size=4, max_size=4), min_size=9,
                                        max_size=9))
def test_files_round_trip_through_sequences(seq, heads):
    data = pt21.sequence_to_json(seq)
    for ann, head in zip(data["annotations"], heads, strict=False):
        ann["bbox_head"] = head  # arbitrary [x, y, w, h]: kept as written
    again = pt21.sequence_to_json(pt21.sequence_from_json(copy.deepcopy(data), "f.json"))
    assert again == data


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=2),
    max_leaves=4)


@st.composite
def _edited(draw) -> str:
    """The GT file with one value replaced or deleted somewhere."""
    data = gt_file()
    parent, key, node = None, None, data
    while isinstance(node, (dict, list)) and node and draw(st.integers(0, 4)) > 0:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, keys[draw(st.integers(0, len(keys) - 1))]
        node = node[key]
    if parent is None:
        return json.dumps(draw(_JSON_VALUES))
    if draw(st.booleans()):
        del parent[key]
    else:
        parent[key] = draw(_JSON_VALUES)
    return json.dumps(data)


@settings(max_examples=100, deadline=None, suppress_health_check=_SLOW_OK)
@given(text=_edited())
def test_random_edits_load_and_round_trip_or_raise_one_line_data_error(text, tmp_path):
    path = tmp_path / f"{NAME}.json"
    path.write_text(text)
    try:
        seq = pt21.read_sequence(path)
    except DataError as e:
        assert "\n" not in str(e)
        return
    try:
        pt21.write_sequence(seq, tmp_path / "out.json")
    except DataError as e:  # e.g. non-finite numbers in extras
        assert "\n" not in str(e)
        return
    back = pt21.read_sequence(tmp_path / "out.json")
    back.name = seq.name
    assert_sequences_equal(seq, back)
