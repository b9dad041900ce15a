"""Reading a trained GNN: its JSON description and variables (written by `training.export`).

Lives beside the model so that the tracker can load a GNN without importing training code.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from gnnpose_jax.errors import CheckpointError
from gnnpose_jax.graphs import CandidateGrid, GraphSpec
from gnnpose_jax.models.gnn import GnnConfig, GnnPose

GNN_JSON = "gnn.json"
GNN_FORMAT = "gnnpose_jax.gnn/1"
ORBAX_DIR = "variables"


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
    # Exports written before relative offsets existed have none (newer graph fields default
    # to the old behaviour).
    data.setdefault("relative_offsets", False)
    return GnnConfig(graph=spec, **data)


def ignore_orphaned_reads() -> None:
    """Silences the reads that a failed Orbax restore leaves in flight.

    When one array cannot be read, Orbax closes its event loop while tensorstore still
    completes the other reads; each then reports `RuntimeError('Event loop is closed')` as an
    unraisable exception, a traceback on stderr after the one-line error. From now on that
    exception, and only that one, is dropped.
    """
    previous = sys.unraisablehook

    def hook(unraisable):
        if not (unraisable.exc_type is RuntimeError
                and str(unraisable.exc_value) == "Event loop is closed"):
            previous(unraisable)

    sys.unraisablehook = hook


def load_gnn(directory: str | Path) -> tuple[GnnPose, dict[str, Any], dict[str, Any]]:
    """Reads a GNN export.

    Args:
      directory: a folder written by `export_gnn` (WORKDIR/gnn of a GNN-mode run).

    Returns:
      (module, variables, meta): `module.apply(variables, graphs, features)` gives the
      logits; `meta` holds `config`, `hrnet_checkpoint` and `input_hw`.

    Raises:
      CheckpointError: not a GNN export, or a malformed or incomplete one.
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
    try:
        with ocp.StandardCheckpointer() as ckptr:
            variables = ckptr.restore(directory / ORBAX_DIR)
    except (OSError, ValueError) as e:
        ignore_orphaned_reads()
        reason = str(e).splitlines()[0].split(" [tensorstore_spec=")[0]
        raise CheckpointError(f"{directory}: GNN export is damaged or incomplete, cannot read "
                              f"{ORBAX_DIR}/ ({reason}); export it again or retrain") from None
    return GnnPose(meta["config"]), variables, meta
