"""Loading, overriding and pinning run configs (`ml_collections.ConfigDict`).

- `check_overrides` names an unknown `--config.KEY` with the nearest valid key before absl sees
  it (absl would raise a bare AttributeError, often without a suggestion).
- `pin_workdir_config` stores the config as `WORKDIR/config.json` on the first run and, on a
  resume, refuses a config that differs from the stored one in anything that changes what the
  run computes (`is_computed`: the keys its mode reads), saying which keys differ.
- `compute_dtype` checks and reads `config.compute_dtype`.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ml_collections

from gnnpose_jax import atomic
from gnnpose_jax.errors import CheckpointError, ConfigError
from gnnpose_jax.models import precision
from gnnpose_jax.models.run_folder import CONFIG_JSON, read_run_config

#: Keys that only change how a run is watched or fed, never its numbers: a resumed run may
#: change them freely.
RUNTIME_KEYS = ("log_every_steps", "progress_bar", "data.num_workers", "checkpoint_every_steps",
                "checkpoint_every_epochs", "keep_checkpoints", "eval_every_steps",
                "eval_every_epochs", "num_train_steps", "num_epochs", "data.root")
#: The sections of a run config each mode reads, besides the top-level keys and
#: `COMMON_SECTIONS`; the others never change a run of that mode.
MODE_SECTIONS = {"hrnet": ("hrnet", "augment"), "gnn": ("hrnet", "gnn", "augment"),
                 "detector": ("detector", "augment")}
#: The sections every mode reads.
COMMON_SECTIONS = ("data", "optimizer")
#: Sections read at inference only (`tracking.config`), never by training.
INFERENCE_SECTIONS = ("tracker",)
#: The `detector.variant` that reads `CUSTOM_DETECTOR_KEYS`; an official variant brings its own
#: values and leaves these keys unset (`training.detector_mode.architecture`).
CUSTOM_VARIANT = "custom"
CUSTOM_DETECTOR_KEYS = ("depth", "width", "depthwise")
_OVERRIDE_PREFIX = "--config."
#: Keys added after runs were pinned, with the value those runs computed with: a stored config
#: without the key is the same as one with that value.
ADDED_KEYS = {"compute_dtype": "float32"}


def flatten(config: ml_collections.ConfigDict | dict, prefix: str = "") -> dict[str, Any]:
    """`{"a.b": value}` for every leaf of a (nested) config."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, ml_collections.ConfigDict | dict):
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def nearest_key(key: str, valid: Sequence[str]) -> str:
    """The valid key closest to `key` (difflib ratio on the dotted path, then on the leaf)."""
    best = difflib.get_close_matches(key, valid, n=1, cutoff=0.0)
    leaf = key.rsplit(".", 1)[-1]
    leaves = {k.rsplit(".", 1)[-1]: k for k in valid}
    by_leaf = difflib.get_close_matches(leaf, list(leaves), n=1, cutoff=0.6)
    if by_leaf and (not best or difflib.SequenceMatcher(None, key, best[0]).ratio() < 0.6):
        return leaves[by_leaf[0]]
    return best[0] if best else ""


def override_keys(argv: Sequence[str]) -> list[str]:
    """The dotted keys of the `--config.KEY=VALUE` / `--config.KEY VALUE` arguments in argv."""
    keys = []
    for arg in argv:
        if arg.startswith(_OVERRIDE_PREFIX):
            keys.append(arg[len(_OVERRIDE_PREFIX):].split("=", 1)[0])
    return keys


def config_path(argv: Sequence[str]) -> str | None:
    """The value of `--config` in argv (`--config=PATH` or `--config PATH`), if any."""
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def load_config_file(spec: str) -> ml_collections.ConfigDict:
    """Imports a config file and calls its `get_config()` (`PATH:ARG` calls `get_config(ARG)`).

    Args:
      spec: `configs/NAME.py` or `configs/NAME.py:ARG`.

    Returns:
      The config.

    Raises:
      ConfigError: a missing file or one without `get_config`.
    """
    path, _, arg = spec.partition(":")
    if not os.path.isfile(path):
        raise ConfigError(f"--config {path}: file not found (expected configs/NAME.py)")
    folder = Path(path).resolve().parent
    if (folder / "__init__.py").is_file() and str(folder.parent) not in sys.path:
        # Configs import their base as `from configs import base`: make the package's parent
        # importable, as running train.py from the project root does.
        sys.path.insert(0, str(folder.parent))
    module_spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"--config {path}: defines no get_config()")
    return module.get_config(arg) if arg else module.get_config()


