"""Checked conversion between PyTorch state dicts and Flax variables, for any of our models.

One rule maps names both ways: a Flax module path `stage3_2/fuse_layers_1_0_0_0` is the
PyTorch module `stage3.2.fuse_layers.1.0.0.0` (`/` and `_<digits>` become `.`). Leaves map as
conv `kernel` (HWIO) ↔ `weight` (OIHW), conv `bias` ↔ `bias`, BN `scale`/`bias` ↔
`weight`/`bias`, BN `mean`/`var` ↔ `running_mean`/`running_var`; `num_batches_tracked` is
written as 0 on the way out (callers drop it on the way in).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import numpy as np
from flax import traverse_util

from gnnpose_jax.errors import ConversionError

MAX_LISTED = 5
MAX_KEY_SHOWN = 80


def flax_module_to_torch(path: str) -> str:
    """`stage2_0/branches_1_2/conv1` → `stage2.0.branches.1.2.conv1`."""
    return re.sub(r"_(\d+)", r".\1", path.replace("/", "."))


def listed(keys) -> str:
    """The first few of `keys`, sorted and comma-separated, with a count of the rest.

    Keys come from files, so one that is long or holds unprintable characters is quoted and
    cut: the message stays one short line.
    """
    keys = sorted(keys)
    more = f" (and {len(keys) - MAX_LISTED} more)" if len(keys) > MAX_LISTED else ""
    return ", ".join(map(_shown, keys[:MAX_LISTED])) + more


def _shown(key: str) -> str:
    if len(key) > MAX_KEY_SHOWN:
        return f"{key[:MAX_KEY_SHOWN]!r}... ({len(key)} long)"
    return key if key.isprintable() else repr(key)


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
    if leaf in ("kernel", "scale"):
        return f"{torch_module}.weight"
    if leaf == "bias":
        return f"{torch_module}.bias"
    raise ValueError(f"unexpected Flax leaf {flax_key}")


def _key_table(variables: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{torch key: (collection, flax key)} for every leaf of `variables`."""
    return {_torch_key(c, k): (c, k) for c, k in _flax_leaves(variables)}


def state_dict_to_variables(state: dict[str, np.ndarray], abstract: dict[str, Any], source: str,
                            expected: str) -> dict[str, Any]:
    """Fills the variables `abstract` describes from `state`, checking everything first.

    Args:
      state: {torch key: array}, without `num_batches_tracked`.
      abstract: the model's `{"params", "batch_stats"}` shapes (from `jax.eval_shape`).
      source: the file name, for error messages.
      expected: what the architecture is ("an HRNet-W32 with 17 joints"), for shape errors.

    Returns:
      {"params", "batch_stats"} as float32 NumPy arrays.

    Raises:
      ConversionError: one line naming the keys that are missing or extra, have the wrong
        shape, hold NaN or Inf, or are BatchNorm variances below zero.
    """
    table = _key_table(abstract)
    missing, extra = set(table) - set(state), set(state) - set(table)
    if missing:
        raise ConversionError(f"{source}: missing keys: {listed(missing)}")
    if extra:
        raise ConversionError(f"{source}: unexpected keys: {listed(extra)}")

    flat: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    bad_shape, non_finite, negative = [], [], []
    for torch_key, (collection, flax_key) in table.items():
        value = np.asarray(state[torch_key])
        if flax_key.endswith("/kernel") and value.ndim == 4:
            value = value.transpose(2, 3, 1, 0)  # OIHW → HWIO
        expected_leaf = abstract[collection]
        for part in flax_key.split("/"):
            expected_leaf = expected_leaf[part]
        if value.shape != expected_leaf.shape:
            bad_shape.append(f"{torch_key} {tuple(state[torch_key].shape)}")
            continue
        value = value.astype(np.float32)
        if not np.all(np.isfinite(value)):
            non_finite.append(torch_key)
        elif torch_key.endswith(".running_var") and np.any(value < 0):
            negative.append(torch_key)
        flat[collection][flax_key] = value
    if bad_shape:
        raise ConversionError(f"{source}: shape mismatch for {listed(bad_shape)} "
                              f"(expected {expected})")
    if non_finite:
        raise ConversionError(f"{source}: NaN or Inf values in {listed(non_finite)}")
    if negative:
        raise ConversionError(f"{source}: negative BatchNorm variances in {listed(negative)}")
    return {c: traverse_util.unflatten_dict(flat[c], sep="/") for c in ("params", "batch_stats")}


def variables_to_state_dict(variables: dict[str, Any]) -> dict[str, np.ndarray]:
    """Flax variables → a PyTorch-layout state dict (float32 NumPy, OIHW)."""
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
