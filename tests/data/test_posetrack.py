"""PoseTrack 2017/2018 readers and writers: lossless round trips, combined files, bad input."""

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnnpose_jax.data import joints
from gnnpose_jax.data import posetrack as pt
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import DataError

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared/data/posetrack18_samples"
ANNOTATIONS = SAMPLES / "annotations"
SAMPLE_FILES = sorted((ANNOTATIONS / "val").glob("*.json"))
COMBINED = ANNOTATIONS / "test_posetrack18_val.json"
DETECTIONS = ANNOTATIONS / "test_posetrack18_human_detections.json"

pytestmark = pytest.mark.skipif(not SAMPLE_FILES, reason="shared PoseTrack samples missing")


def _same_array(a, b) -> bool:
    """Both None, or equal arrays."""
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(np.asarray(a), np.asarray(b))


def assert_people_equal(a: Person, b: Person, slots=None) -> None:
    """Field-by-field equality; `slots` restricts keypoints/scores to those slots."""
    s = slice(None) if slots is None else slots
    assert np.array_equal(a.keypoints[s], b.keypoints[s])
    if a.scores is None or b.scores is None:
        assert a.scores is None and b.scores is None
    else:
        present = a.present[s]
        assert np.array_equal(a.scores[s][present], b.scores[s][present])
    assert a.track_id == b.track_id
    assert _same_array(a.head_box, b.head_box) and _same_array(a.box, b.box)
    assert a.score == b.score and a.extra == b.extra


def assert_sequences_equal(a: Sequence, b: Sequence, slots=None) -> None:
    """Deep equality of two sequences (numpy-aware)."""
    assert a.name == b.name and a.extra == b.extra and len(a.frames) == len(b.frames)
    for fa, fb in zip(a.frames, b.frames, strict=True):
        assert (fa.file_name, fa.frame_index, fa.is_labeled, fa.image_id, fa.extra) == (
            fb.file_name, fb.frame_index, fb.is_labeled, fb.image_id, fb.extra)
        assert len(fa.ignore_regions) == len(fb.ignore_regions)
        for ra, rb in zip(fa.ignore_regions, fb.ignore_regions, strict=True):
            assert np.array_equal(ra, rb)
        assert len(fa.people) == len(fb.people)
        for pa, pb in zip(fa.people, fb.people, strict=True):
            assert_people_equal(pa, pb, slots)


def _predicted_sequence() -> Sequence:
    """A prediction-like sequence: 17 slots (ears too), scores, boxes, person scores."""
    rng = np.random.default_rng(0)
    frames = []
    for t in range(3):
        people = []
        for k in range(2):
            kp = np.concatenate([rng.uniform(1, 500, (17, 2)).round(3), np.ones((17, 1))], 1)
            kp[rng.random(17) < 0.2] = 0.0
            people.append(Person(keypoints=kp, track_id=7 * k + t, scores=rng.random(17),
                                 head_box=np.array([10.0, 20.0, 40.5, 61.25]),
                                 box=np.array([5.0, 6.0, 100.0, 200.0]), score=0.75))
        frames.append(Frame(file_name=f"images/val/000342_mpii_test/{t:06d}.jpg",
                            frame_index=t, is_labeled=True, people=people,
                            ignore_regions=[np.array([[0.0, 0], [10, 0], [10, 10.5]])]))
    return Sequence(name="000342_mpii_test", frames=frames)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_2018_sample_writes_back_to_the_same_json(path):
    seq = pt.read_sequence(path)
    assert seq.name == path.stem and seq.frames[0].people
    assert pt.sequence_to_json(seq, "2018") == json.loads(path.read_text())


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("fmt", ["2018", "2017"])
def test_read_write_read_is_identical(path, fmt, tmp_path):
    seq = pt.read_sequence(path)
    pt.write_sequence(seq, tmp_path / path.name, fmt=fmt)
    assert_sequences_equal(seq, pt.read_sequence(tmp_path / path.name))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_2018_to_2017_to_2018_keeps_the_whole_file(path, tmp_path):
    pt.write_sequence(pt.read_sequence(path), tmp_path / "a.json", fmt="2017")
    assert "annolist" in json.loads((tmp_path / "a.json").read_text())
    back = pt.read_sequences(tmp_path / "a.json")[0]
    back.name = path.stem
    assert pt.sequence_to_json(back, "2018") == json.loads(path.read_text())


