"""The GNN export's format: `gnn.json` (architecture, graph and crop settings) and Orbax
variables, written by `models.run_folder.export_gnn`.

Lives beside the model so that the tracker can load a GNN without importing training code.
The export holds every setting inference must repeat of training: the graph spec (n, τ_joint,
the candidate grid, the decode radius, in `GnnConfig.graph`), how the crops were cut
(`CropSettings`: input size and enlargements) and the compute dtype it was trained in
(`compute_dtype`; float32 for exports older than the field).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from gnnpose_jax.data.transforms import BOX_ENLARGE
from gnnpose_jax.data.windows import FEATURE_SOURCES, TRACK_ENLARGE
from gnnpose_jax.errors import CheckpointError
from gnnpose_jax.graphs import CandidateGrid, GraphSpec
from gnnpose_jax.models import precision
from gnnpose_jax.models.gnn import GnnConfig, GnnPose
from gnnpose_jax.models.restore import VARIABLES_DIR

GNN_JSON = "gnn.json"
GNN_FORMAT = "gnnpose_jax.gnn/2"
#: Read too: exports without `crops` (their crops used the default enlargements).
OLD_GNN_FORMATS = ("gnnpose_jax.gnn/1",)


@dataclasses.dataclass(frozen=True)
class CropSettings:
    """How the GNN's training windows cut their crops, which inference repeats (`data.windows`).

    Attributes:
      input_hw: (H, W) of the crops.
      box_enlarge: enlargement of a history pose's box (a detection crop).
      track_enlarge: extra enlargement of the current crop around the last pose.
      feature_source: where the crops come from (`data.windows.FEATURE_SOURCES`): "poses",
        crops of their own around the poses (exports older than the field), or "detections",
        the detection crops HRNet already ran on (`tracking.gnn_predictor`).
    """

    input_hw: tuple[int, int]
    box_enlarge: float = BOX_ENLARGE
    track_enlarge: float = TRACK_ENLARGE
    feature_source: str = "poses"


@dataclasses.dataclass(frozen=True)
class GnnExport:
    """A loaded GNN export: what the tracker needs to run the GNN as it was trained.

    Attributes:
      module: the `GnnPose` (in the compute dtype asked for, else the recorded one);
        `module.config.graph` is its `GraphSpec`.
      variables: `{"params"}`.
      crops: how its crops are cut.
      hrnet_checkpoint: the frozen HRNet whose features it was trained on.
      trained_dtype: the compute dtype it was trained in ("float32" or "bfloat16").
    """

    module: GnnPose
    variables: Any
    crops: CropSettings
    hrnet_checkpoint: Path
    trained_dtype: str = precision.DEFAULT_DTYPE

    @property
    def spec(self) -> GraphSpec:
        """The graph settings: n, τ_joint, the candidate grid and the decode radius."""
        return self.module.config.graph


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


def write_gnn(path: Path, config: GnnConfig, params: Any, hrnet_checkpoint: str | Path,
              crops: CropSettings, compute_dtype: str = precision.DEFAULT_DTYPE) -> None:
    """Writes a GNN export's files into the new folder `path` (`run_folder.export_gnn` stages it).

    Args:
      path: the folder to create.
      config: the architecture and graph settings.
      params: the trained parameters (host).
      hrnet_checkpoint: the frozen HRNet it was trained on.
      crops: how its training crops were cut.
      compute_dtype: the compute dtype it was trained in.
    """
    import orbax.checkpoint as ocp

    path.mkdir()
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(path / VARIABLES_DIR, {"params": params})
    meta = {"format": GNN_FORMAT, "config": gnn_config_to_json(config),
            "hrnet_checkpoint": str(Path(hrnet_checkpoint).absolute()),
            "input_hw": list(crops.input_hw),
            "crops": {"box_enlarge": crops.box_enlarge, "track_enlarge": crops.track_enlarge,
                      "feature_source": crops.feature_source},
            precision.EXPORT_FIELD: precision.dtype_name(compute_dtype)}
    (path / GNN_JSON).write_text(json.dumps(meta, indent=2) + "\n")


def crops_from_json(meta: dict[str, Any]) -> CropSettings:
    """The `CropSettings` of a `gnn.json`; an export without `crops` (or without its
    `feature_source`) has the default ones."""
    h, w = meta["input_hw"]
    crops = dict(meta.get("crops", {}))
    source = crops.pop("feature_source", "poses")
    if source not in FEATURE_SOURCES:
        raise ValueError(f"crops.feature_source {source!r}, expected one of {FEATURE_SOURCES}")
    return CropSettings((int(h), int(w)), **{k: float(v) for k, v in crops.items()},
                        feature_source=source)


def load_gnn(directory: str | Path, dtype: Any = None) -> GnnExport:
    """Reads a GNN export.

    Args:
      directory: a folder written by `export_gnn` (WORKDIR/gnn of a GNN-mode run).
      dtype: compute dtype of the module ("float32", "bfloat16" or a JAX dtype); None: the
        one `gnn.json` records.

    Returns:
      The export: `export.module.apply(export.variables, graphs, features)` gives the logits.

    Raises:
      CheckpointError: not a GNN export, or a malformed or incomplete one.
    """
    import orbax.checkpoint as ocp

    directory = Path(directory).absolute()
    meta_path = directory / GNN_JSON
    if not meta_path.is_file() or not (directory / VARIABLES_DIR).is_dir():
        raise CheckpointError(f"{directory}: not a GNN export (expected {GNN_JSON} and "
                              f"{VARIABLES_DIR}/ inside, written by a GNN-mode train.py run)")
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") not in (GNN_FORMAT, *OLD_GNN_FORMATS):
            raise ValueError(f"format {meta.get('format')!r}, expected {GNN_FORMAT!r}")
        config = gnn_config_from_json(meta["config"])
        crops = crops_from_json(meta)
        hrnet_checkpoint = Path(meta["hrnet_checkpoint"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path}: malformed ({e})") from None
    trained = precision.recorded_dtype(meta, str(meta_path))
    module = GnnPose(config, dtype=precision.inference_dtype(trained, dtype))
    try:
        with ocp.StandardCheckpointer() as ckptr:
            variables = ckptr.restore(directory / VARIABLES_DIR)
    except (OSError, ValueError) as e:
        ignore_orphaned_reads()
        reason = str(e).splitlines()[0].split(" [tensorstore_spec=")[0]
        raise CheckpointError(f"{directory}: GNN export is damaged or incomplete, cannot read "
                              f"{VARIABLES_DIR}/ ({reason}); export it again or retrain") from None
    return GnnExport(module, variables, crops, hrnet_checkpoint, trained)