def check_overrides(argv: Sequence[str], config: ml_collections.ConfigDict) -> None:
    """Refuses `--config.KEY` overrides in argv naming keys the loaded `config` lacks.

    Raises:
      ConfigError: an unknown key (named with the nearest valid one).
    """
    valid = list(flatten(config))
    nested = {k.rsplit(".", i)[0] for k in valid for i in range(1, k.count(".") + 1)}
    for key in override_keys(argv):
        if key not in valid and key not in nested:
            raise ConfigError(f"--config.{key}: no such key in {config_path(argv)}; nearest "
                              f"valid key: {nearest_key(key, valid)}")


def to_json(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The config as plain JSON values (tuples become lists)."""
    return json.loads(config.to_json())


def is_computed(key: str, config: ml_collections.ConfigDict | dict[str, Any]) -> bool:
    """Whether the dotted `key` changes what a run of `config` computes.

    True for the top-level keys and those of the sections its mode reads (`MODE_SECTIONS`,
    `COMMON_SECTIONS`; an unknown mode reads every section), except `RUNTIME_KEYS`, the
    `INFERENCE_SECTIONS`, and `CUSTOM_DETECTOR_KEYS` unless `detector.variant` is "custom".
    """
    if key in RUNTIME_KEYS:
        return False
    if "." not in key:
        return True
    section, leaf = key.split(".", 1)
    modes = MODE_SECTIONS.get(config["mode"])
    if section in INFERENCE_SECTIONS or (modes is not None
                                         and section not in (*COMMON_SECTIONS, *modes)):
        return False
    if section == "detector" and leaf in CUSTOM_DETECTOR_KEYS:
        return config["detector"]["variant"] == CUSTOM_VARIANT
    return True


def _differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """`key: stored -> current` for every key that differs and changes what the current
    config's run computes (`is_computed`)."""
    a, b = {**ADDED_KEYS, **flatten(stored)}, flatten(current)
    out = []
    for key in sorted(set(a) | set(b)):
        if is_computed(key, current) and a.get(key, "<absent>") != b.get(key, "<absent>"):
            out.append(f"{key}: {a.get(key, '<absent>')!r} -> {b.get(key, '<absent>')!r}")
    return out


def compute_dtype(config: ml_collections.ConfigDict) -> Any:
    """The JAX dtype of `config.compute_dtype` ("float32" or "bfloat16").

    Raises:
      ConfigError: any other value, in one line.
    """
    return precision.compute_dtype(config.compute_dtype, "compute_dtype")


def pin_workdir_config(workdir: str | Path, config: ml_collections.ConfigDict,
                       has_checkpoint: bool, write: bool = True) -> None:
    """Stores the config in the workdir, or checks it against the stored one when resuming.

    Args:
      workdir: the run's folder.
      config: the current config.
      has_checkpoint: whether the workdir holds a training checkpoint.
      write: write `config.json` (process 0 only in multi-host runs).

    Raises:
      CheckpointError: the workdir's checkpoint was made with a different config.
      ConfigError: resuming, the stored config.json cannot be read (`read_run_config`).
    """
    path = Path(workdir) / CONFIG_JSON
    current = to_json(config)
    stored = None
    if has_checkpoint:
        stored = read_run_config(workdir, "it records the config of the run's checkpoints: "
                                          "restore it, or train into a new --workdir")
    if stored is not None:
        diff = _differences(stored, current)
        if diff:
            shown = "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
            raise CheckpointError(f"{path}: the workdir holds a checkpoint of another config "
                                  f"({shown}); use a new --workdir or the stored config")
    if write:
        atomic.write_text(path, json.dumps(current, indent=2) + "\n")
