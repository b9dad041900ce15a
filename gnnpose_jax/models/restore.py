"""Restoring a converted network's Orbax variables, checked against its architecture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flax import traverse_util

from gnnpose_jax.errors import CheckpointError


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
