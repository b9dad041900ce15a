"""TFDS builders without TensorFlow: synthetic, PoseTrack 2017/2018 and PoseTrack21 frame records
(`frame_records`), the index (`sequence_index`)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from gnnpose_jax.data import frame_records, pipeline, posetrack
from gnnpose_jax.data import posetrack21 as pt21
from gnnpose_jax.data import tfds_posetrack as tp
from gnnpose_jax.data.folders import SPLITS
from gnnpose_jax.data.sequence_index import load_index
from gnnpose_jax.errors import DataError

SEQUENCES = ("003418_mpii_test", "009473_mpii_test", "012834_mpii_test")


def _manual_folder(samples: Path, root: Path) -> Path:
    """A PoseTrack 2018 manual folder made of the shared samples (train: one val sequence)."""
    (root / "annotations" / "val").mkdir(parents=True)
    (root / "annotations" / "train").mkdir()
    (root / "detections").mkdir()
    (root / "images").symlink_to(samples / "images", target_is_directory=True)
    for name in SEQUENCES:
        (root / "annotations" / "val" / f"{name}.json").write_bytes(
            (samples / "annotations" / "val" / f"{name}.json").read_bytes())
    (root / "annotations" / "train" / f"{SEQUENCES[0]}.json").write_bytes(
        (samples / "annotations" / "val" / f"{SEQUENCES[0]}.json").read_bytes())
    (root / "detections" / "val.json").write_bytes(
        (samples / "annotations" / "test_posetrack18_human_detections.json").read_bytes())
    return root


_BUILD_SCRIPT = textwrap.dedent("""
    import json, sys
    from gnnpose_jax.data import pipeline, tfds_posetrack as tp
    from gnnpose_jax.data.sequence_index import load_index
    synthetic = tp.prepare(tp.SyntheticPosetrack, sys.argv[1], config="tiny")
    real = tp.prepare(tp.Posetrack18, sys.argv[2], manual_dir=sys.argv[3])
    counts = {}
    for name, builder in (("synthetic", synthetic), ("posetrack18", real)):
        for split, source in builder.as_data_source().items():
            records = [source[i] for i in range(len(source))]
            counts[f"{name}/{split}"] = len(records)
            load_index(builder, split)
    frames = pipeline.tfds_source(synthetic, "train")
    frames.image(frames[0])
    print(json.dumps({"tensorflow": "tensorflow" in sys.modules, "counts": counts}))
