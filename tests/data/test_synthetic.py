"""The synthetic world: determinism, a golden record, annotation invariants, real occlusion,
files and CLI."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gnnpose_jax.data import joints, posetrack, synthetic
from gnnpose_jax.data.synthetic import write as synthetic_write
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.errors import DataError, OutputError

ROOT = Path(__file__).resolve().parents[2]
HW = (72, 96)  # (H, W): tiny frames keep the tests fast
FRAMES = 8


def _simulate(seed, number=1, split="train", num_frames=FRAMES, hw=HW, label_every=1):
    """One video in memory, through `iter_video`: its sequence, images and detections."""
    video = list(synthetic.iter_video(np.random.default_rng(seed), number, split, num_frames,
                                      hw, label_every))
    sequence = Sequence(name=synthetic.sequence_name(number, split),
                        frames=[v.frame for v in video])
    return sequence, [v.image for v in video], [d for v in video for d in v.detections]


@pytest.fixture(scope="module")
def many():
    """A larger in-memory world for statistics: 16 videos x 24 frames at 128 x 96."""
    return [_simulate([7, v], number=v + 1, num_frames=24, hw=(96, 128)) for v in range(16)]


def _people_equal(a, b):
    assert a.track_id == b.track_id
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_allclose(a.head_box, b.head_box, atol=1e-9)
    np.testing.assert_allclose(a.box, b.box, atol=1e-9)


def _sequences_equal(a, b):
    assert a.name == b.name
    assert len(a.frames) == len(b.frames)
    for fa, fb in zip(a.frames, b.frames, strict=True):
        assert (fa.file_name, fa.frame_index, fa.is_labeled, fa.image_id) == \
               (fb.file_name, fb.frame_index, fb.is_labeled, fb.image_id)
        assert len(fa.ignore_regions) == len(fb.ignore_regions)
        for ra, rb in zip(fa.ignore_regions, fb.ignore_regions, strict=True):
            np.testing.assert_array_equal(ra, rb)
        assert len(fa.people) == len(fb.people)
        for pa, pb in zip(fa.people, fb.people, strict=True):
            _people_equal(pa, pb)


def test_same_seed_same_video_and_different_seed_differs():
    seq1, imgs1, dets1 = _simulate(3)
    seq2, imgs2, dets2 = _simulate(3)
    _sequences_equal(seq1, seq2)
    assert dets1 == dets2
    for a, b in zip(imgs1, imgs2, strict=True):
        np.testing.assert_array_equal(a, b)
    seq3, imgs3, _ = _simulate(4)
    assert not np.array_equal(imgs1[0], imgs3[0])
    kp1 = [p.keypoints for f in seq1.frames for p in f.people]
    kp3 = [p.keypoints for f in seq3.frames for p in f.people]
    assert len(kp1) != len(kp3) or any(
        not np.array_equal(a, b) for a, b in zip(kp1, kp3, strict=True))


def test_frames_are_rgb_images_of_the_requested_size():
    seq, imgs, _ = _simulate(0, hw=(40, 64))
    assert len(imgs) == len(seq.frames) == FRAMES
    for img in imgs:
        assert img.shape == (40, 64, 3) and img.dtype == np.uint8
        assert img.std() > 5  # textured, not flat


def test_names_and_image_ids_follow_posetrack(many):
    for seq, _, dets in many:
        assert re.fullmatch(r"\d{6}_mpii_train", seq.name)
        number = int(seq.name.split("_")[0])
        for t, frame in enumerate(seq.frames):
            assert frame.frame_index == t
            assert frame.file_name == f"images/train/{seq.name}/{t:06d}.jpg"
            # poseval: type (mpii = 1) * 1e10 + sequence number * 1e4 + frame number.
            assert frame.image_id == 10_000_000_000 + number * 10_000 + t
            assert frame.image_id == posetrack.official_image_id(frame.file_name)
        ids = {f.image_id for f in seq.frames}
        assert {d["image_id"] for d in dets} <= ids


def test_annotation_invariants(many):
    h, w = 96, 128
    checked = 0
    for seq, _, _ in many:
        for frame in seq.frames:
            assert frame.is_labeled
            ids = [p.track_id for p in frame.people]
            assert len(ids) == len(set(ids))
            for person in frame.people:
                kp, present = person.keypoints, person.present
                assert not present[list(joints.UNANNOTATED_SLOTS)].any()
                assert present.sum() >= 1
                assert ((kp[present, 0] >= 0) & (kp[present, 0] < w)).all()
                assert ((kp[present, 1] >= 0) & (kp[present, 1] < h)).all()
                assert set(np.unique(kp[present, 2])) <= {0.0, 1.0}
                x1, y1, x2, y2 = person.head_box
                for k in (0, 1, 2):  # nose, head_bottom, head_top
                    if present[k]:
                        assert x1 <= kp[k, 0] <= x2 and y1 <= kp[k, 1] <= y2
                bx, by, bw, bh = person.box
                assert bw > 0 and bh > 0
                pts = kp[present, :2]
                assert (pts >= [bx - 1, by - 1]).all() and (pts <= [bx + bw + 1, by + bh + 1]).all()
                checked += 1
    assert checked > 200


def test_nothing_is_annotated_inside_ignore_regions():
    # Ignore regions are rare; search seeds until a few videos have one.
    found = 0
    for v in range(60):
        seq, _, _ = _simulate([11, v], num_frames=4, hw=(96, 128))
        regions = seq.frames[0].ignore_regions
        if not regions:
            continue
        found += 1
        assert len(regions) == 1 and regions[0].shape[1] == 2
        contour = regions[0].astype(np.float32).reshape(-1, 1, 2)
        for frame in seq.frames:
            for person in frame.people:
                for x, y, _ in person.keypoints[person.present]:
                    assert cv2.pointPolygonTest(contour, (float(x), float(y)), False) <= 0
        if found == 3:
            break
    assert found == 3


def _iou(a, b):
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_occlusion_is_real_and_costs_detections(many):
    occluded_frac, detected = [], []
    for seq, _, dets in many:
        by_image = {}
        for d in dets:
            by_image.setdefault(d["image_id"], []).append(d["bbox"])
        for frame in seq.frames:
            for person in frame.people:
                present = person.present
                hidden = present & (person.keypoints[:, 2] == 0)
                occluded_frac.append(hidden.sum() / present.sum())
                detected.append(any(_iou(person.box, b) > 0.2
                                     for b in by_image.get(frame.image_id, [])))
    occluded_frac, detected = np.array(occluded_frac), np.array(detected)
    clear, heavy, hidden = occluded_frac == 0, occluded_frac >= 0.5, occluded_frac == 1
    # Occlusion happens: some joints, and some people entirely, are hidden but still annotated.
    assert 0.03 < occluded_frac.mean() < 0.5
    assert hidden.sum() >= 3
    # And it costs the detector: unoccluded people are found, occluded ones often missed.
    assert detected[clear].mean() > 0.85
    assert detected[heavy].mean() < detected[clear].mean() - 0.25
    assert detected[hidden].mean() < 0.3


def test_miss_probability_grows_with_occlusion():
    config = synthetic.WorldConfig()
    assert synthetic.miss_probability(0.0, config) == pytest.approx(0.05)
    assert synthetic.miss_probability(1.0, config) == pytest.approx(0.95)
    assert synthetic.miss_probability(0.25, config) == pytest.approx(0.05 + 0.9 * 0.125)


def test_false_positives_have_low_scores(many):
    # Detections overlapping no annotated person are false positives or crowd members.
    fp_scores, tp_scores = [], []
    for seq, _, dets in many:
        people = {f.image_id: [p.box for p in f.people] for f in seq.frames}
        for d in dets:
            hit = any(_iou(d["bbox"], b) > 0.3 for b in people[d["image_id"]])
            (tp_scores if hit else fp_scores).append(d["score"])
    assert fp_scores and np.median(fp_scores) < np.median(tp_scores)


def test_label_every_labels_every_nth_frame_only():
    seq, _, _ = _simulate(5, split="val", num_frames=9, label_every=4)
    assert [f.is_labeled for f in seq.frames] == [t % 4 == 0 for t in range(9)]
    assert all(not f.people for f in seq.frames if not f.is_labeled)
    assert any(f.people for f in seq.frames if f.is_labeled)
    assert seq.name.endswith("_mpii_val")


def _world(out, seed=1, videos=2, split="val", extra=()):
    synthetic.main(["--out", str(out), "--seed", str(seed), "--videos", str(videos),
                    "--split", split, "--frames", str(FRAMES), "--size", "96x72", *extra])


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


GOLDEN = ROOT / "tests" / "fixtures" / "synthetic_golden.json"


def _world_digest(root, split):
    """What the golden record pins: every annotation and detection, and per-frame image
    statistics (channel means and an 8 x 8 thumbnail of block means)."""
    root = Path(root)
    digest = {"annotations": {}, "images": {},
              "detections": json.loads((root / "detections" / f"{split}.json").read_text())}
    for path in sorted((root / "annotations" / split).glob("*.json")):
        data = json.loads(path.read_text())
        digest["annotations"][path.name] = {k: data[k] for k in ("images", "annotations")}
    for path in sorted((root / "images" / split).rglob("*.jpg")):
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.int64)
        h, w = rgb.shape[:2]
        blocks = rgb.reshape(8, h // 8, 8, w // 8, 3).sum((1, 3)) / ((h // 8) * (w // 8))
        digest["images"][path.relative_to(root).as_posix()] = {
            "mean": np.round(rgb.mean((0, 1)), 3).tolist(),
            "thumbnail": np.round(blocks, 1).tolist()}
    return digest


def _assert_close(got, want, atol, where="$"):
    """JSON-like trees equal in structure, strings and booleans, numbers within `atol`."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            _assert_close(got[key], want[key], atol, f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_close(g, w, atol, f"{where}[{i}]")
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        assert abs(got - want) <= atol, f"{where}: {got} != {want}"
    else:
        assert got == want, where


