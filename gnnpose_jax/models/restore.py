"""Converted networks' folders: Orbax variables plus a JSON description, written and read back.

Both are checked: a folder appears whole or not at all, and restored variables must match the
architecture the JSON describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flax import traverse_util

from gnnpose_jax.errors import CheckpointError

#: The Orbax variables' folder inside every network folder (HRNet, YOLOX, GNN export).
VARIABLES_DIR = "variables"


def save_variables(directory: str | Path, variables_dir: str, variables: dict[str, Any],
                   json_name: str, meta: dict[str, Any]) -> None:
    """Writes `variables` (Orbax) and `meta` (JSON) into a new `directory`, atomically.

    The folder is assembled beside its destination and renamed into place, so a failure
    never leaves a half-written checkpoint.

    Raises:
      FileExistsError: `directory` exists.
    """
    import json

    import jax
    import orbax.checkpoint as ocp

    from gnnpose_jax import atomic

    directory = Path(directory).absolute()
    if directory.exists():
        raise FileExistsError(f"{directory} already exists")
    with atomic.atomic_dir(directory) as tmp:
        with ocp.StandardCheckpointer() as ckptr:
            ckptr.save(tmp / variables_dir, jax.device_get(variables))
        (tmp / json_name).write_text(json.dumps(meta, indent=2) + "\n")


def restore_variables(directory: str | Path, variables_dir: str, abstract: dict[str, Any],
                      what: str) -> dict[str, Any]:
    """Restores `directory/variables_dir` and checks it holds exactly `abstract`'s leaves.

    Orbax restores the stored shapes whatever the target says, so a JSON file describing
    another width than the weights (or a folder with weights of another network) would only
    fail later, inside the network; here it is one line.

    Args:
      directory: the checkpoint folder, for messages.
      variables_dir: its Orbax subfolder.
      abstract: the expected tree of shapes (`jax.eval_shape` of the init).
      what: the network, for messages ("HRNet", "YOLOX").

    Raises:
      CheckpointError: unreadable, incomplete, or leaves missing, extra or of other shapes.
    """
    import orbax.checkpoint as ocp

    from gnnpose_jax.models.gnn_io import ignore_orphaned_reads

    directory = Path(directory).absolute()
    try:
        with ocp.StandardCheckpointer() as ckptr:
            variables = ckptr.restore(directory / variables_dir, abstract)
    except (OSError, ValueError) as e:
        ignore_orphaned_reads()
        reason = str(e).splitlines()[0].split(" [tensorstore_spec=")[0]
        raise CheckpointError(f"{directory}: {what} checkpoint is damaged or incomplete "
                              f"({reason})") from None
    got = traverse_util.flatten_dict(variables, sep="/")
    want = traverse_util.flatten_dict(abstract, sep="/")
    if set(got) != set(want):
        odd = sorted(set(got) ^ set(want))
        raise CheckpointError(f"{directory}: {what} weights do not match its description "
                              f"({len(odd)} leaves missing or extra, e.g. {odd[0]})")
    for key, leaf in want.items():
        if tuple(got[key].shape) != tuple(leaf.shape):
            raise CheckpointError(
                f"{directory}: {what} weights do not match its description ({key} has shape "
                f"{tuple(got[key].shape)}, expected {tuple(leaf.shape)}: another width?)")
    return variables
