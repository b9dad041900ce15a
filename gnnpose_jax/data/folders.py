"""Where a run config's data live on disk: the one set of rules training and tracking share.

A run config's `data` section (configs/base.py) names the data by `source`:
- "synthetic": a generated world, at `data.root`, else `WORKDIR/synthetic_world`;
- "folder": a PoseTrack-layout folder at `data.root`;
- "tfds": a TFDS dataset whose data_dir is `data.root`, built from the PoseTrack release at
  `data.manual_dir`, else at TFDS's default `<data.root>/downloads/manual`.

Training reads `data_root` (the TFDS data_dir for "tfds"); tracking and evaluation read the
PoseTrack-layout folder itself, `posetrack_folder` (the release folder for "tfds"). Paths
starting with `~` are expanded. Light on purpose (no JAX, no TFDS): the CLIs import it early.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gnnpose_jax.errors import ConfigError

#: The splits the project's datasets have: a synthetic world's and the TFDS builder's.
SPLITS = ("train", "val")
#: Where a synthetic world goes when `data.root` is empty: this folder of the run's workdir.
DEFAULT_WORLD_DIR = "synthetic_world"


def data_root(data: Any, workdir: str | Path) -> Path:
    """`data.root`, or `WORKDIR/synthetic_world` for a synthetic world with an empty root.

    Args:
      data: the run config's `data` section.
      workdir: the run's folder (home of a synthetic world generated with an empty data.root).

    Raises:
      ConfigError: `data.root` is empty and the source is not synthetic.
    """
    if data.root:
        return Path(data.root).expanduser()
    if data.source != "synthetic":
        raise ConfigError(f"data.root is empty; data.source {data.source!r} needs the dataset "
                          "folder (a PoseTrack folder, or the TFDS data_dir)")
    return Path(workdir) / DEFAULT_WORLD_DIR


def manual_folder(data: Any, workdir: str | Path) -> Path:
    """The PoseTrack release a TFDS dataset is built from: `data.manual_dir`, else TFDS's default.

    Args:
      data: the run config's `data` section (source "tfds").
      workdir: the run's folder.

    Raises:
      ConfigError: both `data.manual_dir` and `data.root` are empty.
    """
    if data.manual_dir:
        return Path(data.manual_dir).expanduser()
    return data_root(data, workdir) / "downloads" / "manual"


def posetrack_folder(data: Any, workdir: str | Path) -> Path:
    """The PoseTrack-layout folder (annotations, frames, detections) of a run config's data.

    The release folder for a TFDS source, else `data_root`.

    Raises:
      ConfigError: the config names no folder.
    """
    if data.source == "tfds":
        return manual_folder(data, workdir)
    return data_root(data, workdir)