def test_world_matches_the_golden_record(tmp_path):
    # Seed 11: 3 videos, one with a crowd behind an ignore region; images and detections
    # re-recorded when people got backpacks. Tolerances, not hashes: numpy's sin/cos/exp may differ
    # by an ulp between CPUs, and an ulp can move a pixel by one grey level. A change of the random
    # draws or of the drawing moves these numbers by far more. After an intended change of the
    # world, re-record: dict(world=..., **_world_digest(root, split)) of the same generate_world
    # call.
    golden = json.loads(GOLDEN.read_text())
    world = dict(golden["world"], image_hw=tuple(golden["world"]["image_hw"]))
    synthetic.generate_world(tmp_path, **world)
    got = _world_digest(tmp_path, world["split"])
    assert any("ignore_regions_x" in image for seq in golden["annotations"].values()
               for image in seq["images"])
    _assert_close(got["annotations"], golden["annotations"], 1e-6, "annotations")
    _assert_close(got["detections"], golden["detections"], 1e-6, "detections")
    assert got["images"].keys() == golden["images"].keys()
    for name, want in golden["images"].items():
        _assert_close(got["images"][name]["mean"], want["mean"], 0.05, name)
        _assert_close(got["images"][name]["thumbnail"], want["thumbnail"], 0.5, name)


