"""Configs for fast training tests: a config file with a very small HRNet and world (MICRO), so
that a run compiles and trains in seconds."""

from pathlib import Path

import ml_collections

from gnnpose_jax.training import config as config_lib

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p.stem for p in (ROOT / "configs").glob("*.py")
                 if p.stem not in ("__init__", "base"))
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


def micro_config(name: str, **overrides) -> ml_collections.ConfigDict:
    """A config file with the MICRO settings and `overrides` (dots written as __)."""
    config = config_lib.load_config_file(str(ROOT / "configs" / f"{name}.py"))
    for key, value in {**MICRO, **{k.replace("__", "."): v for k, v in overrides.items()}
                       }.items():
        _set(config, key, value)
    return config
