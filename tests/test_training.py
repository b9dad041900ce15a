"""Training package: schedules, periods, losses, accuracies, configs, runs of both modes, errors.

The end-to-end runs use a very small HRNet (width 4, 64 x 32 crops) on a tiny synthetic world,
once per mode (module fixtures), and the tests read what those runs left in their workdirs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from gnnpose_jax.data import pipeline, transforms
from gnnpose_jax.errors import CheckpointError, ConfigError, DataError
from gnnpose_jax.models import run_folder
from gnnpose_jax.models.gnn_io import CropSettings
from gnnpose_jax.models.hrnet import load_hrnet
from gnnpose_jax.training import (
    accuracy,
    checkpoints,
    distributed,
    gnn_mode,
    guard,
    hrnet_mode,
    inputs,
    periodic,
    schedules,
    steps,
    train_and_evaluate,
)
from gnnpose_jax.training import config as config_lib
from gnnpose_jax.training.loop import check_config
from gnnpose_jax.training.losses import heatmap_loss
from gnnpose_jax.training.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.stem for p in (ROOT / "configs").glob("*.py")
                 if p.stem not in ("__init__", "base"))
# A very small HRNet and world, so that a run compiles and trains in seconds.
MICRO = {"hrnet.width": 4, "hrnet.stem_channels": 8, "hrnet.layer1_planes": 4,
         "hrnet.stage_blocks": (1, 1, 1), "hrnet.input_hw": (64, 32),
         "data.synthetic_train_videos": 2, "data.synthetic_val_videos": 1,
         "data.synthetic_frames": 8, "data.synthetic_image_hw": (96, 128),
         "data.max_val_examples": 8, "batch_size": 4, "num_train_steps": 6,
         "log_every_steps": 2, "eval_every_epochs": 0.0, "eval_every_steps": 3,
         "checkpoint_every_epochs": 0.0, "checkpoint_every_steps": 2, "keep_checkpoints": 1,
         "progress_bar": False}


def _set(config: ml_collections.ConfigDict, key: str, value) -> None:
    """Sets a dotted key."""
    *parents, leaf = key.split(".")
    for p in parents:
        config = config[p]
    config[leaf] = value


def _config(name: str, **overrides) -> ml_collections.ConfigDict:
    """A config file with the MICRO settings and `overrides` (dots written as __)."""
    config = config_lib.load_config_file(str(ROOT / "configs" / f"{name}.py"))
    for key, value in {**MICRO, **{k.replace("__", "."): v for k, v in overrides.items()}
                       }.items():
        _set(config, key, value)
    return config


# ---------------------------------------------------------------------------------------------
# Schedules and periods


def test_epoch_boundaries_come_from_dataset_size_and_global_batch():
    spe = schedules.steps_per_epoch(1000, 32)
    assert spe == 31  # 1000 // 32: the remainder of each epoch is dropped
    assert schedules.decay_boundaries((5, 8), 0.1, spe) == {155: 0.1, 248: 0.1}
    rate = schedules.learning_rate_schedule(1e-4, (5, 8), 0.1, spe)
    np.testing.assert_allclose([rate(0), rate(154), rate(155), rate(247), rate(248), rate(309)],
                               [1e-4, 1e-4, 1e-5, 1e-5, 1e-6, 1e-6], rtol=1e-6)
    # HRNet fine-tuning: 20 epochs, x0.1 at 10 and 15; 4 devices x 16 make the global batch.
    spe = schedules.steps_per_epoch(6400, 4 * 16)
    assert spe == 100
    assert schedules.decay_boundaries((10, 15), 0.1, spe) == {1000: 0.1, 1500: 0.1}


def test_optimizer_applies_the_schedule_and_clipping():
    config = ml_collections.ConfigDict({"name": "sgd", "learning_rate": 0.5,
                                        "decay_epochs": (1.0,), "decay_factor": 0.1,
                                        "warmup_steps": 0, "grad_clip_norm": 0.0,
                                        "momentum": 0.0})
    tx = schedules.make_optimizer(config, num_steps_per_epoch=2)
    params = jnp.zeros(())
    opt_state = tx.init(params)
    moves = []
    for _ in range(4):
        updates, opt_state = tx.update(jnp.ones(()), opt_state, params)
        moves.append(float(updates))
    np.testing.assert_allclose(moves, [-0.5, -0.5, -0.05, -0.05], rtol=1e-6)
    config.grad_clip_norm = 0.1
    clipped = schedules.make_optimizer(config, 2)
    updates, _ = clipped.update(jnp.full((), 3.0), clipped.init(params), params)
    np.testing.assert_allclose(float(updates), -0.05, rtol=1e-6)


def test_warmup_ramps_without_moving_the_decay():
    rate = schedules.learning_rate_schedule(1.0, (2,), 0.1, 10, warmup_steps=4)
    np.testing.assert_allclose([rate(0), rate(1), rate(3), rate(19), rate(20)],
                               [0.25, 0.5, 1.0, 1.0, 0.1], rtol=1e-6)


def test_split_smaller_than_one_global_batch_is_refused():
    with pytest.raises(DataError, match="fewer than one global batch of 64"):
        schedules.steps_per_epoch(63, 64)


def test_periods_carry_units_and_fire_after_the_last_step():
    config = ml_collections.ConfigDict({"eval_every_steps": 0, "eval_every_epochs": 0.5,
                                        "log_every_steps": 7, "ckpt_every_steps": 0,
                                        "ckpt_every_epochs": 0.0})
    assert periodic.period_steps(config, "eval", 30) == 15
    assert periodic.period_steps(config, "log", 30) == 7
    assert periodic.period_steps(config, "ckpt", 30) == 0
    fired = [s for s in range(1, 46) if periodic.is_time(s, 15, 45)]
    assert fired == [15, 30, 45]
    assert [s for s in range(1, 11) if periodic.is_time(s, 0, 10)] == [10]
    assert [s for s in range(1, 11) if periodic.is_time(s, 4, 10)] == [4, 8, 10]
    config.eval_every_steps = 3
    with pytest.raises(ConfigError, match="eval_every_steps 3 and eval_every_epochs 0.5"):
        periodic.period_steps(config, "eval", 30)


# ---------------------------------------------------------------------------------------------
# Losses and accuracies


def test_heatmap_loss_is_the_official_joints_mse_as_sum_and_count():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(3, 4, 6, 17)), rng.random((3, 4, 6, 17))
    weight = (rng.random((3, 17)) > 0.3).astype(np.float32)
    # Official JointsMSELoss(use_target_weight): mean over joints of
    # 0.5 * MSE(pred * w, gt * w) over batch and pixels.
    per_joint = [0.5 * np.mean((pred[..., k] * weight[:, None, None, k]
                                - target[..., k] * weight[:, None, None, k]) ** 2)
                 for k in range(17)]
    total, count = heatmap_loss(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(weight))
    # A float32 sum of 1224 terms against float64: 1e-4 holds for any summation order.
    np.testing.assert_allclose(float(total / count), np.mean(per_joint), rtol=1e-4)
    assert float(count) == 3 * 17 * 4 * 6
    mask = np.array([True, False, True])
    total_m, count_m = heatmap_loss(jnp.asarray(pred), jnp.asarray(target),
                                    jnp.asarray(weight), jnp.asarray(mask))
    kept = heatmap_loss(jnp.asarray(pred[mask]), jnp.asarray(target[mask]),
                        jnp.asarray(weight[mask]))
    np.testing.assert_allclose([float(total_m), float(count_m)],
                               [float(kept[0]), float(kept[1])], rtol=1e-5)


def test_heatmap_peaks_match_the_host_decoder_jitted_and_not():
    rng = np.random.default_rng(1)
    heatmaps = rng.random((4, 8, 6, 17)).astype(np.float32)
    identity = np.tile(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (4, 1, 1))
    expected, _ = transforms.decode_heatmaps(heatmaps, identity, input_hw=(8, 6))
    for fn in (accuracy.heatmap_peaks, jax.jit(accuracy.heatmap_peaks)):
        np.testing.assert_allclose(np.asarray(fn(jnp.asarray(heatmaps))), expected, atol=1e-6)


def test_pckh_counts_by_hand():
    joints = np.zeros((2, 17, 3), np.float32)
    joints[0, 1] = (10, 10, 1)  # head_bottom
    joints[0, 2] = (10, 30, 1)  # head_top: head size 20
    joints[0, 5] = (50, 50, 1)
    joints[1, 5] = (50, 50, 1)  # no head joints: this person does not count
    predicted = joints[..., :2].copy()
    predicted[0, 5] += (0, 10)  # 10 <= 0.5 * 20: correct
    predicted[0, 2] += (11, 0)  # 11 > 10: wrong
    sizes = accuracy.head_sizes(jnp.asarray(joints))
    np.testing.assert_allclose(np.asarray(sizes), [20.0, 0.0])
    correct, count = accuracy.pckh_counts(jnp.asarray(predicted), jnp.asarray(joints[..., :2]),
                                          jnp.asarray(joints[..., 2] > 0), sizes)
    assert (float(correct), float(count)) == (2.0, 3.0)


def test_guard_names_the_first_bad_step_and_the_kept_checkpoint():
    guard.check_finite([(1, {"loss": 1.0, "grad_norm": 2.0})], None, "ckpt")
    rows = [(7, {"loss": 1.0, "grad_norm": 1.0}), (8, {"loss": float("nan"), "grad_norm": 1.0}),
            (9, {"loss": float("inf")})]
    with pytest.raises(guard.TrainingDiverged) as info:
        guard.check_finite(rows, 6, "/w/checkpoints")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("step 8: training diverged (loss nan)")
    assert "last good checkpoint is step 6 in /w/checkpoints" in message


# ---------------------------------------------------------------------------------------------
# Configs


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
        assert config.mode == "hrnet"


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
    with pytest.raises(ConfigError) as info:
        config_lib.check_overrides(argv)
    assert str(info.value) == ("--config.optimizer.learning_rte: no such key in "
                               f"{argv[2]}; nearest valid key: optimizer.learning_rate")
    config_lib.check_overrides(argv[:3] + ["--config.optimizer.learning_rate=0.1",
                                           "--config.hrnet.input_hw=(64, 32)"])


def test_train_cli_reports_bad_flags_in_one_line(tmp_path):
    cmd = [sys.executable, str(ROOT / "train.py"), "--config", "configs/synthetic_hrnet.py",
           "--workdir", str(tmp_path), "--config.batchsize=8"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --config.batchsize: no such key in configs/synthetic_hrnet.py; nearest valid "
        "key: batch_size"]


def test_workdir_config_is_pinned(tmp_path):
    config = _config("synthetic_hrnet")
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


def test_batch_not_divisible_by_the_devices(monkeypatch):
    monkeypatch.setattr(jax, "device_count", lambda: 4)
    assert distributed.per_process_batch_size(8) == 8
    with pytest.raises(ConfigError, match="batch_size 6 is not divisible by the 4 devices"):
        distributed.per_process_batch_size(6)


def test_multi_host_flags_are_checked_before_joining(monkeypatch):
    for name in (distributed.ENV_COORDINATOR, distributed.ENV_NUM_PROCESSES,
                 distributed.ENV_PROCESS_ID):
        monkeypatch.delenv(name, raising=False)
    assert distributed.initialize() is False  # single process: nothing to join
    with pytest.raises(ConfigError, match="--num_processes 2 needs --coordinator_address"):
        distributed.initialize(num_processes=2)
    with pytest.raises(ConfigError, match="needs --num_processes N and --process_id in 0..N-1"):
        distributed.initialize("127.0.0.1:1234", 2, 2)
    monkeypatch.setenv(distributed.ENV_COORDINATOR, "127.0.0.1:1234")
    monkeypatch.setenv(distributed.ENV_NUM_PROCESSES, "two")
    with pytest.raises(ConfigError, match="JAX_NUM_PROCESSES='two': expected an integer"):
        distributed.initialize()


# ---------------------------------------------------------------------------------------------
# End-to-end runs


@pytest.fixture(scope="module")
def hrnet_run(tmp_path_factory):
    """A 6-step HRNet-mode run; the train step may be traced only once."""
    workdir = tmp_path_factory.mktemp("hrnet_run")
    config = _config("synthetic_hrnet")
    counted = chex.assert_max_traces(steps.hrnet_train_step, n=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(steps, "hrnet_train_step", counted)
        final = train_and_evaluate(config, workdir)
    return workdir, config, final


def test_hrnet_run_logs_validates_checkpoints_and_exports(hrnet_run):
    workdir, config, final = hrnet_run
    rows = read_metrics(workdir)
    val = [r for r in rows if "val/loss" in r]
    train = [r for r in rows if "train/loss" in r]
    assert [r["step"] for r in val] == [0, 3, 6]
    assert [r["step"] for r in train] == [2, 4, 6]
    assert {"train/grad_norm", "train/learning_rate", "train/examples_per_second",
            "train/epoch"} <= set(train[0])
    assert all(0.0 <= r["val/pckh"] <= 1.0 for r in val)
    assert train[-1]["train/loss"] < train[0]["train/loss"]
    assert (workdir / "tensorboard").is_dir()
    with checkpoints.make_manager(workdir, keep=1) as manager:
        kept = manager.all_steps()
        best = checkpoints.best_step(manager)
    assert int(final.step) == 6
    # The latest checkpoint and the best validated one survive (keep_checkpoints = 1).
    losses = {r["step"]: r["val/loss"] for r in val if r["step"] > 0}
    assert best == min(losses, key=losses.get)
    assert sorted(kept) == sorted({6, best})
    module, variables = load_hrnet(workdir / run_folder.HRNET_EXPORT)
    assert module.config.width == 4
    assert jax.tree.structure(variables["params"]) == jax.tree.structure(final.params)


def test_resuming_with_another_config_is_refused(hrnet_run):
    workdir, config, _ = hrnet_run
    config = _config("synthetic_hrnet", optimizer__learning_rate=0.01)
    with pytest.raises(CheckpointError, match="optimizer.learning_rate: 0.002 -> 0.01"):
        train_and_evaluate(config, workdir)


def test_gnn_run_on_the_exported_hrnet(hrnet_run, tmp_path, monkeypatch):
    hrnet_dir, _, _ = hrnet_run
    config = _config("synthetic_gnn", hrnet__checkpoint=str(hrnet_dir / run_folder.HRNET_EXPORT),
                     data__root=str(hrnet_dir / "synthetic_world"), gnn__hidden=16,
                     num_train_steps=4, eval_every_steps=4)
    # Graphs are padded to one budget, so the step compiles once whatever the windows hold.
    monkeypatch.setattr(steps, "gnn_train_step", chex.assert_max_traces(steps.gnn_train_step, 1))
    final = train_and_evaluate(config, tmp_path)
    val = [r for r in read_metrics(tmp_path) if "val/loss" in r]
    assert [r["step"] for r in val] == [0, 4]
    assert {"val/pckh", "val/candidate_accuracy"} <= set(val[-1])
    gnn = run_folder.load_gnn(tmp_path / run_folder.GNN_EXPORT)
    assert gnn.module.config == gnn_mode.gnn_config(config)
    windows = inputs.window_config(config)
    assert gnn.crops == CropSettings(windows.input_hw, windows.box_enlarge, windows.track_enlarge)
    chex.assert_trees_all_equal(gnn.variables["params"], final.params)


def test_gnn_run_with_hrnet_estimated_history(hrnet_run, tmp_path):
    hrnet_dir, _, _ = hrnet_run
    settings = dict(hrnet__checkpoint=str(hrnet_dir / run_folder.HRNET_EXPORT),
                    data__root=str(hrnet_dir / "synthetic_world"), gnn__hidden=16,
                    gnn__history_source="hrnet", num_train_steps=2, eval_every_steps=2)
    # The 6-step HRNet's heatmap peaks are tiny: no estimated joint passes tau_joint = 0.2.
    with pytest.raises(DataError, match="no window of the .* above gnn.joint_threshold 0.2"):
        train_and_evaluate(_config("synthetic_gnn", **settings), tmp_path / "untrained")
    config = _config("synthetic_gnn", gnn__joint_threshold=0.0, **settings)
    train_and_evaluate(config, tmp_path)
    assert "val/pckh" in read_metrics(tmp_path)[-1]
    # One estimate per labelled train person with an annotated joint, keyed by its track.
    cache = np.load(tmp_path / "history_estimates" / "train.p0.npz")
    source = inputs.frame_source(config.data, "train", tmp_path)
    expected = {(r, int(source[r]["people"]["track_id"][s])) for r in range(len(source))
                if source[r]["is_labeled"] for s in range(int(source[r]["people"]["count"]))
                if np.any(source[r]["people"]["keypoints"][s] != 0)}
    assert set(zip(cache["records"].tolist(), cache["tracks"].tolist(), strict=True)) == expected
    assert cache["poses"].shape == (len(expected), 17, 3)
    with pytest.raises(ConfigError, match="history_source"):
        train_and_evaluate(_config("synthetic_gnn", gnn__history_source="detector",
                                   hrnet__checkpoint=str(hrnet_dir / run_folder.HRNET_EXPORT),
                                   data__root=str(hrnet_dir / "synthetic_world")),
                           tmp_path / "bad")


def test_gnn_mode_needs_an_hrnet_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="hrnet.checkpoint is empty"):
        train_and_evaluate(_config("synthetic_gnn"), tmp_path / "a")
    with pytest.raises(CheckpointError, match="not a converted HRNet checkpoint"):
        train_and_evaluate(_config("synthetic_gnn", hrnet__checkpoint=str(tmp_path / "none")),
                           tmp_path / "b")


def test_tfds_source_feeds_the_hrnet_loaders(tmp_path):
    config = _config("synthetic_hrnet", data__source="tfds", data__tfds_name="synthetic",
                     data__tfds_config="tiny", data__root=str(tmp_path / "tfds"))
    train, val, num_people = inputs.hrnet_loaders(config, tmp_path / "unused", 2)
    batch = inputs.hrnet_batch(next(iter(train)))
    assert num_people > 0
    assert batch["image"].shape == (1, 2, 64, 32, 3)
    assert batch["heatmaps"].shape == (1, 2, 16, 8, 17)
    batches = list(val)
    valid = np.concatenate([b.valid.ravel() for b in batches])
    assert valid.sum() == 8 == len(valid)  # data.max_val_examples
    assert not (tmp_path / "unused").exists()  # a TFDS source generates nothing in the workdir


def test_eval_references_are_padded_and_flagged():
    refs = np.arange(10).reshape(5, 2)
    padded = inputs.pad_refs(refs, multiple=4)
    np.testing.assert_array_equal(padded[:, -1], [1, 1, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(padded[:5, :2], refs)
    np.testing.assert_array_equal(padded[5:, :2], np.repeat(refs[:1], 3, axis=0))
    limited = inputs.pad_refs(np.arange(100)[:, None], multiple=4, limit=3)
    np.testing.assert_array_equal(limited[:, 0], [0, 50, 99, 0])
    np.testing.assert_array_equal(limited[:, 1], [1, 1, 1, 0])


def test_official_init_and_visible_only_targets(hrnet_run):
    workdir, config, _ = hrnet_run
    variables = hrnet_mode.initial_variables(config, hrnet_mode.architecture(config))
    flat = {jax.tree_util.keystr(p): np.asarray(x)
            for p, x in jax.tree_util.tree_leaves_with_path(variables["params"])}
    kernels = np.concatenate([x.ravel() for k, x in flat.items() if k.endswith("['kernel']")])
    assert abs(kernels.std() - hrnet_mode.OFFICIAL_KERNEL_STD) < 1e-4
    assert all(not x.any() for k, x in flat.items() if k.endswith("['bias']"))
    assert all((x == 1).all() for k, x in flat.items() if k.endswith("['scale']"))
    source = pipeline.folder_source(workdir / "synthetic_world", "train")
    visible = inputs.VisibleJointsSource(source)
    hidden = [(r, p) for r in range(len(source))
              for p in range(source[r]["people"]["count"])
              if ((source[r]["people"]["keypoints"][p, :, 2] == 0)
                  & source[r]["people"]["keypoints"][p].any(-1)).any()]
    assert hidden, "the tiny world should hide some joints"
    r, p = hidden[0]
    before, after = source[r]["people"]["keypoints"][p], visible[r]["people"]["keypoints"][p]
    shown = before[:, 2] > 0
    np.testing.assert_array_equal(after[shown], before[shown])
    assert not after[~shown].any()


def test_empty_training_split(tmp_path):
    root = tmp_path / "data"
    (root / "annotations" / "train").mkdir(parents=True)
    (root / "images").mkdir()
    config = _config("synthetic_hrnet", data__source="folder", data__root=str(root))
    with pytest.raises(DataError, match="no .json sequence files"):
        train_and_evaluate(config, tmp_path / "w")


def test_divergence_stops_with_the_last_good_checkpoint(hrnet_run, tmp_path):
    hrnet_dir, _, _ = hrnet_run
    # Fine for two steps, then a rate of 1e27: the run must stop before saving step 4.
    config = _config("synthetic_hrnet", data__root=str(hrnet_dir / "synthetic_world"),
                     optimizer__decay_epochs=(0.5,), optimizer__decay_factor=1e30,
                     num_train_steps=6, log_every_steps=1, eval_every_steps=0,
                     eval_at_start=False)
    # Half an epoch is (number of people // 4) / 2 steps; put it just after step 2.
    spe = schedules.steps_per_epoch(_train_people(hrnet_dir), 4)
    config.optimizer.decay_epochs = (2.0 / spe,)
    with pytest.raises(guard.TrainingDiverged) as info:
        train_and_evaluate(config, tmp_path)
    assert "last good checkpoint is step 2" in str(info.value)
    with checkpoints.make_manager(tmp_path, keep=1) as manager:
        assert manager.all_steps() == [2]
    assert np.isfinite(optax.tree.norm(_saved_params(tmp_path, 2)))


def _train_people(workdir: Path) -> int:
    """Annotated people in the tiny world's train split."""
    source = pipeline.folder_source(workdir / "synthetic_world", "train")
    return len(pipeline.person_refs(source.index))


