"""Grain pipelines over a tiny synthetic world: sources, references, batches, resumption."""

import dataclasses
import itertools
import shutil
from typing import NamedTuple

import grain
import numpy as np
import pytest

from gnnpose_jax.data import pipeline, posetrack, synthetic, windows
from gnnpose_jax.data.topdown_samples import TopDownConfig
from gnnpose_jax.data.windows import WindowConfig
from gnnpose_jax.errors import DataError
from gnnpose_jax.training import history

TOPDOWN = TopDownConfig(input_hw=(32, 24))
WINDOW = WindowConfig(input_hw=(32, 24))
WINDOW_K = 17


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """2 train videos x 8 frames at 80x64, densely labeled; 1 val video labeled every 4th."""
    root = tmp_path_factory.mktemp("world")
    synthetic.generate_world(root, seed=3, num_videos=2, split="train", num_frames=8,
                             image_hw=(64, 80))
    synthetic.generate_world(root, seed=3, num_videos=1, split="val", num_frames=8,
                             image_hw=(64, 80), label_every=4)
    return root


@pytest.fixture(scope="module")
def source(world):
    """The train split, read straight from the folder."""
    return pipeline.folder_source(world, "train")


def _topdown_loader(source, config, loader):
    """HRNet samples as training/inputs.hrnet_loaders builds them."""
    return pipeline.make_loader(pipeline.person_refs(source.index),
                                pipeline.TopDownTransform(source, config), loader, source.name)


def _window_loader(source, config, loader):
    """GNN windows as training/inputs.gnn_loaders builds them (GT history)."""
    return pipeline.make_loader(pipeline.window_refs(source.index, config.history,
                                                     config.min_joints),
                                pipeline.WindowTransform(source, config), loader, source.name)


def _batches(dataset, count=None):
    """The first `count` batches (all if None) of a fresh iterator, which is then closed."""
    iterator = iter(dataset)
    try:
        return list(itertools.islice(iterator, count))
    finally:
        iterator.close()


