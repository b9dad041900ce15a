"""Exact conversion between official YOLOX checkpoints and Flax `YOLOX` variables.

An official checkpoint is `{"model": state_dict, ...}` (`torch_files.load_state_dict` unwraps
it). Names and leaves map by the rule of `torch_layout`: the Flax module path
`backbone/backbone/dark3_1/m_0/conv1/conv` is the PyTorch module
`backbone.backbone.dark3.1.m.0.conv1.conv`. `num_batches_tracked` is ignored on the way in and
written as 0 on the way out.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np

from gnnpose_jax.errors import ConversionError
from gnnpose_jax.models.torch_layout import listed, state_dict_to_variables, variables_to_state_dict
from gnnpose_jax.models.yolox import PRESETS, YoloxConfig, init_yolox_abstract

STEM_KEY = "backbone.backbone.stem.conv.conv.weight"
_CLASSES_KEY = "head.cls_preds.0.weight"
_DEPTHWISE_KEY = "backbone.backbone.dark2.0.dconv.conv.weight"


def normalise_keys(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Strips a DataParallel `module.` prefix and drops `num_batches_tracked`."""
    return {k.removeprefix("module."): v for k, v in state.items()
            if not k.endswith("num_batches_tracked")}


def is_yolox_state_dict(state: dict[str, np.ndarray]) -> bool:
    """Whether `state` is a YOLOX checkpoint (its Focus stem is `backbone.backbone.stem`)."""
    return any(k.removeprefix("module.").startswith("backbone.backbone.stem.") for k in state)


def infer_config(state: dict[str, np.ndarray], source: str = "checkpoint") -> YoloxConfig:
    """Reads the variant (depth, width, depthwise, classes) off a normalised state dict.

    The width is the stem's channels / 64 and the depth the PAFPN bottleneck count / 3; where
    these match an official variant, its multipliers and input size are used (0.33 rather than
    1/3), so that `yolox.json` reads like the official experiment.
    """
    missing = [k for k in (STEM_KEY, _CLASSES_KEY) if k not in state]
    if missing:
        raise ConversionError(f"{source}: not a YOLOX checkpoint (missing {listed(missing)})")
    stem, classes = state[STEM_KEY], state[_CLASSES_KEY]
    if stem.ndim != 4 or classes.ndim != 4 or not stem.shape[0] or not classes.shape[0]:
        raise ConversionError(f"{source}: not a YOLOX checkpoint ({STEM_KEY} and "
                              f"{_CLASSES_KEY} must be conv weights with output channels)")
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"backbone\.C3_p4\.m\.(\d+)\.", k))}
    inferred = YoloxConfig(depth=(max(blocks) + 1 if blocks else 0) / 3,
                           width=stem.shape[0] / 64,
                           depthwise=_DEPTHWISE_KEY in state,
                           num_classes=int(classes.shape[0]))
    for preset in PRESETS.values():
        if _structure(preset) == _structure(inferred):
            return YoloxConfig(preset.depth, preset.width, preset.depthwise,
                               inferred.num_classes, preset.input_size)
    return inferred


def _structure(config: YoloxConfig) -> tuple:
    """What the weights' shapes determine: channels, bottleneck counts, conv flavour."""
    return (config.stem_channels, config.backbone_blocks, config.fpn_blocks,
            config.head_channels, config.depthwise)


def torch_to_flax(state: dict[str, np.ndarray], config: YoloxConfig | None = None,
                  source: str = "checkpoint") -> tuple[YoloxConfig, dict[str, Any]]:
    """Converts an official YOLOX state dict into Flax variables.

    Args:
      state: {key: array} as read by `torch_files.load_state_dict`.
      config: the expected variant; inferred from the shapes when None.
      source: the file name, for error messages.

    Returns:
      (config, {"params", "batch_stats"}) as float32 NumPy arrays.

    Raises:
      ConversionError: missing or extra keys, shape mismatches, non-finite values, negative
        BatchNorm variances.
    """
    state = normalise_keys(state)
    config = config or infer_config(state, source)
    _, abstract = init_yolox_abstract(config)
    expected = (f"a YOLOX with depth {config.depth:g}, width {config.width:g}"
                f"{', depthwise' if config.depthwise else ''} and {config.num_classes} classes")
    return config, state_dict_to_variables(state, abstract, source, expected)


def flax_to_torch(variables: dict[str, Any]) -> dict[str, np.ndarray]:
    """Flax variables → an official-layout YOLOX state dict (float32 NumPy, OIHW)."""
    return variables_to_state_dict(variables)


def convert_state_dict(state: dict[str, np.ndarray], dst: str | Path, source: str = "checkpoint",
                       input_size: int | None = None) -> YoloxConfig:
    """Converts a read YOLOX state dict into a new Orbax directory `dst` (whole or not at all).

    `input_size` (S) overrides the inferred variant's evaluation size.
    """
    from gnnpose_jax.models.yolox import save_yolox

    dst = Path(dst)
    if dst.exists():
        raise ConversionError(f"{dst}: already exists; choose a new destination")
    config, variables = torch_to_flax(state, source=source)
    if input_size is not None:
        if input_size <= 0 or input_size % 32:
            raise ConversionError(f"input size {input_size}: YOLOX needs a multiple of 32")
        config = dataclasses.replace(config, input_size=input_size)
    save_yolox(dst, config, variables)
    return config


def convert_checkpoint(src: str | Path, dst: str | Path,
                       input_size: int | None = None) -> YoloxConfig:
    """Converts an official `.pth` (or `.safetensors`) YOLOX checkpoint into a new directory."""
    from gnnpose_jax.models.torch_files import load_state_dict

    return convert_state_dict(load_state_dict(src), dst, str(src), input_size)


def export_safetensors(ckpt_dir: str | Path, dst: str | Path) -> YoloxConfig:
    """Writes a converted checkpoint back as an official-layout `.safetensors`."""
    from gnnpose_jax.models.torch_files import save_safetensors
    from gnnpose_jax.models.yolox import load_yolox

    module, variables = load_yolox(ckpt_dir)
    save_safetensors(flax_to_torch(variables), dst)
    return module.config