def _saved_params(workdir: Path, step: int):
    """The params of a training checkpoint, read without a template."""
    import orbax.checkpoint as ocp

    with ocp.StandardCheckpointer() as ckptr:
        return ckptr.restore(workdir / checkpoints.CHECKPOINT_DIR / str(step) / "state")["params"]


def test_training_and_tracking_find_the_data_by_the_same_rules(tmp_path, monkeypatch):
    from gnnpose_jax.data import folders
    from gnnpose_jax.tracking.split import dataset_folder

    monkeypatch.setenv("HOME", str(tmp_path))

    def data(**fields):
        return ml_collections.ConfigDict(
            {"source": "synthetic", "root": "", "manual_dir": "", **fields})

    world = tmp_path / "run" / folders.DEFAULT_WORLD_DIR
    assert folders.data_root(data(), tmp_path / "run") == world
    assert dataset_folder(data(), tmp_path / "run") == world
    assert dataset_folder(data(source="folder", root="~/pt"), "run") == tmp_path / "pt"
    tfds = data(source="tfds", root="~/tfds")
    assert folders.data_root(tfds, "run") == tmp_path / "tfds"
    assert dataset_folder(tfds, "run") == tmp_path / "tfds" / "downloads" / "manual"
    assert dataset_folder(data(source="tfds", root="~/tfds", manual_dir="~/rel"),
                          "run") == tmp_path / "rel"
    assert dataset_folder(data(source="folder"), "run", Path("x")) == Path("x")
    with pytest.raises(ConfigError, match="data.root is empty"):
        folders.data_root(data(source="folder"), "run")
    with pytest.raises(DataError, match="pass --data DIR"):
        dataset_folder(data(source="tfds"), "run")


def test_package_faces_export_their_names_and_stay_cheap_to_import():
    code = """
import sys
import gnnpose_jax.data, gnnpose_jax.models
heavy = sorted(m for m in ("cv2", "jax", "grain", "tensorflow_datasets") if m in sys.modules)
assert not heavy, heavy
import gnnpose_jax.graphs, gnnpose_jax.tracking, gnnpose_jax.training, gnnpose_jax.evaluation
for package in (gnnpose_jax.data, gnnpose_jax.models, gnnpose_jax.tracking, gnnpose_jax.graphs,
                gnnpose_jax.training, gnnpose_jax.evaluation):
    for name in package.__all__:
        assert getattr(package, name) is not None, (package.__name__, name)
"""
    subprocess.run([sys.executable, "-c", code], check=True)
