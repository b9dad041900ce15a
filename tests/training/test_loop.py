"""End-to-end training runs (gnnpose_jax.training.loop, gnn_mode, hrnet_mode, checkpoints):
both modes, resumption refused on another config, divergence, missing inputs.

The runs use a very small HRNet (width 4, 64 x 32 crops) on a tiny synthetic world; the HRNet
run is made once (a module fixture) and the tests read what it left in its workdir.
"""

from __future__ import annotations

from pathlib import Path

import chex
import jax
import numpy as np
import optax
import pytest

from gnnpose_jax.data import pipeline
from gnnpose_jax.errors import CheckpointError, ConfigError, DataError
from gnnpose_jax.models import run_folder
from gnnpose_jax.models.gnn_io import CropSettings
from gnnpose_jax.models.hrnet import load_hrnet
from gnnpose_jax.tracking.plausibility import POSE_BOUNDS, PoseBounds
from gnnpose_jax.training import (
    checkpoints,
    gnn_mode,
    guard,
    inputs,
    schedules,
    steps,
    train_and_evaluate,
)
from gnnpose_jax.training.metrics import read_metrics
from tests.helpers.micro_config import micro_config


@pytest.fixture(scope="module")
def hrnet_run(tmp_path_factory):
    """A 6-step HRNet-mode run; the train step may be traced only once."""
    workdir = tmp_path_factory.mktemp("hrnet_run")
    config = micro_config("synthetic_hrnet")
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
    config = micro_config("synthetic_hrnet", optimizer__learning_rate=0.01)
    with pytest.raises(CheckpointError, match="optimizer.learning_rate: 0.002 -> 0.01"):
        train_and_evaluate(config, workdir)


def test_gnn_run_on_the_exported_hrnet(hrnet_run, tmp_path, monkeypatch):
    hrnet_dir, _, _ = hrnet_run
    # GT history: the micro HRNet is too little trained to estimate one (the estimated
    # history has its own test below).
    config = micro_config("synthetic_gnn",
                          hrnet__checkpoint=str(hrnet_dir / run_folder.HRNET_EXPORT),
                          data__root=str(hrnet_dir / "synthetic_world"), gnn__hidden=16,
                          gnn__history_source="gt", gnn__feature_source="detections",
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
    assert windows.feature_source == "detections"  # the detections' own crops, exported
    assert gnn.crops == CropSettings(windows.input_hw, windows.box_enlarge, windows.track_enlarge,
                                     windows.feature_source)
    chex.assert_trees_all_equal(gnn.variables["params"], final.params)
    # The train split's pose bounds, for the tracker's plausibility check.
    people = inputs.frame_source(config.data, "train", tmp_path)
    assert (PoseBounds.load(tmp_path / POSE_BOUNDS).to_json()
            == gnn_mode.pose_bounds(people).to_json())


def test_gnn_run_with_hrnet_estimated_history(hrnet_run, tmp_path):
    hrnet_dir, _, _ = hrnet_run
    settings = dict(hrnet__checkpoint=str(hrnet_dir / run_folder.HRNET_EXPORT),
                    data__root=str(hrnet_dir / "synthetic_world"), gnn__hidden=16,
                    gnn__history_source="hrnet", num_train_steps=2, eval_every_steps=2)
    # The 6-step HRNet's heatmap peaks are tiny: no estimated joint passes tau_joint = 0.2.
    with pytest.raises(DataError, match="no window of the .* above gnn.joint_threshold 0.2"):
        train_and_evaluate(micro_config("synthetic_gnn", **settings), tmp_path / "untrained")
    config = micro_config("synthetic_gnn", gnn__joint_threshold=0.0, **settings)
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
    for key, value in (("history_source", "detector"), ("feature_source", "boxes"),
                       ("uncovered_prob", 1.5)):
        with pytest.raises(ConfigError, match=key):
            train_and_evaluate(micro_config("synthetic_gnn", **{f"gnn__{key}": value},
                                            hrnet__checkpoint=str(hrnet_dir
                                                                  / run_folder.HRNET_EXPORT),
                                            data__root=str(hrnet_dir / "synthetic_world")),
                               tmp_path / "bad")


def test_gnn_mode_needs_an_hrnet_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="hrnet.checkpoint is empty"):
        train_and_evaluate(micro_config("synthetic_gnn"), tmp_path / "a")
    with pytest.raises(CheckpointError, match="not a converted HRNet checkpoint"):
        train_and_evaluate(micro_config("synthetic_gnn", hrnet__checkpoint=str(tmp_path / "none")),
                           tmp_path / "b")


def test_empty_training_split(tmp_path):
    root = tmp_path / "data"
    (root / "annotations" / "train").mkdir(parents=True)
    (root / "images").mkdir()
    config = micro_config("synthetic_hrnet", data__source="folder", data__root=str(root))
    with pytest.raises(DataError, match="no .json sequence files"):
        train_and_evaluate(config, tmp_path / "w")


def test_divergence_stops_with_the_last_good_checkpoint(hrnet_run, tmp_path):
    hrnet_dir, _, _ = hrnet_run
    # Fine for two steps, then a rate of 1e27: the run must stop before saving step 4.
    config = micro_config("synthetic_hrnet", data__root=str(hrnet_dir / "synthetic_world"),
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
