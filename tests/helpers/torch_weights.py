"""Random checkpoints in the official PyTorch layouts (`.pth`), for tests and benchmarks that
read official files. Needs torch."""

import math
from pathlib import Path

import numpy as np
import torch

from gnnpose_jax.models import hrnet, hrnet_convert, yolox, yolox_convert
from tests.helpers.tiny_runs import TINY, random_like

#: A tiny non-depthwise YOLOX; converted with a 128 letterbox, as a `.pth` it runs at 640.
DENSE = yolox.YoloxConfig(depth=0.33, width=0.125, input_size=128)
HRNET_PTH = "pose_hrnet_tiny_64x64.pth"  # the model zoo's naming: the crop size is read off it


def yolox_variables(config: yolox.YoloxConfig, person: bool = True, seed: int = 0,
                    box: tuple[float, float] = (0.5, 1.0)) -> dict:
    """Random YOLOX variables whose head predicts the same box at every stride-32 anchor,
    `box` × S wide and high (larger boxes overlap more: NMS leaves fewer)."""
    variables = random_like(yolox.init_yolox_abstract(config)[1], seed)
    head = variables["params"]["head"]
    cells = config.input_size / 32
    for level in range(3):
        for name in ("reg", "obj", "cls"):
            pred = head[f"{name}_preds_{level}"]
            pred["kernel"] = np.zeros_like(pred["kernel"])
        head[f"reg_preds_{level}"]["bias"] = np.array(
            [0, 0, math.log(cells * box[0]), math.log(cells * box[1])], np.float32)
        head[f"obj_preds_{level}"]["bias"] = np.array([2.0 if level == 2 else -10.0], np.float32)
        classes = np.full(config.num_classes, -10.0, np.float32)
        classes[0] = 10.0 if person else -10.0
        head[f"cls_preds_{level}"]["bias"] = classes
    return variables


def write_pth(state: dict, path: Path, wrap: bool) -> None:
    """`state` as a torch `.pth`, wrapped in {"model": ...} as YOLOX releases are."""
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    torch.save({"model": tensors} if wrap else tensors, path)


def write_yolox_pth(path: Path, config: yolox.YoloxConfig = DENSE, person: bool = True,
                    box: tuple[float, float] = (0.5, 1.0)) -> None:
    variables = yolox_variables(config, person, box=box)
    write_pth(yolox_convert.flax_to_torch(variables), path, wrap=True)


def write_hrnet_pth(path: Path, config: hrnet.HRNetConfig = TINY, seed: int = 0) -> None:
    variables = random_like(hrnet.init_hrnet_abstract(config)[1], seed)
    write_pth(hrnet_convert.flax_to_torch(variables), path, wrap=False)