def test_cli_writes_the_posetrack_layout_and_loads_back(tmp_path, capsys):
    _world(tmp_path, extra=["--preview"])
    assert "2/2 videos" in capsys.readouterr().out
    names = ["100001_mpii_val", "100002_mpii_val"]
    for name in names:
        for t in range(FRAMES):
            img = cv2.imread(str(tmp_path / f"images/val/{name}/{t:06d}.jpg"))
            assert img.shape == (72, 96, 3)
        assert (tmp_path / f"annotations/val/{name}.json").is_file()
    preview = cv2.imread(str(tmp_path / "preview_val.png"))
    assert preview is not None and preview.shape[0] >= 72 and preview.shape[1] >= 3 * 96
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "annotations", "detections", "images", "preview_val.png"]  # no staging left behind
    # The files hold exactly the in-memory world of the same seed.
    loaded = posetrack.read_sequences(tmp_path / "annotations" / "val")
    detections = json.loads((tmp_path / "detections" / "val.json").read_text())
    expected_dets = []
    for v, seq in enumerate(loaded):
        seed = [1, synthetic.SPLITS.index("val"), v]
        ref, ref_imgs, ref_dets = _simulate(seed, 100001 + v, "val")
        _sequences_equal(seq, ref)
        expected_dets.extend(ref_dets)
        jpg = cv2.cvtColor(cv2.imread(str(tmp_path / ref.frames[3].file_name)), cv2.COLOR_BGR2RGB)
        # The JPEG of the same frame: equal up to compression, which mostly hits the noise.
        smooth = [cv2.blur(x, (5, 5)).astype(float) for x in (jpg, ref_imgs[3], ref_imgs[4])]
        assert np.abs(smooth[0] - smooth[1]).mean() < 2.0
        assert np.abs(smooth[0] - smooth[1]).mean() < np.abs(smooth[0] - smooth[2]).mean()
    assert len(detections) == len(expected_dets)
    for got, want in zip(detections, expected_dets, strict=True):
        assert got["image_id"] == want["image_id"] and got["category_id"] == 1
        np.testing.assert_allclose(got["bbox"] + [got["score"]], want["bbox"] + [want["score"]])
    read = posetrack.read_detections(tmp_path / "detections" / "val.json")
    assert set(read) <= {f.image_id for s in loaded for f in s.frames}


