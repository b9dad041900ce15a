"""The detector and the pose network from a converted folder or an official checkpoint file.

`load_detector` and `load_pose_network` take either form: a folder written by
`python -m convert_weights` (or a training run's HRNet export), or the official `.pth` (or
`.safetensors`) itself, read by the restricted unpickler and converted in memory with the
converter's checks (every key used, shapes matched, no NaN). Both return the BatchNorm-folded
inference network, in the compute dtype asked for, else the one the folder records (float32
for an official file, which runs in either). A detector checkpoint given as the pose network,
or the reverse, is refused in one line that names the swap.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from gnnpose_jax.data.joints import JOINT_LAYOUTS, NUM_JOINTS
from gnnpose_jax.errors import CheckpointError, ConfigError, ConversionError
from gnnpose_jax.models import hrnet, hrnet_convert, precision, yolox, yolox_convert
from gnnpose_jax.models.torch_files import load_state_dict

#: The crop size of a pose checkpoint that records none (the paper's, and the W32 zoo file's).
DEFAULT_INPUT_HW = (384, 288)
_SWAPPED = "detector and pose checkpoints swapped?"


@dataclasses.dataclass(frozen=True)
class PoseNetwork:
    """A loaded pose HRNet and what the tracker needs to know about it.

    Attributes:
      module: the BN-folded `HRNet`.
      variables: its variables.
      input_hw: the crop size (H, W) it was trained at.
      joint_layout: "coco" or "posetrack" (see `joints.coco_to_posetrack`).
      layout_reason: where `joint_layout` comes from, for the log.
      path: the checkpoint it was loaded from.
    """

    module: hrnet.HRNet
    variables: dict[str, Any]
    input_hw: tuple[int, int]
    joint_layout: str
    layout_reason: str
    path: Path

    def describe(self) -> str:
        """`HRNet-W32 at 384x288, COCO joints (…), float32`, for the log."""
        h, w = self.input_hw
        layout = "COCO" if self.joint_layout == "coco" else "PoseTrack"
        return (f"HRNet-W{self.module.config.width} at {h}x{w}, {layout} joints "
                f"({self.layout_reason}), {precision.dtype_name(self.module.dtype)}")


def _is_hrnet_state_dict(state: dict[str, Any]) -> bool:
    return "final_layer.weight" in hrnet_convert.normalise_keys(state)


def load_detector(path: str | Path, dtype: Any = None) -> tuple[yolox.YOLOX, dict]:
    """The BN-folded YOLOX of a converted folder or an official `.pth`/`.safetensors` file,
    computing in `dtype` ("float32", "bfloat16"; None: what the folder records, else float32).

    Raises:
      CheckpointError, ConversionError: not a YOLOX checkpoint (an HRNet, another network),
        or a damaged or inconsistent one; one line naming `path`.
    """
    path = Path(path)
    if path.is_dir():
        if (path / hrnet.HRNET_JSON).is_file():
            raise CheckpointError(f"{path}: a converted pose HRNet, not a YOLOX person detector "
                                  f"({_SWAPPED})")
        return yolox.load_yolox(path, fold_bn=True, dtype=dtype)
    state = load_state_dict(path)
    if not yolox_convert.is_yolox_state_dict(state) and _is_hrnet_state_dict(state):
        raise ConversionError(f"{path}: a pose HRNet checkpoint, not a YOLOX person detector "
                              f"({_SWAPPED})")
    config, variables = yolox_convert.torch_to_flax(state, source=str(path))
    module = yolox.YOLOX(config, fold_bn=True,
                         dtype=precision.inference_dtype(precision.DEFAULT_DTYPE, dtype))
    return module, yolox.fold_batchnorm(variables)


def load_detector_weights(path: str | Path) -> tuple[yolox.YoloxConfig, dict]:
    """The unfolded variables (BatchNorm statistics kept, for training) of a YOLOX converted
    folder or official `.pth`/`.safetensors` file, and its architecture.

    Raises:
      CheckpointError, ConversionError: not a YOLOX checkpoint, or a damaged one; one line.
    """
    path = Path(path)
    if path.is_dir():
        module, variables = yolox.load_yolox(path)
        return module.config, variables
    state = load_state_dict(path)
    if not yolox_convert.is_yolox_state_dict(state):
        raise ConversionError(f"{path}: not a YOLOX checkpoint (no YOLOX head keys)")
    return yolox_convert.torch_to_flax(state, source=str(path))


def _joint_layout(requested: str | None, recorded: str | None, name: str,
                  default: str) -> tuple[str, str]:
    """(layout, where it comes from): asked for, recorded in hrnet.json, named, or default."""
    if requested is not None:
        if requested not in JOINT_LAYOUTS:
            raise ConfigError(f"joint layout {requested!r}: expected one of "
                              f"{', '.join(JOINT_LAYOUTS)}")
        return requested, "as asked"
    if recorded is not None:
        return recorded, f"recorded in {hrnet.HRNET_JSON}"
    if "posetrack" in name.lower():
        return "posetrack", "its name says PoseTrack"
    return default, "assumed: the checkpoint does not say"


def load_pose_network(path: str | Path, joint_layout: str | None = None,
                      default_layout: str = "coco", dtype: Any = None) -> PoseNetwork:
    """A 17-joint pose HRNet from a converted folder or an official `.pth`/`.safetensors` file.

    Args:
      path: the checkpoint.
      joint_layout: "coco" or "posetrack"; None infers it: what `hrnet.json` records, else
        "posetrack" if the file or folder name contains it, else `default_layout`.
      default_layout: the layout of a checkpoint that says nothing ("coco" for the official
        model zoo's files, "posetrack" for a training run's export).
      dtype: compute dtype, "float32" or "bfloat16"; None: what `hrnet.json` records, else
        float32.

    Raises:
      CheckpointError, ConversionError: not an HRNet (a YOLOX, a training run folder, another
        network), not 17 joints, or a damaged or inconsistent checkpoint; one line.
    """
    path = Path(path)
    if path.is_dir():
        if yolox.is_yolox_dir(path):
            raise CheckpointError(f"{path}: a converted YOLOX person detector, not a pose HRNet "
                                  f"({_SWAPPED})")
        if not (path / hrnet.HRNET_JSON).is_file() and (path / "hrnet").is_dir():
            raise CheckpointError(f"{path}: a training run folder, not an HRNet checkpoint (its "
                                  f"HRNet is {path / 'hrnet'}; or pass the folder as the run)")
        meta = hrnet.read_hrnet_json(path)
        config, recorded = meta["config"], meta.get("joints")
        if recorded is not None and recorded not in JOINT_LAYOUTS:
            raise CheckpointError(f"{path / hrnet.HRNET_JSON}: joints {recorded!r}, expected one "
                                  f"of {', '.join(JOINT_LAYOUTS)}")
        input_hw = tuple(meta.get("input_hw") or DEFAULT_INPUT_HW)
        _check_joint_count(path, config)
        module, variables = hrnet.load_hrnet(path, fold_bn=True, dtype=dtype)
    else:
        state = load_state_dict(path)
        if yolox_convert.is_yolox_state_dict(state):
            raise ConversionError(f"{path}: a YOLOX person detector checkpoint, not a pose "
                                  f"HRNet ({_SWAPPED})")
        config, variables = hrnet_convert.torch_to_flax(state, source=str(path))
        _check_joint_count(path, config)
        module = hrnet.HRNet(config, fold_bn=True,
                             dtype=precision.inference_dtype(precision.DEFAULT_DTYPE, dtype))
        variables = hrnet.fold_batchnorm(variables)
        recorded = None
        input_hw = hrnet_convert.input_hw_from_name(path.name) or DEFAULT_INPUT_HW
    if input_hw[0] % 32 or input_hw[1] % 32:
        raise CheckpointError(f"{path}: input size {input_hw[0]}x{input_hw[1]} (HxW), but HRNet "
                              "needs multiples of 32 (e.g. 384x288, 256x192)")
    layout, reason = _joint_layout(joint_layout, recorded, path.name, default_layout)
    return PoseNetwork(module, variables, input_hw, layout, reason, path)


def _check_joint_count(path: Path, config: hrnet.HRNetConfig) -> None:
    if config.num_joints != NUM_JOINTS:
        raise CheckpointError(f"{path}: an HRNet with {config.num_joints} joints; tracking needs "
                              f"{NUM_JOINTS} (COCO's or PoseTrack's)")
