"""Config files and overrides (gnnpose_jax.training.config, configs/): every config loads with
the base keys, the paper's schedules, overrides are checked, the workdir config is pinned."""

from __future__ import annotations

import json

import jax
import pytest

from gnnpose_jax.errors import CheckpointError, ConfigError
from gnnpose_jax.training import config as config_lib
from gnnpose_jax.training import gnn_mode, inputs
from gnnpose_jax.training.loop import check_config
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