def _assert_same(a, b):
    """Two lists of batches hold equal arrays."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            np.testing.assert_array_equal(u, v)


def test_person_and_window_refs_match_a_brute_force_count(world, source):
    seqs = posetrack.read_sequences(world / "annotations" / "train")
    people = [(s.name, f.frame_index, p.track_id) for s in seqs for f in s.frames
              if f.is_labeled for p in f.people if p.present.any()]
    assert len(pipeline.person_refs(source.index)) == len(people) > 0
    expected = set()
    for number, seq in enumerate(seqs):
        poses = {(f.frame_index, p.track_id) for f in seq.frames if f.is_labeled
                 for p in f.people if p.present.any()}
        expected |= {(number, t, k) for t, k in poses
                     if any((t - d, k) in poses for d in (1, 2, 3))}
    refs = pipeline.window_refs(source.index, history=3)
    assert {tuple(r) for r in refs.tolist()} == expected and len(refs) == len(expected)


def test_batches_are_shaped_for_pmap(source):
    config = pipeline.LoaderConfig(per_device_batch=3, num_devices=2)
    batch = _batches(_topdown_loader(source, TOPDOWN, config), 1)[0]
    assert batch.image.shape == (2, 3, 32, 24, 3) and batch.image.dtype == np.float32
    assert batch.heatmaps.shape == (2, 3, 8, 6, 17)
    assert batch.weights.shape == (2, 3, 17) and batch.matrix.shape == (2, 3, 2, 3)
    window = _batches(_window_loader(source, WINDOW, config), 1)[0]
    assert window.crops.shape == (2, 3, 4, 32, 24, 3)
    assert window.history.shape == (2, 3, 3, 17, 3) and window.target.shape == (2, 3, 17, 4)
    assert window.frame_valid[:, :, 0].all()


class RefExample(NamedTuple):
    """An example that is its own reference, to see what each shard gets."""

    ref: np.ndarray


class RefTransform(grain.transforms.RandomMap):
    """reference -> RefExample."""

    def random_map(self, element, rng):
        """Ignores the generator."""
        del rng
        return RefExample(np.asarray(element))


@pytest.mark.parametrize("num_refs", [23, 24])
def test_shards_are_disjoint_and_equal(num_refs):
    refs = np.arange(num_refs)
    seen = []
    for index in range(2):
        config = pipeline.LoaderConfig(per_device_batch=2, num_devices=1, num_epochs=1,
                                       shard_index=index, shard_count=2, seed=5)
        seen.append(np.concatenate([b.ref.ravel() for b in
                                    _batches(pipeline.make_loader(refs, RefTransform(), config))]))
    assert len(seen[0]) == len(seen[1]) == num_refs // 4 * 2
    assert not set(seen[0]) & set(seen[1])
    whole = pipeline.LoaderConfig(per_device_batch=1, num_devices=1, num_epochs=2, seed=5)
    epochs = np.concatenate([b.ref.ravel() for b in
                             _batches(pipeline.make_loader(refs, RefTransform(), whole))])
    first, second = epochs[:num_refs], epochs[num_refs:]
    assert sorted(first) == sorted(second) == list(refs)
    assert list(first) != list(second) and list(first) != list(refs)  # reshuffled per epoch


def test_resumed_iterator_sees_the_same_batches(source):
    config = pipeline.LoaderConfig(per_device_batch=4, num_devices=1, num_epochs=2, seed=1)
    dataset = _topdown_loader(source, TOPDOWN, config)
    full = _batches(dataset)
    # Batches run on across the epoch boundary; only the stream's tail is dropped.
    num_refs = len(pipeline.person_refs(source.index))
    per_epoch = num_refs // 4
    assert len(full) == 2 * num_refs // 4
    for stop in (3, per_epoch + 1):  # mid first epoch, and into the second
        iterator = iter(dataset)
        for _ in range(stop):
            next(iterator)
        state = iterator.get_state()
        resumed = iter(dataset)
        resumed.set_state(state)
        _assert_same(list(resumed), full[stop:])
    other = _topdown_loader(source, TOPDOWN, dataclasses.replace(config, seed=2))
    assert not np.array_equal(_batches(other, 1)[0].image, full[0].image)


def test_one_worker_gives_the_same_batches_and_resumes(source):
    config = pipeline.LoaderConfig(per_device_batch=2, num_devices=1, seed=4)
    in_process = _batches(_window_loader(source, WINDOW, config), 5)
    dataset = _window_loader(source, WINDOW, dataclasses.replace(config, num_workers=1))
    iterator = iter(dataset)
    try:
        _assert_same([next(iterator) for _ in range(2)], in_process[:2])
        state = iterator.get_state()
    finally:
        iterator.close()
    resumed = iter(dataset)
    try:
        resumed.set_state(state)
        _assert_same([next(resumed) for _ in range(3)], in_process[2:])
    finally:
        resumed.close()


def test_missing_image_names_its_path(world, tmp_path):
    copy = tmp_path / "world"
    shutil.copytree(world, copy)
    missing = copy / "images" / "train" / "000001_mpii_train" / "000002.jpg"
    missing.unlink()
    frames = pipeline.folder_source(copy, "train")
    config = pipeline.LoaderConfig(per_device_batch=1, num_devices=1, num_epochs=1,
                                   shuffle=False)
    with pytest.raises(DataError, match=str(missing)):
        _batches(_topdown_loader(frames, TOPDOWN, config))


def test_empty_or_missing_splits_are_data_errors(world, tmp_path):
    config = pipeline.LoaderConfig(per_device_batch=1, num_devices=1)
    with pytest.raises(DataError, match="annotations/test"):
        pipeline.folder_source(world, "test")
    # Val is labeled every 4th frame: no window has a pose in t-3 ... t-1.
    val = pipeline.folder_source(world, "val")
    with pytest.raises(DataError, match="no examples"):
        _window_loader(val, WINDOW, config)
    empty = tmp_path / "empty"
    (empty / "annotations" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="no .json"):
        pipeline.folder_source(empty, "train")
    seq = posetrack.read_sequences(world / "annotations" / "train")[0]
    for frame in seq.frames:
        frame.is_labeled, frame.people = False, []
    posetrack.write_sequences([seq], tmp_path / "unlabeled" / "annotations" / "train")
    unlabeled = pipeline.folder_source(tmp_path / "unlabeled", "train")
    with pytest.raises(DataError, match="no examples"):
        _topdown_loader(unlabeled, TOPDOWN, config)


def test_window_history_comes_from_estimates_as_they_are(source):
    refs = pipeline.window_refs(source.index, WINDOW.history)
    number, t, track = (int(v) for v in refs[len(refs) // 2])
    frames = source.index.frame_records(list(source.index.sequences)[number])
    rng = np.random.default_rng(0)
    # Hand-made estimates: each GT pose moved by (3, -2) px with score 0.7, for this track only.
    estimates = {}
    for f in range(1, WINDOW.history + 1):
        record = frames.get(t - f)
        if record is None:
            continue
        people = source[record]["people"]
        slots = np.flatnonzero(people["track_id"][: people["count"]] == track)
        if len(slots):
            gt = np.asarray(people["keypoints"][slots[0]], np.float64)
            estimates[(record, track)] = np.concatenate(
                [gt[:, :2] + [3.0, -2.0], np.full((len(gt), 1), 0.7)], axis=1)
    assert estimates
    config = dataclasses.replace(WINDOW, history_from_estimates=True)
    window = pipeline.WindowTransform(source, config, augment=False, estimates=estimates)
    got = window.random_map(np.array([number, t, track]), rng)
    plain = pipeline.WindowTransform(source, WINDOW, augment=False).random_map(
        np.array([number, t, track]), np.random.default_rng(0))
    for f in range(1, WINDOW.history + 1):
        record = frames.get(t - f)
        expected = estimates.get((record, track), np.zeros((WINDOW_K, 3)))
        np.testing.assert_allclose(got.history[f - 1], expected, atol=1e-4)
    np.testing.assert_array_equal(got.target, plain.target)  # the target stays the GT pose


def test_cached_estimates_are_reused_only_for_their_key(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {(4, 2): np.ones((WINDOW_K, 3), np.float32), (1, 7): np.zeros((WINDOW_K, 3),
                                                                              np.float32)}

    path = tmp_path / "cache" / "train.npz"
    first = history.cached_estimates(path, "hrnet-a|train", compute)
    again = history.cached_estimates(path, "hrnet-a|train", compute)
    assert len(calls) == 1 and again.keys() == first.keys()
    for key in first:
        np.testing.assert_array_equal(again[key], first[key])
    history.cached_estimates(path, "hrnet-b|train", compute)
    assert len(calls) == 2
    assert sorted(p.name for p in path.parent.iterdir()) == ["train.npz"]


def test_detection_windows_crop_the_boxes_their_history_estimates_came_from(source):
    """Under feature source "detections", history estimates (`history.estimate_people`) and
    windows cut each person's frame from one detection-like box (`pipeline.detection_box`)."""

    class BoxCentres:
        """A stand-in estimator: every joint at its box's centre, score 0.9."""

        def estimate(self, image, boxes):
            centres = boxes[:, :2] + boxes[:, 2:4] / 2
            return np.repeat(centres[:, None], WINDOW_K, axis=1), np.full((len(boxes),
                                                                          WINDOW_K), 0.9)

    jitter = (0.05, 0.08)
    estimates = history.estimate_people(source, BoxCentres(), progress=False,
                                        detection_jitter=jitter)
    config = dataclasses.replace(WINDOW, history_from_estimates=True,
                                 feature_source="detections", detection_jitter=jitter)
    refs = pipeline.window_refs(source.index, WINDOW.history)
    number, t, track = (int(v) for v in refs[len(refs) // 2])
    frames = source.index.frame_records(list(source.index.sequences)[number])
    window = pipeline.WindowTransform(source, config, augment=False, estimates=estimates
                                      ).random_map(np.array([number, t, track]),
                                                   np.random.default_rng(0))
    checked = 0
    for f in range(WINDOW.history + 1):
        record_index = frames.get(t - f)
        people = source[record_index]["people"]
        slots = np.flatnonzero(people["track_id"][: people["count"]] == track)
        if not len(slots) or (f and not window.frame_valid[f]):
            continue
        box = pipeline.detection_box(record_index, people, int(slots[0]), jitter)
        np.testing.assert_allclose(window.image_matrices[f], windows.detection_crop_matrix(
            box, WINDOW.input_hw, WINDOW.box_enlarge), rtol=1e-5, atol=1e-4)
        if f:
            np.testing.assert_allclose(estimates[(record_index, track)][0, :2],
                                       box[:2] + box[2:] / 2, atol=1e-4)
        checked += 1
    assert checked >= 2
