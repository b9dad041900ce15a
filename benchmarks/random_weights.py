"""Random networks without compiling an init, and random checkpoints in the official PyTorch
layouts (`.pth`), for benchmarks and the tests that read official files (the tests import it
from here, `benchmarks.random_weights`). Writing a `.pth` needs torch; the rest does not."""

import math
from pathlib import Path

import jax
import numpy as np

from gnnpose_jax.models import hrnet, hrnet_convert, yolox, yolox_convert


def random_like(abstract, seed: int):
    """NumPy-random variables shaped like `abstract`, so that no init has to be compiled:
    kernels N(0, 1/fan_in), BN variances and scales 1, means and biases 0."""
    rng = np.random.default_rng(seed)

    def leaf(path, x):
        name = jax.tree_util.keystr(path)
        if name.endswith(("['var']", "['scale']")):
            return np.ones(x.shape, x.dtype)
        if name.endswith(("['mean']", "['bias']")):
            return np.zeros(x.shape, x.dtype)
        return rng.normal(0.0, np.prod(x.shape[:-1]) ** -0.5, x.shape).astype(x.dtype)

    return jax.tree_util.tree_map_with_path(leaf, abstract)


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
    import torch

    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    torch.save({"model": tensors} if wrap else tensors, path)


def write_yolox_pth(path: Path, config: yolox.YoloxConfig, person: bool = True,
                    box: tuple[float, float] = (0.5, 1.0)) -> None:
    """A YOLOX `.pth` of `yolox_variables` (official keys, wrapped as releases are)."""
    variables = yolox_variables(config, person, box=box)
    write_pth(yolox_convert.flax_to_torch(variables), path, wrap=True)


def write_hrnet_pth(path: Path, config: hrnet.HRNetConfig, seed: int = 0) -> None:
    """An HRNet `.pth` of random weights (official keys, a bare state dict)."""
    variables = random_like(hrnet.init_hrnet_abstract(config)[1], seed)
    write_pth(hrnet_convert.flax_to_torch(variables), path, wrap=False)