def test_cli_is_byte_deterministic(tmp_path):
    _world(tmp_path / "a", seed=2, extra=["--preview"])
    _world(tmp_path / "b", seed=2, extra=["--preview"])
    _world(tmp_path / "c", seed=3, extra=["--preview"])
    a, b, c = (_files(tmp_path / k) for k in "abc")
    assert a == b
    assert a.keys() == c.keys()
    assert all(a[name] != c[name] for name in a if not name.startswith("images/")
               or name.endswith("000000.jpg"))


def test_splits_share_a_root_but_differ(tmp_path):
    frames = {}
    for split, number in (("train", "000001"), ("val", "100001"), ("tune", "200001")):
        _world(tmp_path, split=split, videos=1)
        assert (tmp_path / f"annotations/{split}/{number}_mpii_{split}.json").is_file()
        frames[split] = cv2.imread(
            str(tmp_path / f"images/{split}/{number}_mpii_{split}/000000.jpg"))
    assert not np.array_equal(frames["train"], frames["val"])
    assert not np.array_equal(frames["tune"], frames["val"])
    assert not np.array_equal(frames["tune"], frames["train"])


def test_existing_split_is_refused_unless_overwrite(tmp_path):
    _world(tmp_path, seed=1, videos=2)
    before = _files(tmp_path)
    with pytest.raises(DataError, match="--overwrite"):
        _world(tmp_path, seed=2, videos=1)
    assert _files(tmp_path) == before
    _world(tmp_path, seed=2, videos=1, extra=["--overwrite"])
    assert sorted(p.name for p in (tmp_path / "annotations/val").iterdir()) == [
        "100001_mpii_val.json"]
    assert not (tmp_path / "images/val/100002_mpii_val").exists()
    assert _files(tmp_path) != before


@pytest.mark.parametrize("args, match", [
    (["--videos", "0"], "videos"),
    (["--frames", "0"], "frames"),
    (["--frames", "10001"], "frames"),
    (["--size", "96by72"], "--size"),
    (["--size", "16x16"], "size"),
    (["--seed", "-1"], "seed"),
    (["--label-every", "0"], "label_every"),
])
def test_bad_arguments_raise_data_error(tmp_path, args, match):
    base = {"--out": str(tmp_path / "w"), "--seed": "0", "--videos": "1", "--frames": "2"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    with pytest.raises(DataError, match=match):
        synthetic.main([x for kv in base.items() for x in kv])
    assert not (tmp_path / "w" / "images").exists()


def test_unwritable_out_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="--out .*file is a file, not a folder"):
        _world(blocker / "world")  # the command refuses it before any work
    with pytest.raises(DataError, match="cannot write"):  # and so does the library
        synthetic.generate_world(blocker / "world", seed=1, num_videos=1, split="val",
                                 num_frames=FRAMES, image_hw=(72, 96))


def test_a_crash_leaves_nothing_half_written(tmp_path, monkeypatch):
    _world(tmp_path, seed=1, videos=1)
    before = _files(tmp_path)
    calls = []

    def failing_encode(image, quality):
        calls.append(1)
        if len(calls) > 5:
            raise RuntimeError("disk on fire")
        return cv2.imencode(".jpg", image)[1].tobytes()

    monkeypatch.setattr(synthetic_write, "encode_jpeg", failing_encode)
    with pytest.raises(RuntimeError):
        _world(tmp_path, seed=2, videos=2, extra=["--overwrite"])
    with pytest.raises(RuntimeError):
        _world(tmp_path, seed=2, videos=2, split="train")
    assert _files(tmp_path) == before  # the old val split intact, no train split, no staging
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotations", "detections", "images"]


def test_a_failed_move_into_place_restores_the_old_split(tmp_path, monkeypatch):
    _world(tmp_path, seed=1, videos=1)
    before = _files(tmp_path)
    real_replace = os.replace

    def replace(src, dst):
        # Fail the last move of the new split into place (its detections file).
        if Path(dst) == tmp_path / "detections" / "val.json" and Path(src).name == "val.json":
            raise OSError(28, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(DataError, match="No space left"):
        _world(tmp_path, seed=2, videos=2, extra=["--overwrite"])
    assert _files(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotations", "detections", "images"]


def test_module_cli_reports_one_line_and_exit_2(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "gnnpose_jax.data.synthetic", "--out", str(tmp_path),
         "--seed", "0", "--videos", "0"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "videos" in lines[0]