def test_2017_holds_the_15_joints_and_everything_else_but_the_ears(tmp_path):
    seq = _predicted_sequence()
    pt.write_sequence(seq, tmp_path / f"{seq.name}.json", fmt="2017")
    back = pt.read_sequence(tmp_path / f"{seq.name}.json")
    assert_sequences_equal(seq, back, slots=joints.EVAL_SLOTS)
    ears = list(joints.UNANNOTATED_SLOTS)
    assert not back.frames[0].people[0].keypoints[ears].any()


def test_combined_file_splits_into_the_same_sequences_as_the_folder():
    folder = {s.name: s for s in pt.read_sequences(ANNOTATIONS / "val")}
    combined = pt.read_sequences(COMBINED)
    assert sorted(s.name for s in combined) == sorted(folder)
    for seq in combined:
        assert_sequences_equal(seq, folder[seq.name])


def test_read_sequence_refuses_a_combined_file():
    with pytest.raises(DataError, match="3 videos"):
        pt.read_sequence(COMBINED)


def test_2018_file_with_15_named_keypoints_in_2017_order(tmp_path):
    seq = pt.read_sequence(SAMPLE_FILES[0])
    data = json.loads(SAMPLE_FILES[0].read_text())
    data["categories"][0]["keypoints"] = list(joints.POSETRACK17_NAMES)
    for ann in data["annotations"]:
        kp = np.reshape(ann["keypoints"], (17, 3))
        ann["keypoints"] = kp[joints.POSETRACK17_TO_SLOT].ravel().tolist()
    (tmp_path / "x.json").write_text(json.dumps(data))
    other = pt.read_sequence(tmp_path / "x.json")
    assert np.array_equal(other.frames[0].people[0].keypoints, seq.frames[0].people[0].keypoints)


def test_2017_points_without_visibility_or_score():
    data = {"annolist": [{"image": [{"name": "images/val/000001_bonn_x/000004.jpg"}],
                          "annorect": [{"track_id": [3], "x1": [1], "y1": [2], "x2": [5],
                                        "y2": [8], "annopoints": [{"point": [
                                            {"id": [13], "x": [10.5], "y": [20],
                                             "score": [0.25]},
                                            {"id": [0], "x": [30], "y": [40]}]}]}]}]}
    seq = pt.sequences_from_json(data, "mem.json", single_name="s")[0]
    person = seq.frames[0].people[0]
    assert seq.frames[0].frame_index == 4 and seq.frames[0].is_labeled
    nose, ankle = joints.JOINT_NAMES.index("nose"), joints.JOINT_NAMES.index("right_ankle")
    assert person.keypoints[nose].tolist() == [10.5, 20.0, 1.0]
    assert person.scores[nose] == 0.25 and person.scores[ankle] == pt.MIN_SCORE
    assert person.head_box.tolist() == [1.0, 2.0, 5.0, 8.0]


def test_official_image_id_and_name_checks():
    assert pt.official_image_id("images/val/000342_mpii_test/000010.jpg") == 10003420010
    assert pt.official_image_id("images/val/000342_mpiinew/000010.jpg") == 30003420010
    assert pt.official_image_id("images/val/clip/000010.jpg") is None
    assert pt.official_image_id("images/val/000342_mpii_test/010000.jpg") is None
    seq = _predicted_sequence()
    seq.frames[1].file_name = "images/val/000343_mpii_test/000001.jpg"
    with pytest.raises(DataError, match="2 image folders"):
        pt.sequence_to_json(seq, "2018")
    for t, frame in enumerate(seq.frames):
        frame.file_name = f"frames/clip/{t:06d}.jpg"
    with pytest.raises(DataError, match="poseval-readable"):
        pt.sequence_to_json(seq, "2018")
    assert pt.sequence_to_json(seq, "2018", check_official=False)["images"][1]["id"] == 1


