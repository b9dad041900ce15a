"""The run folder's layout, and the exports of both networks written into it.

A training run's folder (WORKDIR) holds:

- `hrnet/` (HRNet mode): `models.hrnet.save_hrnet`'s format, read by `load_hrnet`,
  `pretrained.load_pose_network` and GNN-mode runs (`hrnet.checkpoint`);
- `gnn/` (GNN mode): `models.gnn_io`'s format (`gnn.json` with the architecture, graph and crop
  settings and the frozen HRNet's path; Orbax `variables/`), read by `load_gnn`;
- `yolox/` (detector mode): a converted YOLOX folder (`models.yolox.save_yolox`), read by
  `pretrained.load_detector` (`--detector WORKDIR/yolox`);
- `config.json`: the run config (`training.config.pin_workdir_config`), whose `tracker`
  section `track` reads.

Every export records the compute dtype its network was trained in (`compute_dtype`), which
inference uses unless told otherwise.

An export replaces the previous one atomically (`atomic.replace_dir`): the new folder is written
beside it and swapped in, so a reader never sees half an export. Orbax saves are collective in a
multi-process run, so every process calls the export functions: process 0 writes the export,
the others write a scratch copy that they delete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from gnnpose_jax import atomic
from gnnpose_jax.data.transforms import BOX_ENLARGE
from gnnpose_jax.data.windows import TRACK_ENLARGE
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.models.gnn import GnnConfig
from gnnpose_jax.models.gnn_io import CropSettings, GnnExport, load_gnn, write_gnn
from gnnpose_jax.models.hrnet import HRNetConfig, save_hrnet
from gnnpose_jax.models.precision import DEFAULT_DTYPE
from gnnpose_jax.models.yolox import YoloxConfig, save_yolox

HRNET_EXPORT = "hrnet"
GNN_EXPORT = "gnn"
YOLOX_EXPORT = "yolox"
CONFIG_JSON = "config.json"

__all__ = ["CONFIG_JSON", "GNN_EXPORT", "HRNET_EXPORT", "YOLOX_EXPORT", "export_gnn",
           "export_hrnet", "export_yolox", "load_gnn", "read_run_config", "GnnExport"]


def read_run_config(workdir: str | os.PathLike, remedy: str) -> dict[str, Any] | None:
    """The config a training run stored in WORKDIR/config.json, or None if it has none.

    Args:
      workdir: the run's folder.
      remedy: what the user can do if the file is unreadable, for the message.

    Raises:
      ConfigError: one line naming the file, what is wrong with it and `remedy`: it cannot be
        read, is not JSON (e.g. truncated), or is not a JSON object.
    """
    path = Path(workdir) / CONFIG_JSON
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        problem = f"cannot read the run's stored config ({e.strerror})"
    except ValueError as e:  # not JSON, or not UTF-8
        problem = f"the run's stored config is malformed ({str(e).splitlines()[0][:120]})"
    else:
        if isinstance(stored, dict):
            return stored
        problem = f"the run's stored config is a JSON {type(stored).__name__}, not an object"
    raise ConfigError(f"{path}: {problem}; {remedy}")


def _replace_dir(target: Path, write: Callable[[Path], None]) -> None:
    """`atomic.replace_dir`, published by process 0 only (the others write a scratch copy)."""
    atomic.replace_dir(target, write, publish=jax.process_index() == 0)


def export_hrnet(directory: str | Path, config: HRNetConfig, variables: dict[str, Any],
                 input_hw: tuple[int, int], compute_dtype: str = DEFAULT_DTYPE) -> None:
    """Writes (or replaces) an HRNet export readable by `load_hrnet`, in PoseTrack's joint
    layout (what training produces).

    Args:
      directory: the export folder, usually WORKDIR/hrnet.
      config: the architecture.
      variables: `{"params", "batch_stats"}` on the host.
      input_hw: the (H, W) the network was trained at.
      compute_dtype: the compute dtype it was trained in (inference's default).
    """
    _replace_dir(Path(directory),
                 lambda path: save_hrnet(path, config, jax.device_get(variables), input_hw,
                                         joints="posetrack", compute_dtype=compute_dtype))


def export_gnn(directory: str | Path, config: GnnConfig, params: Any, hrnet_checkpoint: str,
               input_hw: tuple[int, int], box_enlarge: float = BOX_ENLARGE,
               track_enlarge: float = TRACK_ENLARGE, compute_dtype: str = DEFAULT_DTYPE,
               feature_source: str = "poses") -> None:
    """Writes (or replaces) a GNN export readable by `load_gnn`.

    Args:
      directory: the export folder, usually WORKDIR/gnn.
      config: the GNN's architecture and graph settings.
      params: the trained parameters (host).
      hrnet_checkpoint: the frozen HRNet it was trained on.
      input_hw: the (H, W) of the crops.
      box_enlarge, track_enlarge: the crop enlargements of its training windows
        (`data.windows.WindowConfig`).
      compute_dtype: the compute dtype it was trained in (inference's default).
      feature_source: where its training windows' crops came from ("poses" or "detections").
    """
    crops = CropSettings(tuple(input_hw), box_enlarge, track_enlarge, feature_source)
    _replace_dir(Path(directory),
                 lambda path: write_gnn(path, config, jax.device_get(params), hrnet_checkpoint,
                                        crops, compute_dtype))


def export_yolox(directory: str | Path, config: YoloxConfig, variables: dict[str, Any],
                 compute_dtype: str = DEFAULT_DTYPE) -> None:
    """Writes (or replaces) a YOLOX export readable by `load_yolox` and `load_detector`.

    Args:
      directory: the export folder, usually WORKDIR/yolox.
      config: the architecture; `input_size` is the square letterbox inference uses.
      variables: `{"params", "batch_stats"}` on the host.
      compute_dtype: the compute dtype it was trained in (inference's default).
    """
    _replace_dir(Path(directory),
                 lambda path: save_yolox(path, config, jax.device_get(variables), compute_dtype))
