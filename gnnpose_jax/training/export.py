"""Trained networks written for the other tools: WORKDIR/hrnet and WORKDIR/gnn.

- `WORKDIR/hrnet` (HRNet mode): `models.hrnet.save_hrnet`'s format, so `load_hrnet` and GNN-mode
  runs (`hrnet.checkpoint`) read it.
- `WORKDIR/gnn` (GNN mode): `gnn.json` (the `GnnConfig`, the frozen HRNet's path and the crop
  size) and an Orbax checkpoint of `{"params"}` in `variables/`; `load_gnn` reads it.

An export replaces the previous one atomically: the new folder is written beside it and swapped
in, so a reader never sees half an export. Orbax saves are collective in a multi-process run,
so every process calls the export functions: process 0 writes the export, the others write a
scratch copy that they delete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from gnnpose_jax.models.gnn import GnnConfig
from gnnpose_jax.models.gnn_io import (  # noqa: F401  (load_gnn: the reader of exports)
    GNN_FORMAT,
    GNN_JSON,
    ORBAX_DIR,
    gnn_config_to_json,
    load_gnn,
)
from gnnpose_jax.models.hrnet import HRNetConfig, save_hrnet

HRNET_EXPORT = "hrnet"
GNN_EXPORT = "gnn"


def _replace_dir(target: Path, write: Callable[[Path], None]) -> None:
    """Runs `write(new_folder)` beside `target`, then swaps the result in for `target`.

    On processes other than 0, `write` runs into a scratch folder that is then deleted.
    """
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = staging.with_name(staging.name + ".old")
    try:
        write(staging / "new")
        if jax.process_index() == 0:
            if target.exists():
                os.replace(target, old)
            os.replace(staging / "new", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def export_hrnet(directory: str | Path, config: HRNetConfig, variables: dict[str, Any],
                 input_hw: tuple[int, int]) -> None:
    """Writes (or replaces) an HRNet export readable by `load_hrnet`, in PoseTrack's joint
    layout (what training produces).

    Args:
      directory: the export folder, usually WORKDIR/hrnet.
      config: the architecture.
      variables: `{"params", "batch_stats"}` on the host.
      input_hw: the (H, W) the network was trained at.
    """
    _replace_dir(Path(directory),
                 lambda path: save_hrnet(path, config, jax.device_get(variables), input_hw,
                                         joints="posetrack"))


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