def test_written_2018_prediction_has_what_poseval_needs(tmp_path):
    seq = _predicted_sequence()
    data = pt.sequence_to_json(seq, "2018")
    assert data["categories"] == [pt.DEFAULT_CATEGORY]
    ids = {img["id"] for img in data["images"]}
    assert all(a["image_id"] in ids and "track_id" in a and len(a["keypoints"]) == 51
               and len(a["scores"]) == 17 for a in data["annotations"])
    assert data["images"][0]["id"] == pt.official_image_id(seq.frames[0].file_name)


def test_detections_round_trip(tmp_path):
    dets = pt.read_detections(DETECTIONS)
    raw = json.loads(DETECTIONS.read_text())
    assert sum(len(v) for v in dets.values()) == len(raw)
    first = raw[0]
    assert dets[first["image_id"]][0].tolist() == [*first["bbox"], first["score"]]
    pt.write_detections(dets, tmp_path / "d.json")
    again = pt.read_detections(tmp_path / "d.json")
    assert dets.keys() == again.keys()
    assert all(np.array_equal(dets[k], again[k]) for k in dets)
    pt.write_detections(raw, tmp_path / "e.json")
    assert json.loads((tmp_path / "e.json").read_text()) == raw


def test_failed_write_keeps_the_old_file(tmp_path):
    seq = _predicted_sequence()
    path = tmp_path / "s.json"
    pt.write_sequence(seq, path)
    before = path.read_bytes()
    seq.frames[0].people[0].keypoints[0, 0] = np.nan
    with pytest.raises(DataError, match="keypoints"):
        pt.write_sequence(seq, path)
    seq.frames[0].people[0].keypoints[0, 0] = 1.0
    seq.extra["note"] = math.inf
    with pytest.raises(DataError, match="non-finite"):
        pt.write_sequence(seq, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def _sample() -> dict:
    """The two-person sample file as JSON."""
    return json.loads((ANNOTATIONS / "val/009473_mpii_test.json").read_text())


def _edit(mutate):
    """A copy of the sample with `mutate(data)` applied."""
    data = _sample()
    mutate(data)
    return data


BAD_2018 = {
    "keypoints_too_short": (lambda d: d["annotations"][1]["keypoints"].pop(),
                            "person 1.*keypoints.*51"),
    "nan_coordinate": (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, math.nan),
                       "person 0.*keypoints.*finite"),
    "string_coordinate": (lambda d: d["annotations"][0]["keypoints"].__setitem__(3, "1"),
                          "keypoints.*finite"),
    "non_integer_track_id": (lambda d: d["annotations"][0].__setitem__("track_id", 1.5),
                             "track_id.*integer"),
    "track_id_out_of_range": (lambda d: d["annotations"][0].__setitem__("track_id", 10000),
                              "track_id.*10000"),
    "duplicate_track_id": (lambda d: d["annotations"][1].__setitem__("track_id", 0),
                           "track_id.*unique"),
    "missing_track_id": (lambda d: d["annotations"][1].pop("track_id"), "track_id"),
    "unknown_image": (lambda d: d["annotations"][0].__setitem__("image_id", 5),
                      "annotation 0.*image_id"),
    "no_images": (lambda d: d.__setitem__("images", []), "empty sequence"),
    "unknown_layout": (lambda d: d.pop("images"), "unknown layout"),
    "bad_head_box": (lambda d: d["annotations"][0].__setitem__("bbox_head", [1, 2]),
                     "bbox_head.*4 numbers"),
    "ragged_ignore_regions": (lambda d: d["images"][0]["ignore_regions_y"].pop(),
                              "ignore_regions_y"),
    "categories_without_head_top": (
        lambda d: d["categories"][0]["keypoints"].__setitem__(2, "right_eye"), "head_top"),
}


