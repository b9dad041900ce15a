"""The networks in Flax: HRNet (pose), the pose-dynamics GNN, YOLOX (person boxes), and their files.

`load_pose_network` and `load_detector` read an exported or converted checkpoint;
`TopDownEstimator` runs HRNet on person boxes, `PersonDetector` finds them; `load_hrnet`,
`load_gnn` and `load_yolox` read the exports of each network. Submodules also hold the
PyTorch converters (`hrnet_convert`, `yolox_convert`, `torch_files`) and a training run's
folder layout (`run_folder`).

The names below are re-exported lazily (PEP 562): every module here imports JAX and Flax, so
importing one of them (say `models.torch_files`) does not also load the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Public name -> the submodule defining it.
_EXPORTS = {
    "HRNet": "hrnet",
    "HRNetConfig": "hrnet",
    "load_hrnet": "hrnet",
    "GnnConfig": "gnn",
    "GnnPose": "gnn",
    "GnnExport": "gnn_io",
    "load_gnn": "gnn_io",
    "YOLOX": "yolox",
    "YoloxConfig": "yolox",
    "load_yolox": "yolox",
    "PersonDetector": "detect",
    "TopDownEstimator": "topdown",
    "PoseNetwork": "pretrained",
    "load_detector": "pretrained",
    "load_pose_network": "pretrained",
}

__all__ = [
    "YOLOX",
    "GnnConfig",
    "GnnExport",
    "GnnPose",
    "HRNet",
    "HRNetConfig",
    "PersonDetector",
    "PoseNetwork",
    "TopDownEstimator",
    "YoloxConfig",
    "load_detector",
    "load_gnn",
    "load_hrnet",
    "load_pose_network",
    "load_yolox",
]

if TYPE_CHECKING:
    from gnnpose_jax.models.detect import PersonDetector
    from gnnpose_jax.models.gnn import GnnConfig, GnnPose
    from gnnpose_jax.models.gnn_io import GnnExport, load_gnn
    from gnnpose_jax.models.hrnet import HRNet, HRNetConfig, load_hrnet
    from gnnpose_jax.models.pretrained import PoseNetwork, load_detector, load_pose_network
    from gnnpose_jax.models.topdown import TopDownEstimator
    from gnnpose_jax.models.yolox import YOLOX, YoloxConfig, load_yolox


def __getattr__(name: str):
    """Imports the submodule defining a public name on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazy ones included."""
    return sorted(set(globals()) | set(_EXPORTS))
