"""Exact conversion between official PyTorch HRNet state dicts and Flax `HRNet` variables.

One rule maps names both ways: a Flax module path `stage3_2/fuse_layers_1_0_0_0` is the
PyTorch module `stage3.2.fuse_layers.1.0.0.0` (`/` and `_<digits>` become `.`). Leaves map as
conv `kernel` (HWIO) ↔ `weight` (OIHW), conv `bias` ↔ `bias`, BN `scale`/`bias` ↔
`weight`/`bias`, BN `mean`/`var` ↔ `running_mean`/`running_var`; `num_batches_tracked` is
ignored on the way in and written as 0 on the way out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from flax import traverse_util

from gnnpose_jax.errors import ConversionError
from gnnpose_jax.models.hrnet import HRNetConfig, init_hrnet_abstract

_MMPOSE_PREFIXES = (("backbone.", ""), ("keypoint_head.", ""), ("head.", ""), ("module.", ""))
_MAX_LISTED = 5


def flax_module_to_torch(path: str) -> str:
    """`stage2_0/branches_1_2/conv1` → `stage2.0.branches.1.2.conv1`."""
    return re.sub(r"_(\d+)", r".\1", path.replace("/", "."))


def bn_of_conv(conv_path: str) -> str | None:
    """The Flax path of the BatchNorm that follows a conv, or None for `final_layer`."""
    head, _, name = conv_path.rpartition("/")
    prefix = f"{head}/" if head else ""
    if name == "final_layer":
        return None
    if m := re.fullmatch(r"conv(\d+)", name):
        return f"{prefix}bn{m.group(1)}"
    if name.endswith("_0"):
        return f"{prefix}{name[:-2]}_1"
    raise ValueError(f"no BatchNorm known for conv {conv_path}")


def _flax_leaves(variables: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """{(collection, "module/path/leaf"): value} over params and batch_stats."""
    out = {}
    for collection in ("params", "batch_stats"):
        for key, value in traverse_util.flatten_dict(variables.get(collection, {}),
                                                     sep="/").items():
            out[(collection, key)] = value
    return out


def _torch_key(collection: str, flax_key: str) -> str:
    module, _, leaf = flax_key.rpartition("/")
    torch_module = flax_module_to_torch(module)
    if collection == "batch_stats":
        return f"{torch_module}.running_{leaf}"
    if leaf == "kernel":
        return f"{torch_module}.weight"
    if leaf == "scale":
        return f"{torch_module}.weight"
    if leaf == "bias":
        return f"{torch_module}.bias"
    raise ValueError(f"unexpected Flax leaf {flax_key}")


def _key_table(variables: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{torch key: (collection, flax key)} for every leaf of `variables`."""
    return {_torch_key(c, k): (c, k) for c, k in _flax_leaves(variables)}


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


def _listed(keys) -> str:
    keys = sorted(keys)
    more = f" (and {len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else ""
    return ", ".join(keys[:_MAX_LISTED]) + more


def infer_config(state: dict[str, np.ndarray], source: str = "checkpoint") -> HRNetConfig:
    """Reads the architecture (width, joints, depths) off a normalised state dict's shapes."""
    required = ("conv1.weight", "layer1.0.conv1.weight", "transition1.0.0.weight",
                "final_layer.weight")
    missing = [k for k in required if k not in state]
    if missing:
        raise ConversionError(f"{source}: not a pose HRNet checkpoint (missing {_listed(missing)})")

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
      ConversionError: missing or extra keys, shape mismatches, non-finite values.
    """
    state = normalise_keys(state)
    config = config or infer_config(state, source)
    if min(config.stage_modules + config.stage_blocks + (config.layer1_blocks,)) < 1:
        raise ConversionError(f"{source}: not a pose HRNet checkpoint (a stage has no modules)")
    _, abstract = init_hrnet_abstract(config)
    table = _key_table(abstract)
    missing, extra = set(table) - set(state), set(state) - set(table)
    if missing:
        raise ConversionError(f"{source}: missing keys: {_listed(missing)}")
    if extra:
        raise ConversionError(f"{source}: unexpected keys: {_listed(extra)}")

    flat: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    bad_shape, non_finite = [], []
    for torch_key, (collection, flax_key) in table.items():
        value = np.asarray(state[torch_key])
        if flax_key.endswith("/kernel"):
            value = value.transpose(2, 3, 1, 0)  # OIHW → HWIO
        expected = abstract[collection]
        for part in flax_key.split("/"):
            expected = expected[part]
        if value.shape != expected.shape:
            bad_shape.append(f"{torch_key} {tuple(state[torch_key].shape)}")
            continue
        if not np.all(np.isfinite(value.astype(np.float32))):
            non_finite.append(torch_key)
        flat[collection][flax_key] = value.astype(np.float32)
    if bad_shape:
        expected = f"HRNet-W{config.width} with {config.num_joints} joints"
        raise ConversionError(f"{source}: shape mismatch for {_listed(bad_shape)} "
                              f"(expected an {expected})")
    if non_finite:
        raise ConversionError(f"{source}: NaN or Inf values in {_listed(non_finite)}")
    variables = {c: traverse_util.unflatten_dict(flat[c], sep="/")
                 for c in ("params", "batch_stats")}
    return config, variables


def flax_to_torch(variables: dict[str, Any]) -> dict[str, np.ndarray]:
    """Flax variables → an official-layout PyTorch state dict (float32 NumPy, OIHW)."""
    leaves = _flax_leaves(variables)
    state = {}
    for torch_key, (collection, flax_key) in _key_table(variables).items():
        value = np.asarray(leaves[(collection, flax_key)], dtype=np.float32)
        if flax_key.endswith("/kernel"):
            value = value.transpose(3, 2, 0, 1)  # HWIO → OIHW
        state[torch_key] = np.ascontiguousarray(value)
        if torch_key.endswith(".running_var"):
            state[torch_key[: -len("running_var")] + "num_batches_tracked"] = np.zeros(
                (), np.int64)
    return state


def _input_hw_from_name(name: str) -> tuple[int, int] | None:
    """`pose_hrnet_w32_384x288.pth` → (384, 288): the model zoo names sizes height×width."""
    m = re.search(r"(\d{2,4})x(\d{2,4})", name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def convert_checkpoint(src: str | Path, dst: str | Path,
                       input_hw: tuple[int, int] | None = None) -> HRNetConfig:
    """Converts a `.pth`/`.safetensors` HRNet checkpoint into a new Orbax directory `dst`.

    Everything is read and checked before anything is written; `dst` appears whole or not at
    all.
    """
    from gnnpose_jax.models.hrnet import save_hrnet
    from gnnpose_jax.models.torch_files import load_state_dict

    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise ConversionError(f"{dst}: already exists; choose a new destination")
    config, variables = torch_to_flax(load_state_dict(src), source=str(src))
    save_hrnet(dst, config, variables, input_hw or _input_hw_from_name(src.name))
    return config


def export_safetensors(ckpt_dir: str | Path, dst: str | Path) -> HRNetConfig:
    """Writes a converted (or fine-tuned) checkpoint back as an official-layout `.safetensors`."""
    from gnnpose_jax.models.hrnet import load_hrnet
    from gnnpose_jax.models.torch_files import save_safetensors

    module, variables = load_hrnet(ckpt_dir)
    save_safetensors(flax_to_torch(variables), dst)
    return module.config
