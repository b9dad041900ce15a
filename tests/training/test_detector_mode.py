"""Detector mode (gnnpose_jax.training.detector_mode, steps.detector_*, inputs.detector_*):
a run on 2 forced CPU devices validates with box AP and exports a YOLOX folder that
`load_detector` reads, a resumed run ends exactly where an uninterrupted one does, and bad
settings or data fail in one line.

The runs happen in a subprocess (this file is its script), since the device count is fixed
when JAX starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MICRO_DETECTOR = {"detector__input_hw": (64, 96), "batch_size": 4, "num_train_steps": 4,
                  "eval_every_steps": 0, "eval_at_start": False, "checkpoint_every_steps": 2,
                  "detector__l1_last_epochs": 0.5, "data__max_val_examples": 6}


class _Interrupted(Exception):
    """Stands for a run killed right after its first checkpoint."""


def _worker(out: Path) -> None:
    """Two runs of 4 steps on 2 devices, one interrupted after its step-2 checkpoint and
    resumed; saves both final states."""
    import jax

    from gnnpose_jax.training import loop, train_and_evaluate
    from tests.helpers.micro_config import micro_config

    assert jax.local_device_count() == 2
    config = micro_config("synthetic_yolox", **MICRO_DETECTOR)
    config.data.root = str(out.parent / "world")
    save = loop._Run.save

    def save_then_stop(run, val_loss):
        save(run, val_loss)
        run.manager.wait_until_finished()
        raise _Interrupted

    loop._Run.save = save_then_stop
    try:
        train_and_evaluate(config, out.parent / "resumed")
    except _Interrupted:
        pass
    loop._Run.save = save
    results = {}
    for name in ("straight", "resumed"):
        final = train_and_evaluate(config, out.parent / name)
        results.update({f"{name}:{jax.tree_util.keystr(k)}": np.asarray(v) for k, v in
                        jax.tree_util.tree_leaves_with_path(
                            {"params": final.params, "stats": final.batch_stats})})
    np.savez(out, **results)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The worker's two run folders and final states."""
    base = tmp_path_factory.mktemp("detector_runs")
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT),
               XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} "
                         "--xla_force_host_platform_device_count=2")
    proc = subprocess.run([sys.executable, __file__, str(base / "states.npz")], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    with np.load(base / "states.npz") as data:
        return base, dict(data)


def test_two_devices_validate_with_box_ap_and_export(runs):
    from gnnpose_jax.models.pretrained import load_detector
    from gnnpose_jax.training.metrics import read_metrics

    base, _ = runs
    rows = read_metrics(base / "straight")
    val = [r for r in rows if "val/loss" in r]
    assert [r["step"] for r in val] == [4]
    assert 0.0 <= val[0]["val/box_ap50"] <= 1.0 and 0.0 <= val[0]["val/box_ap"] <= 1.0
    assert np.isfinite(val[0]["val/loss"])
    module, _ = load_detector(base / "straight/yolox")
    assert (module.config.width, module.config.num_classes, module.config.input_size) \
        == (0.25, 1, 96)


def test_a_resumed_run_ends_where_the_uninterrupted_one_does(runs):
    _, states = runs
    straight = {k.split(":", 1)[1]: v for k, v in states.items() if k.startswith("straight:")}
    resumed = {k.split(":", 1)[1]: v for k, v in states.items() if k.startswith("resumed:")}
    assert straight.keys() == resumed.keys() and straight
    for key, value in straight.items():
        np.testing.assert_array_equal(resumed[key], value, err_msg=key)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("variant", "huge", "detector.variant 'huge' must be one of"),
    ("input_hw", (100, 96), r"detector.input_hw \(100, 96\) must be \(H, W\)"),
    ("num_classes", 0, "detector.num_classes 0 must be a positive integer"),
])
def test_bad_settings_are_one_config_error(key, value, message):
    from gnnpose_jax.errors import ConfigError
    from gnnpose_jax.training.loop import check_config
    from tests.helpers.micro_config import micro_config

    config = micro_config("synthetic_yolox")
    config.detector[key] = value
    with pytest.raises(ConfigError, match=message):
        check_config(config)


def test_a_folder_without_people_is_one_data_error(tmp_path):
    from gnnpose_jax.data import synthetic
    from gnnpose_jax.errors import DataError
    from gnnpose_jax.training import inputs
    from tests.helpers.micro_config import micro_config

    synthetic.generate_world(tmp_path, 1, 1, "train", num_frames=3, image_hw=(96, 128))
    for path in (tmp_path / "annotations/train").glob("*.json"):
        content = json.loads(path.read_text())
        content["annotations"] = []
        path.write_text(json.dumps(content))
    config = micro_config("synthetic_yolox", data__source="folder", data__root=str(tmp_path))
    with pytest.raises(DataError, match="no labeled frame has a person to box"):
        inputs.detector_loaders(config, tmp_path, 1)


def test_fine_tuning_starts_from_an_official_pth_of_the_same_architecture(tmp_path):
    from benchmarks.random_weights import write_yolox_pth, yolox_variables
    from gnnpose_jax.errors import ConfigError
    from gnnpose_jax.training import detector_mode
    from tests.helpers.micro_config import micro_config
    from tests.helpers.tiny_runs import DENSE

    path = tmp_path / "yolox_dense.pth"
    write_yolox_pth(path, DENSE)  # depth 0.33, width 0.125, 80 classes
    config = micro_config("synthetic_yolox", detector__width=0.125, detector__num_classes=80,
                          detector__checkpoint=str(path))
    variables = detector_mode.initial_variables(config, detector_mode.architecture(config))
    expected = yolox_variables(DENSE)
    np.testing.assert_array_equal(variables["params"]["head"]["cls_preds_0"]["bias"],
                                  expected["params"]["head"]["cls_preds_0"]["bias"])
    assert set(variables) == {"params", "batch_stats"}
    config.detector.num_classes = 1
    with pytest.raises(ConfigError, match="num_classes 1 vs 80"):
        detector_mode.initial_variables(config, detector_mode.architecture(config))