""")


@pytest.fixture(scope="module")
def built(tmp_path_factory, samples_dir):
    """Builds the tiny synthetic and the sample PoseTrack 2018 datasets in a fresh process.

    That process reads every record and an image through the pipeline, with a TensorFlow on
    its path that raises if imported, and reports whether `tensorflow` is in `sys.modules`.
    """
    tmp = tmp_path_factory.mktemp("tfds")
    manual = _manual_folder(samples_dir, tmp / "manual")
    # A poisoned TensorFlow on the path: as if installed, failing loudly if ever imported.
    (tmp / "poison" / "tensorflow").mkdir(parents=True)
    (tmp / "poison" / "tensorflow" / "__init__.py").write_text(
        'raise RuntimeError("tensorflow was imported")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp / "poison"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run(
        [sys.executable, "-c", _BUILD_SCRIPT, str(tmp / "synthetic"), str(tmp / "pt18"),
         str(manual)], capture_output=True, text=True, timeout=300, env=env,
        cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    synthetic = tp.SyntheticPosetrack(data_dir=str(tmp / "synthetic"), config="tiny",
                                      file_format="array_record")
    real = tp.Posetrack18(data_dir=str(tmp / "pt18"), file_format="array_record")
    return {"summary": summary, "synthetic": synthetic, "pt18": real, "manual": manual,
            "tmp": tmp}


def test_build_and_read_never_import_tensorflow(built):
    summary = built["summary"]
    assert summary["tensorflow"] is False
    # tiny: 2 train videos and 1 val video of 8 frames; the samples: 1 train and 3 val frames.
    assert summary["counts"] == {"synthetic/train": 16, "synthetic/val": 8,
                                 "posetrack18/train": 1, "posetrack18/val": 3}


@pytest.mark.parametrize("split", ["train", "val"])
def test_synthetic_records_follow_the_annotations(built, split):
    builder = built["synthetic"]
    source = builder.as_data_source()[split]
    world = Path(builder.data_dir) / tp.SyntheticPosetrack.WORLD
    seqs = posetrack.read_sequences(world / "annotations" / split)
    frames = [(s.name, f) for s in seqs for f in sorted(s.frames, key=lambda f: f.frame_index)]
    assert len(source) == len(frames)
    detections = posetrack.read_detections(world / "detections" / f"{split}.json")
    for i, (name, frame) in enumerate(frames):
        record = source[i]
        assert record["sequence"] == name.encode() and record["frame_index"] == frame.frame_index
        assert record["image"] == frame.file_name.encode()
        assert (world / frame.file_name).is_file()
        people = record["people"]
        assert people["count"] == len(frame.people)
        for slot, person in enumerate(frame.people):
            np.testing.assert_allclose(people["keypoints"][slot], person.keypoints, atol=1e-3)
            assert people["track_id"][slot] == person.track_id
            np.testing.assert_allclose(people["box"][slot], person.box, atol=1e-3)
        assert not people["keypoints"][len(frame.people):].any()
        assert (people["track_id"][len(frame.people):] == frame_records.NO_TRACK).all()
        dets = detections.get(frame.image_id, np.zeros((0, 5)))
        assert record["detections"]["count"] == len(dets)
        np.testing.assert_allclose(record["detections"]["boxes"][: len(dets)], dets, atol=1e-3)


def test_tfds_records_equal_folder_records(built):
    builder = built["synthetic"]
    tfds_frames = pipeline.tfds_source(builder, "train")
    folder = pipeline.folder_source(Path(builder.data_dir) / tp.SyntheticPosetrack.WORLD, "train",
                                    builder.builder_config.layout)
    assert len(tfds_frames) == len(folder)
    for i in range(len(folder)):
        a, b = tfds_frames[i], folder[i]
        for key in ("sequence", "frame_index", "image_id", "image", "is_labeled"):
            assert a[key] == b[key] and type(a[key]) is type(b[key])
        for group in ("people", "detections", "ignore_regions"):
            for key in a[group]:
                np.testing.assert_array_equal(a[group][key], b[group][key])


def test_sequence_index_describes_the_records(built):
    builder = built["synthetic"]
    source = builder.as_data_source()["val"]
    index = load_index(builder, "val")
    assert index.image_root == Path(builder.data_dir) / "world"
    assert sorted(r for rs in index.sequences.values() for r in rs) == list(range(len(source)))
    for name, records in index.sequences.items():
        frame_numbers = [source[r]["frame_index"] for r in records]
        assert frame_numbers == sorted(frame_numbers)
        assert all(source[r]["sequence"] == name.encode() for r in records)
    for r in range(len(source)):
        people = source[r]["people"]
        count = people["count"]
        joints = np.any(people["keypoints"][:count] != 0, axis=-1).sum(axis=-1)
        assert index.people[r] == list(zip(people["track_id"][:count].tolist(),
                                           joints.tolist(), strict=True))
        assert index.frame_index[r] == source[r]["frame_index"]


def test_posetrack18_records_hold_the_files_contents(built, samples_dir):
    builder = built["pt18"]
    source = builder.as_data_source()["val"]
    index = load_index(builder, "val")
    assert list(index.sequences) == list(SEQUENCES)
    raw = json.loads((samples_dir / "annotations" / "val" / f"{SEQUENCES[2]}.json").read_text())
    record = source[index.sequences[SEQUENCES[2]][0]]
    assert record["image_id"] == raw["images"][0]["id"] == 10128340000
    assert (index.image_root / record["image"].decode()).is_file()
    assert record["people"]["count"] == len(raw["annotations"]) == 11
    for slot, ann in enumerate(raw["annotations"]):
        np.testing.assert_allclose(record["people"]["keypoints"][slot],
                                   np.reshape(ann["keypoints"], (17, 3)), atol=1e-3)
        assert record["people"]["track_id"][slot] == ann["track_id"]
        x, y, w, h = ann["bbox_head"]
        np.testing.assert_allclose(record["people"]["head_box"][slot], [x, y, x + w, y + h],
                                   atol=1e-3)
        np.testing.assert_allclose(record["people"]["box"][slot], ann["bbox"], atol=1e-3)
    dets = json.loads((samples_dir / "annotations" /
                       "test_posetrack18_human_detections.json").read_text())
    mine = [d["bbox"] + [d["score"]] for d in dets if d["image_id"] == record["image_id"]]
    assert record["detections"]["count"] == len(mine)
    np.testing.assert_allclose(record["detections"]["boxes"][: len(mine)], mine, rtol=1e-6)
    assert builder.as_data_source()["train"][0]["detections"]["count"] == 0


def test_posetrack17_gives_the_same_people(built, tmp_path):
    manual = tmp_path / "manual17"
    (manual / "images").mkdir(parents=True)
    for split in SPLITS:
        seqs = posetrack.read_sequences(built["manual"] / "annotations" / split)
        posetrack.write_sequences(seqs, manual / "annotations" / split, fmt="2017")
    builder = tp.prepare(tp.Posetrack17, tmp_path / "pt17", manual_dir=manual)
    ours, ref = builder.as_data_source()["val"], built["pt18"].as_data_source()["val"]
    assert len(ours) == len(ref)
    for i in range(len(ref)):
        a, b = ours[i]["people"], ref[i]["people"]
        assert a["count"] == b["count"]
        np.testing.assert_array_equal(a["track_id"], b["track_id"])
        np.testing.assert_allclose(a["keypoints"][..., :2], b["keypoints"][..., :2], atol=1e-3)


def _nothing_written(data_dir: Path) -> bool:
    """Whether the data folder holds no file at all."""
    return not data_dir.exists() or not any(p.is_file() for p in data_dir.rglob("*"))


def test_missing_manual_folder_is_one_line_and_writes_nothing(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as err:
        tp.prepare(tp.Posetrack18, tmp_path / "data", manual_dir=missing)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
    assert _nothing_written(tmp_path / "data")


def test_missing_split_folder_names_it(built, tmp_path):
    manual = tmp_path / "manual"
    (manual / "annotations" / "val").mkdir(parents=True)
    (manual / "images").mkdir()
    with pytest.raises(DataError, match=str(manual / "annotations" / "train")):
        tp.prepare(tp.Posetrack18, tmp_path / "data", manual_dir=manual)
    assert _nothing_written(tmp_path / "data")


def test_bad_annotations_and_small_layouts_write_nothing(built, tmp_path):
    manual = built["manual"]
    config = tp.PosetrackConfig(name="tight", max_people=4)
    builder = tp.Posetrack18(data_dir=str(tmp_path / "data"), config=config,
                             file_format="array_record")
    with pytest.raises(DataError, match="max_people=4"):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    assert _nothing_written(tmp_path / "data")

    broken = tmp_path / "broken"
    (broken / "annotations" / "train").mkdir(parents=True)
    (broken / "annotations" / "val").mkdir()
    (broken / "images").mkdir()
    (broken / "annotations" / "train" / "000001_mpii_train.json").write_text("{not json")
    (broken / "annotations" / "val" / "000002_mpii_val.json").write_text('{"images": []}')
    with pytest.raises(DataError, match="000001_mpii_train.json"):
        tp.prepare(tp.Posetrack18, tmp_path / "data2", manual_dir=broken)
    assert _nothing_written(tmp_path / "data2")


def _posetrack21_release(root: Path) -> list:
    """A tiny PoseTrack21 release in `root`: the varied fixture's GT (4 videos of 13 frames,
    person ids, ignore regions, box-only people) in posetrack_data/val, its first video also in
    posetrack_data/train, and a 24 x 32 JPEG for every frame. Returns the val sequences."""
    varied = Path(__file__).resolve().parents[1] / "fixtures" / "pt21" / "varied"
    seqs = pt21.read_sequences(varied / "gt")
    pt21.write_sequences(seqs, root / "posetrack_data" / "val")
    pt21.write_sequences(seqs[:1], root / "posetrack_data" / "train")
    for frame in (f for s in seqs for f in s.frames):
        (root / frame.file_name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / frame.file_name), np.full((24, 32, 3), frame.frame_index, np.uint8))
    return seqs


def test_posetrack21_records_hold_the_release(tmp_path):
    seqs = _posetrack21_release(tmp_path / "release")
    builder = tp.prepare(tp.Posetrack21, tmp_path / "data", manual_dir=tmp_path / "release")
    assert builder.name == "posetrack21"
    frames = pipeline.tfds_source(builder, "val")
    assert len(builder.as_data_source()["train"]) == 13
    assert list(frames.index.sequences) == [s.name for s in seqs]
    records = [frames[i] for i in range(len(frames))]
    assert len(records) == 52
    for record, (name, frame) in zip(records, [(s.name, f) for s in seqs for f in s.frames],
                                     strict=True):
        assert record["sequence"] == name.encode() and record["image_id"] == frame.image_id
        assert record["is_labeled"] == frame.is_labeled
        people = record["people"]
        assert people["count"] == len(frame.people)
        for slot, person in enumerate(frame.people):
            np.testing.assert_allclose(people["keypoints"][slot], person.keypoints, atol=1e-3)
            np.testing.assert_allclose(people["box"][slot], person.box, atol=1e-3)
            np.testing.assert_allclose(people["head_box"][slot], person.head_box, atol=1e-3)
            assert people["track_id"][slot] == person.track_id
        polygons = frame_records.ignore_polygons(record)
        assert len(polygons) == len(frame.ignore_regions)
        for got, want in zip(polygons, frame.ignore_regions, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-3)
    assert any(r["ignore_regions"]["count"] for r in records)
    # Box-only people (no joints) of unlabeled frames are kept, as the release has them.
    assert any(not r["is_labeled"] and r["people"]["count"] for r in records)
    assert records[0]["image_id"] == 10000100000
    assert frames.image(records[5])[0, 0].tolist() == [5, 5, 5]


def test_posetrack21_needs_the_release_layout(tmp_path):
    release = tmp_path / "release"
    _posetrack21_release(release)
    (release / "posetrack_data" / "train").rename(release / "train")
    with pytest.raises(DataError, match=str(release / "posetrack_data" / "train")):
        tp.prepare(tp.Posetrack21, tmp_path / "data", manual_dir=release)
    assert _nothing_written(tmp_path / "data")
