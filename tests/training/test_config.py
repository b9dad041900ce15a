"""Config files and overrides (gnnpose_jax.training.config, configs/): every config loads with
the base keys and without JAX, the paper's schedules, overrides are checked, the workdir config
is pinned on the keys its mode reads, and only the custom YOLOX variant reads its multipliers."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import jax
import ml_collections
import pytest

from gnnpose_jax.errors import CheckpointError, ConfigError
from gnnpose_jax.models.yolox import PRESETS
from gnnpose_jax.tracking.config import tracker_config
from gnnpose_jax.tracking.tracker import FROM_GNN, TrackerConfig
from gnnpose_jax.training import config as config_lib
from gnnpose_jax.training import detector_mode, gnn_mode, inputs
from gnnpose_jax.training.loop import MODES, check_config
from tests.helpers.micro_config import CONFIGS, ROOT, micro_config


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_loads_locked_with_the_base_keys_and_its_command(name):
    path = ROOT / "configs" / f"{name}.py"
    config = config_lib.load_config_file(str(path))
    base = config_lib.load_config_file(str(ROOT / "configs" / "base.py"))
    assert config.is_locked
    assert set(config_lib.flatten(config)) == set(config_lib.flatten(base))
    module_doc = path.read_text().split('"""')[1]
    assert f"python train.py --config configs/{name}.py --workdir" in module_doc
    if config.mode == "gnn":
        gnn_mode.gnn_config(config)  # the GNN settings are consistent
    else:
        assert config.mode in ("hrnet", "detector")


def test_paper_schedules_in_the_posetrack_configs():
    gnn = config_lib.load_config_file(str(ROOT / "configs" / "posetrack18_gnn_w48.py"))
    hrnet = config_lib.load_config_file(str(ROOT / "configs" / "posetrack17_hrnet_w48.py"))
    assert (gnn.optimizer.learning_rate, tuple(gnn.optimizer.decay_epochs), gnn.num_epochs) \
        == (1e-4, (5.0, 8.0), 10)
    assert (hrnet.optimizer.learning_rate, tuple(hrnet.optimizer.decay_epochs),
            hrnet.num_epochs, hrnet.data.tfds_name) == (1e-4, (10.0, 15.0), 20, "posetrack17")
    assert gnn_mode.gnn_config(gnn).graph.grid.shape == (48, 36)
    synthetic = config_lib.load_config_file(str(ROOT / "configs" / "synthetic_gnn.py"))
    model = gnn_mode.gnn_config(synthetic)
    assert (model.graph.grid.shape, model.hidden, model.layers, synthetic.batch_size) \
        == ((16, 12), 64, 2, 32)


@pytest.mark.parametrize("name", ["posetrack21_hrnet_w32", "posetrack21_gnn_w32"])
def test_posetrack21_configs_pass_the_checks_train_py_runs(name):
    config = config_lib.load_config_file(str(ROOT / "configs" / f"{name}.py"))
    assert (config.data.source, config.data.tfds_name, config.hrnet.width) == (
        "tfds", "posetrack21", 32)
    assert inputs.TFDS_BUILDERS["posetrack21"].name == "posetrack21"
    if config.mode == "gnn":  # the frozen HRNet is the one argument the command line adds
        with pytest.raises(ConfigError, match="hrnet.checkpoint is empty"):
            check_config(config)
        config.hrnet.checkpoint = "runs/pt21_hrnet_w32/hrnet"
    else:
        assert config.hrnet.init_checkpoint == "checkpoints/coco_w32_384x288"
    assert check_config(config) * jax.local_device_count() == config.batch_size


def test_unknown_override_names_the_nearest_key():
    argv = ["train.py", "--config", str(ROOT / "configs" / "synthetic_hrnet.py"),
            "--config.optimizer.learning_rte=0.1"]
    config = config_lib.load_config_file(argv[2])
    with pytest.raises(ConfigError) as info:
        config_lib.check_overrides(argv, config)
    assert str(info.value) == ("--config.optimizer.learning_rte: no such key in "
                               f"{argv[2]}; nearest valid key: optimizer.learning_rate")
    config_lib.check_overrides(argv[:3] + ["--config.optimizer.learning_rate=0.1",
                                           "--config.hrnet.input_hw=(64, 32)"], config)


def test_workdir_config_is_pinned(tmp_path):
    config = micro_config("synthetic_hrnet")
    config_lib.pin_workdir_config(tmp_path, config, has_checkpoint=False)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["optimizer"]["learning_rate"] == config.optimizer.learning_rate
    config.log_every_steps = 99  # runtime keys may change on resume
    config.data.num_workers = 2
    config_lib.pin_workdir_config(tmp_path, config, has_checkpoint=True)
    config.optimizer.learning_rate = 0.5
    config.hrnet.width = 8
    with pytest.raises(CheckpointError) as info:
        config_lib.pin_workdir_config(tmp_path, config, has_checkpoint=True)
    message = str(info.value)
    assert "hrnet.width: 4 -> 8" in message and "optimizer.learning_rate: 0.002 -> 0.5" in message