@pytest.mark.parametrize("name", sorted(BAD_2018))
def test_bad_2018_input_raises_one_line_naming_file_frame_and_field(name, tmp_path):
    mutate, pattern = BAD_2018[name]
    path = tmp_path / "000001_mpii_test.json"
    path.write_text(json.dumps(_edit(mutate)))
    with pytest.raises(DataError, match=pattern) as info:
        pt.read_sequences(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message


BAD_2017 = {
    "point_id_out_of_range": ({"id": [15], "x": [1], "y": [1]}, "point.id"),
    "point_without_x": ({"id": [1], "y": [1]}, "point.x"),
    "duplicate_point_id": ({"id": [13], "x": [1], "y": [1]}, "point.id"),
}


@pytest.mark.parametrize("name", sorted(BAD_2017))
def test_bad_2017_input(name):
    point, pattern = BAD_2017[name]
    data = {"annolist": [{"image": [{"name": "images/000001_bonn/000000.jpg"}],
                          "annorect": [{"track_id": [0], "annopoints": [{"point": [
                              {"id": [13], "x": [5], "y": [5]}, point]}]}]}]}
    with pytest.raises(DataError, match=f"frame 0.*person 0.*{pattern}"):
        pt.sequences_from_json(data, "f.json")


@pytest.mark.parametrize("text", ['{"images": [', "{'images': []}", "", "[1, 2"])
def test_truncated_or_malformed_json(text, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DataError, match="malformed JSON"):
        pt.read_sequence(path)


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="not found"):
        pt.read_sequences(tmp_path / "nope.json")
    with pytest.raises(DataError, match="no .json"):
        pt.read_sequences(tmp_path)


# --- property test: random edits of a valid file load or raise DataError, nothing else ------

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**400, 10**400) | st.floats()
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=4)


@st.composite
def _edited(draw, base):
    """A deep copy of `base` with one value replaced, deleted or truncated."""
    data = copy.deepcopy(base)
    parent, key = None, None
    node = data
    while isinstance(node, (dict, list)) and node and draw(st.integers(0, 4)) > 0:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, keys[draw(st.integers(0, len(keys) - 1))]
        node = node[key]
    action = draw(st.sampled_from(["replace", "delete", "truncate"]))
    if parent is None or action == "truncate":
        text = json.dumps(data)
        return text[:draw(st.integers(0, len(text)))]
    if action == "delete":
        del parent[key]
    else:
        parent[key] = draw(_JSON_VALUES)
    return json.dumps(data)


_SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def _check_edit(text: str, tmp_path: Path, fmt: str) -> None:
    """Reading either works (and then round trips) or raises DataError."""
    path = tmp_path / "000001_mpii_test.json"
    path.write_text(text)
    try:
        seqs = pt.read_sequences(path)
    except DataError as e:
        assert "\n" not in str(e)
        return
    for seq in seqs:
        try:
            pt.write_sequence(seq, tmp_path / "out.json", fmt=fmt, check_official=False)
        except DataError:
            continue
        back = pt.read_sequences(tmp_path / "out.json")[0]
        back.name = seq.name  # a frame without a folder names its sequence after the file
        assert_sequences_equal(seq, back)


@settings(max_examples=120, deadline=None, suppress_health_check=_SLOW_OK)
@given(text=st.deferred(lambda: _edited(_sample())))
def test_random_edits_of_a_2018_file_load_or_raise_data_error(text, tmp_path):
    _check_edit(text, tmp_path, "2018")


@settings(max_examples=80, deadline=None, suppress_health_check=_SLOW_OK)
@given(text=st.deferred(lambda: _edited(pt.sequence_to_json(
    pt.read_sequence(ANNOTATIONS / "val/009473_mpii_test.json"), "2017"))))
def test_random_edits_of_a_2017_file_load_or_raise_data_error(text, tmp_path):
    _check_edit(text, tmp_path, "2017")