def test_samples_letterbox_flip_and_box_slots():
    from gnnpose_jax.data import detector_samples as ds

    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[10:40, 20:30] = (255, 0, 0)  # a red person, x 20..30, y 10..40
    boxes = np.array([[20, 10, 10, 30], [0, 0, 1, 1]], np.float64)  # the second is too small
    config = ds.DetectorConfig(input_hw=(64, 64), max_boxes=3, flip_prob=1.0, hsv=False)
    plain = ds.make_detector_sample(rgb, boxes, np.random.default_rng(0), config, augment=False)
    r = 64 / 80
    assert plain.image.shape == (64, 64, 3) and (plain.image[int(60 * r) + 1:] == 114).all()
    np.testing.assert_allclose(plain.boxes[0], [25 * r, 25 * r, 10 * r, 30 * r], rtol=1e-6)
    assert plain.box_mask.tolist() == [True, False, False]
    assert plain.image[20, 20].tolist() == [0, 0, 255]  # BGR
    flipped = ds.make_detector_sample(rgb, boxes, np.random.default_rng(0), config, augment=True)
    np.testing.assert_allclose(flipped.boxes[0], [(80 - 25) * r, 25 * r, 10 * r, 30 * r],
                               rtol=1e-6)


def test_ignore_regions_are_filled_their_boxes_dropped_and_kept_in_input_pixels():
    from gnnpose_jax.data import detector_samples as ds

    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[10:40, 20:30] = (255, 0, 0)  # an annotated person, x 20..30
    rgb[10:40, 60:70] = (0, 255, 0)  # an unannotated one inside the ignore region
    region = np.array([[50, 0], [80, 0], [80, 50], [50, 50]], np.float64)
    boxes = np.array([[20, 10, 10, 30], [60, 10, 10, 30]], np.float64)  # the second inside
    config = ds.DetectorConfig(input_hw=(64, 64), max_boxes=3, flip_prob=1.0, hsv=False)
    plain = ds.make_detector_sample(rgb, boxes, np.random.default_rng(0), config,
                                    augment=False, ignore_regions=[region])
    r = 64 / 80
    assert plain.box_mask.tolist() == [True, False, False]
    np.testing.assert_allclose(plain.boxes[0], [25 * r, 25 * r, 10 * r, 30 * r], rtol=1e-6)
    assert (plain.image[int(12 * r):int(38 * r), int(52 * r):int(78 * r)] == 114).all()
    assert plain.image[20, 20].tolist() == [0, 0, 255]
    polygons = ds.unpack_polygons(plain.ignore_points, plain.ignore_sizes)
    assert len(polygons) == 1 and plain.ignore_points.shape == (512, 2)
    np.testing.assert_allclose(polygons[0], region * r, rtol=1e-6)
    flipped = ds.make_detector_sample(rgb, boxes, np.random.default_rng(0), config,
                                      augment=True, ignore_regions=[region])
    assert flipped.box_mask.tolist() == [True, False, False]
    assert (flipped.image[int(12 * r):int(38 * r), int(2 * r):int(28 * r)] == 114).all()
    np.testing.assert_allclose(ds.unpack_polygons(flipped.ignore_points,
                                                  flipped.ignore_sizes)[0][:, 0],
                               (80 - region[:, 0]) * r, rtol=1e-6)
    # A record's packed polygons come back as they were.
    points, sizes = ds.pack_polygons([region, region[:3] + 1], 16, 4)
    unpacked = ds.unpack_polygons(points, sizes)
    assert [len(p) for p in unpacked] == [4, 3]
    np.testing.assert_array_equal(unpacked[1], region[:3] + 1)


def test_box_ap_metrics_ignore_detections_in_the_frames_ignore_regions():
    from gnnpose_jax.data import detector_samples as ds
    from gnnpose_jax.evaluation.box_ap import box_ap
    from gnnpose_jax.training import detector_mode

    region = np.array([[40, 0], [64, 0], [64, 30], [40, 30]], np.float64)
    points, sizes = ds.pack_polygons([region], 8, 2)
    none_points, none_sizes = ds.pack_polygons([], 8, 2)
    gt = np.zeros((1, 2, 3, 4), np.float32)  # (devices, frames, G, cx cy w h)
    gt[0, :, 0] = [10, 10, 10, 10]  # the box [5, 5, 10, 10]
    batch = {"boxes": gt, "box_mask": np.array([[[True, False, False]] * 2]),
             "mask": np.array([[True, True]]),
             "ignore_points": np.stack([points, none_points])[None],
             "ignore_sizes": np.stack([sizes, none_sizes])[None]}
    # Each frame: a confident false positive centred at (50, 15), then the hit.
    fp, hit = [45, 10, 10, 10, 0.95], [5, 5, 10, 10, 0.9]
    out = {"loss_sum": np.ones(1), "loss_count": np.ones(1),
           "boxes": np.array([[fp, hit]] * 2, np.float32)[None],
           "box_valid": np.ones((1, 2, 2), bool)}
    metrics = detector_mode.BoxApMetrics()
    metrics.add(out, batch)
    # Only frame 0 has the region: its false positive is left out, frame 1's counts.
    gts = [np.array([[5, 5, 10, 10]], np.float64)] * 2
    expected = box_ap([np.array([hit]), np.array([fp, hit])], gts)
    assert expected["box_ap50"] < 1
    assert metrics.result()["box_ap50"] == pytest.approx(expected["box_ap50"])

if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
