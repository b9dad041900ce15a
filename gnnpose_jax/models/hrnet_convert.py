"""Exact conversion between official PyTorch HRNet state dicts and Flax `HRNet` variables.

Names and leaves map by the rule of `torch_layout` (a Flax module path
`stage3_2/fuse_layers_1_0_0_0` is the PyTorch module `stage3.2.fuse_layers.1.0.0.0`);
`num_batches_tracked` is ignored on the way in and written as 0 on the way out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from gnnpose_jax.errors import ConversionError
from gnnpose_jax.models.hrnet import HRNetConfig, init_hrnet_abstract
from gnnpose_jax.models.torch_layout import listed, state_dict_to_variables, variables_to_state_dict

_MMPOSE_PREFIXES = (("backbone.", ""), ("keypoint_head.", ""), ("head.", ""), ("module.", ""))


def normalise_keys(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Strips MMPose (`backbone.`, `keypoint_head.`, `head.`) and DataParallel prefixes and
    drops `num_batches_tracked`."""
    out = {}
    for key, value in state.items():
        for prefix, repl in _MMPOSE_PREFIXES:
            if key.startswith(prefix):
                key = repl + key[len(prefix):]
                break
        if key.endswith("num_batches_tracked"):
            continue
        out[key] = value
    return out


def infer_config(state: dict[str, np.ndarray], source: str = "checkpoint") -> HRNetConfig:
    """Reads the architecture (width, joints, depths) off a normalised state dict's shapes."""
    required = ("conv1.weight", "layer1.0.conv1.weight", "transition1.0.0.weight",
                "final_layer.weight")
    missing = [k for k in required if k not in state]
    if missing:
        raise ConversionError(f"{source}: not a pose HRNet checkpoint (missing {listed(missing)})")
    not_conv = [k for k in required if np.ndim(state[k]) != 4]
    if not_conv:
        raise ConversionError(f"{source}: not a pose HRNet checkpoint ({listed(not_conv)} must "
                              "be conv weights, 4-D)")

    def count(pattern: str) -> int:
        found = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
        return max(found) + 1 if found else 0

    return HRNetConfig(
        width=int(state["transition1.0.0.weight"].shape[0]),
        num_joints=int(state["final_layer.weight"].shape[0]),
        stem_channels=int(state["conv1.weight"].shape[0]),
        layer1_blocks=count(r"layer1\.(\d+)\."),
        layer1_planes=int(state["layer1.0.conv1.weight"].shape[0]),
        stage_modules=tuple(count(rf"stage{s}\.(\d+)\.") for s in (2, 3, 4)),
        stage_blocks=tuple(count(rf"stage{s}\.0\.branches\.0\.(\d+)\.") for s in (2, 3, 4)),
    )


def torch_to_flax(state: dict[str, np.ndarray], config: HRNetConfig | None = None,
                  source: str = "checkpoint") -> tuple[HRNetConfig, dict[str, Any]]:
    """Converts an official/MMPose HRNet state dict into Flax variables.

    Args:
      state: {key: array} as read by `torch_files.load_state_dict`.
      config: the expected architecture; inferred from the shapes when None.
      source: the file name, for error messages.

    Returns:
      (config, {"params", "batch_stats"}) as float32 NumPy arrays.

    Raises:
      ConversionError: missing or extra keys, shape mismatches, non-finite values, negative
        BatchNorm variances.
    """
    state = normalise_keys(state)
    config = config or infer_config(state, source)
    if min(config.stage_modules + config.stage_blocks + (config.layer1_blocks,)) < 1:
        raise ConversionError(f"{source}: not a pose HRNet checkpoint (a stage has no modules)")
    _, abstract = init_hrnet_abstract(config)
    expected = f"an HRNet-W{config.width} with {config.num_joints} joints"
    variables = state_dict_to_variables(state, abstract, source, expected)
    return config, variables


def flax_to_torch(variables: dict[str, Any]) -> dict[str, np.ndarray]:
    """Flax variables → an official-layout PyTorch state dict (float32 NumPy, OIHW)."""
    return variables_to_state_dict(variables)


def input_hw_from_name(name: str) -> tuple[int, int] | None:
    """`pose_hrnet_w32_384x288.pth` → (384, 288): the model zoo names sizes height×width."""
    m = re.search(r"(\d{2,4})x(\d{2,4})", name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def joints_from_name(name: str) -> str:
    """The joint layout a 17-joint checkpoint's file name suggests: "posetrack" if it names
    PoseTrack (MMPose's `hrnet_w32_posetrack18_256x192.pth`), else "coco" (the model zoo's)."""
    return "posetrack" if "posetrack" in name.lower() else "coco"


def convert_checkpoint(src: str | Path, dst: str | Path,
                       input_hw: tuple[int, int] | None = None) -> HRNetConfig:
    """Converts a `.pth`/`.safetensors` HRNet checkpoint into a new Orbax directory `dst`.

    Everything is read and checked before anything is written; `dst` appears whole or not at
    all.
    """
    from gnnpose_jax.models.torch_files import load_state_dict

    return convert_state_dict(load_state_dict(src), dst, str(src), input_hw)


def convert_state_dict(state: dict[str, np.ndarray], dst: str | Path, source: str,
                       input_hw: tuple[int, int] | None = None) -> HRNetConfig:
    """Converts a read HRNet state dict into a new Orbax directory `dst` (whole or not at all).

    `input_hw` defaults to the size in the `source` file name, if any; a 17-joint network's
    joint layout is recorded as its file name suggests (`joints_from_name`).
    """
    from gnnpose_jax.data.joints import NUM_JOINTS
    from gnnpose_jax.models.hrnet import save_hrnet

    dst = Path(dst)
    if dst.exists():
        raise ConversionError(f"{dst}: already exists; choose a new destination")
    config, variables = torch_to_flax(state, source=source)
    name = Path(source).name
    joints = joints_from_name(name) if config.num_joints == NUM_JOINTS else None
    save_hrnet(dst, config, variables, input_hw or input_hw_from_name(name), joints)
    return config


def export_safetensors(ckpt_dir: str | Path, dst: str | Path) -> HRNetConfig:
    """Writes a converted (or fine-tuned) checkpoint back as an official-layout `.safetensors`."""
    from gnnpose_jax.models.hrnet import load_hrnet
    from gnnpose_jax.models.torch_files import save_safetensors

    module, variables = load_hrnet(ckpt_dir)
    save_safetensors(flax_to_torch(variables), dst)
    return module.config