def test_building_every_config_imports_no_jax():
    script = textwrap.dedent("""
        import importlib, sys
        from pathlib import Path
        for path in sorted(Path("configs").glob("*.py")):
            if path.stem != "__init__":
                importlib.import_module(f"configs.{path.stem}").get_config()
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "flax"))
        sys.exit(f"loaded {loaded[:3]}" if loaded else 0)
        """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_section_is_read_by_a_named_mode_or_at_inference():
    base = config_lib.load_config_file(str(ROOT / "configs" / "base.py"))
    sections = {key for key, value in base.items() if isinstance(value, ml_collections.ConfigDict)}
    assert set(config_lib.MODE_SECTIONS) == set(MODES)
    named = {s for mode in config_lib.MODE_SECTIONS.values() for s in mode}
    assert sections == named | set(config_lib.COMMON_SECTIONS) | set(
        config_lib.INFERENCE_SECTIONS)


def test_the_tracker_section_is_the_tracker_defaults():
    base = config_lib.load_config_file(str(ROOT / "configs" / "base.py"))
    assert tracker_config(base.tracker) == TrackerConfig()
    assert set(base.tracker) == {f.name for f in dataclasses.fields(TrackerConfig)} - set(
        FROM_GNN)


def _pinned(tmp_path, name, **overrides):
    """A workdir pinned to the micro config `name`, and a fresh copy of that config."""
    config_lib.pin_workdir_config(tmp_path, micro_config(name, **overrides), has_checkpoint=False)
    return micro_config(name, **overrides)


@pytest.mark.parametrize(("name", "key", "value", "refused"), [
    ("synthetic_hrnet", "detector.num_classes", 80, False),
    ("synthetic_hrnet", "detector.variant", "m", False),
    ("synthetic_hrnet", "gnn.hidden", 16, False),
    ("synthetic_hrnet", "tracker.oks_gate", 0.5, False),
    ("synthetic_hrnet", "hrnet.checkpoint", "elsewhere", True),
    ("synthetic_hrnet", "augment.flip_prob", 0.5, True),
    ("synthetic_gnn", "hrnet.width", 8, True),
    ("synthetic_gnn", "gnn.hidden", 16, True),
    ("synthetic_gnn", "detector.input_hw", (32, 32), False),
    ("synthetic_yolox", "hrnet.width", 8, False),
    ("synthetic_yolox", "detector.width", 0.5, True),
    ("synthetic_yolox", "data.min_joints", 2, True),
    ("posetrack18_yolox_s", "detector.num_classes", 1, True),
])
def test_a_resume_compares_only_the_sections_its_mode_reads(tmp_path, name, key, value,
                                                              refused):
    config = _pinned(tmp_path, name)
    section, leaf = key.split(".")
    config[section][leaf] = value
    if refused:
        with pytest.raises(CheckpointError, match=f"{key}: "):
            config_lib.pin_workdir_config(tmp_path, config, has_checkpoint=True)
    else:
        config_lib.pin_workdir_config(tmp_path, config, has_checkpoint=True)
        assert json.loads((tmp_path / "config.json").read_text())[section][leaf] == (
            list(value) if isinstance(value, tuple) else value)


def test_an_official_variant_ignores_the_custom_keys_of_an_older_config_json(tmp_path):
    config = _pinned(tmp_path, "posetrack18_yolox_s")
    stored = json.loads((tmp_path / "config.json").read_text())
    stored["detector"].update(depth=0.33, width=0.25, depthwise=False)  # written before None
    (tmp_path / "config.json").write_text(json.dumps(stored))
    config_lib.pin_workdir_config(tmp_path, config, has_checkpoint=True)
    assert not config_lib.is_computed("detector.width", config)
    config.detector.variant = "custom"
    assert config_lib.is_computed("detector.width", config)


def test_only_the_custom_variant_reads_depth_width_and_depthwise():
    config = config_lib.load_config_file(str(ROOT / "configs" / "posetrack18_yolox_s.py"))
    assert detector_mode.architecture(config) == dataclasses.replace(
        PRESETS["s"], num_classes=80, input_size=640)
    config.detector.variant = "m"  # one key switches the variant
    assert (detector_mode.architecture(config).depth,
            detector_mode.architecture(config).width) == (0.67, 0.75)
    config.detector.width = 0.75
    with pytest.raises(ConfigError) as info:
        check_config(config)
    assert str(info.value) == ("detector.width 0.75 is read only by detector.variant 'custom' "
                               "(variant 'm' has width 0.75): leave it unset or set "
                               "detector.variant=custom")
    config.detector.variant = "custom"
    with pytest.raises(ConfigError, match="detector.depth is unset: detector.variant 'custom' "
                                          "reads detector.depth, detector.width"):
        check_config(config)
    config.detector.depth, config.detector.depthwise = 0.5, True
    assert (detector_mode.architecture(config).depth,
            detector_mode.architecture(config).depthwise) == (0.5, True)
    config.detector.depth = -1.0
    with pytest.raises(ConfigError, match="detector.depth -1.0 and detector.width 0.75 must be"):
        check_config(config)
