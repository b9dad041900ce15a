"""Trained networks written for the other tools: WORKDIR/hrnet and WORKDIR/gnn.

- `WORKDIR/hrnet` (HRNet mode): `models.hrnet.save_hrnet`'s format, so `load_hrnet` and GNN-mode
  runs (`hrnet.checkpoint`) read it.
- `WORKDIR/gnn` (GNN mode): `gnn.json` (the `GnnConfig`, the frozen HRNet's path and the crop
  size) and an Orbax checkpoint of `{"params"}` in `variables/`; `load_gnn` reads it.

An export replaces the previous one atomically: the new folder is written beside it and swapped
in, so a reader never sees half an export.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from gnnpose_jax.errors import CheckpointError
from gnnpose_jax.graphs import CandidateGrid, GraphSpec
from gnnpose_jax.models.gnn import GnnConfig, GnnPose
from gnnpose_jax.models.hrnet import HRNetConfig, save_hrnet

HRNET_EXPORT = "hrnet"
GNN_EXPORT = "gnn"
GNN_JSON = "gnn.json"
GNN_FORMAT = "gnnpose_jax.gnn/1"
ORBAX_DIR = "variables"


def _replace_dir(target: Path, write: Callable[[Path], None]) -> None:
    """Runs `write(new_folder)` beside `target`, then swaps the result in for `target`."""
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = staging.with_name(staging.name + ".old")
    try:
        write(staging / "new")
        if target.exists():
            os.replace(target, old)
        os.replace(staging / "new", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def export_hrnet(directory: str | Path, config: HRNetConfig, variables: dict[str, Any],
                 input_hw: tuple[int, int]) -> None:
    """Writes (or replaces) an HRNet export readable by `load_hrnet`.

    Args:
      directory: the export folder, usually WORKDIR/hrnet.
      config: the architecture.
      variables: `{"params", "batch_stats"}` on the host.
      input_hw: the (H, W) the network was trained at.
    """
    _replace_dir(Path(directory),
                 lambda path: save_hrnet(path, config, jax.device_get(variables), input_hw))


def gnn_config_to_json(config: GnnConfig) -> dict[str, Any]:
    """The GNN config (graph spec and candidate grid included) as JSON values."""
    return dataclasses.asdict(config)


def gnn_config_from_json(data: dict[str, Any]) -> GnnConfig:
    """Inverse of `gnn_config_to_json`."""
    data = dict(data)
    graph = dict(data.pop("graph"))
    grid = dict(graph.pop("grid"))
    grid["feature_hw"] = tuple(grid["feature_hw"])
    spec = GraphSpec(grid=CandidateGrid(**grid), **graph)
    data["distance_weight_init"] = tuple(data["distance_weight_init"])
    return GnnConfig(graph=spec, **data)


def export_gnn(directory: str | Path, config: GnnConfig, params: Any, hrnet_checkpoint: str,
               input_hw: tuple[int, int]) -> None:
    """Writes (or replaces) a GNN export readable by `load_gnn`.

    Args:
      directory: the export folder, usually WORKDIR/gnn.
      config: the GNN's architecture and graph settings.
      params: the trained parameters (host).
      hrnet_checkpoint: the frozen HRNet it was trained on.
      input_hw: the (H, W) of the crops.
    """
    import orbax.checkpoint as ocp

    def write(path: Path) -> None:
        """The Orbax variables and the JSON description."""
        path.mkdir()
        with ocp.StandardCheckpointer() as ckptr:
            ckptr.save(path / ORBAX_DIR, {"params": jax.device_get(params)})
        meta = {"format": GNN_FORMAT, "config": gnn_config_to_json(config),
                "hrnet_checkpoint": str(Path(hrnet_checkpoint).absolute()),
                "input_hw": list(input_hw)}
        (path / GNN_JSON).write_text(json.dumps(meta, indent=2) + "\n")

    _replace_dir(Path(directory), write)


def load_gnn(directory: str | Path) -> tuple[GnnPose, dict[str, Any], dict[str, Any]]:
    """Reads a GNN export.

    Args:
      directory: a folder written by `export_gnn` (WORKDIR/gnn of a GNN-mode run).

    Returns:
      (module, variables, meta): `module.apply(variables, graphs, features)` gives the
      logits; `meta` holds `config`, `hrnet_checkpoint` and `input_hw`.

    Raises:
      CheckpointError: not a GNN export, or a malformed one.
    """
    import orbax.checkpoint as ocp

    directory = Path(directory).absolute()
    meta_path = directory / GNN_JSON
    if not meta_path.is_file() or not (directory / ORBAX_DIR).is_dir():
        raise CheckpointError(f"{directory}: not a GNN export (expected {GNN_JSON} and "
                              f"{ORBAX_DIR}/ inside, written by a GNN-mode train.py run)")
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != GNN_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {GNN_FORMAT!r}")
        meta["config"] = gnn_config_from_json(meta["config"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path}: malformed ({e})") from None
    with ocp.StandardCheckpointer() as ckptr:
        variables = ckptr.restore(directory / ORBAX_DIR)
    return GnnPose(meta["config"]), variables, meta
