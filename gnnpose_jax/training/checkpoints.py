"""Training checkpoints: Orbax CheckpointManager over the state, the RNG and the data iterator.

Layout: `WORKDIR/checkpoints/{step}/` with two items, `state` (`state.checkpoint_items` plus the
base PRNG key's words) and `data` (the grain iterator state, one file per process). Saving is
asynchronous and atomic (Orbax writes a temporary folder and renames it when complete), so a
run killed at any moment leaves only whole checkpoints. The manager keeps the last
`keep` checkpoints plus the one with the lowest validation loss.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import grain
import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers

from gnnpose_jax.errors import CheckpointError
from gnnpose_jax.training.state import (
    TrainState,
    checkpoint_items,
    restore_items,
    rng_from_data,
    rng_to_data,
)

CHECKPOINT_DIR = "checkpoints"
#: The metric whose lowest value marks the best checkpoint.
BEST_METRIC = "val_loss"


class _NoMetricWarning(logging.Filter):
    """Drops Orbax's warning for a checkpoint saved without metrics.

    Checkpoints between validations legitimately have no validation loss; Orbax warns about
    each one once `best_fn` is set (which it must be, or metrics are never written to disk).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for that one warning."""
        return "did not provide metrics" not in record.getMessage()


_NO_METRIC_WARNING = _NoMetricWarning()


def make_manager(workdir: str | Path, keep: int, asynchronous: bool = True
                 ) -> ocp.CheckpointManager:
    """The run's checkpoint manager under `WORKDIR/checkpoints`.

    Args:
      workdir: the run's folder.
      keep: how many of the latest checkpoints to keep (the best is kept besides).
      asynchronous: write in a background thread.

    Returns:
      The manager; close it (or use it as a context manager) to finish pending writes.
    """
    policy = checkpoint_managers.AnyPreservationPolicy([
        checkpoint_managers.LatestN(n=max(keep, 1)),
        # reverse=True sorts descending, so the n kept "last" entries are the lowest losses.
        checkpoint_managers.BestN(get_metric_fn=lambda m: m[BEST_METRIC], reverse=True, n=1,
                                  keep_checkpoints_without_metrics=False),
    ])
    options = ocp.CheckpointManagerOptions(
        preservation_policy=policy, best_fn=lambda m: m[BEST_METRIC], best_mode="min",
        enable_async_checkpointing=asynchronous, cleanup_tmp_directories=True, create=True)
    logging.getLogger("absl").addFilter(_NO_METRIC_WARNING)
    return ocp.CheckpointManager(
        Path(workdir).absolute() / CHECKPOINT_DIR, options=options,
        item_handlers={"state": ocp.StandardCheckpointHandler(),
                       "data": grain.checkpoint.CheckpointHandler()})


def save(manager: ocp.CheckpointManager, state: TrainState, rng: jax.Array, data_iterator: Any,
         val_loss: float | None = None) -> None:
    """Starts saving a host copy of the state, the base key and the iterator at `state.step`.

    Args:
      manager: from `make_manager`.
      state: an unreplicated state on the host (`distributed.unreplicate`).
      rng: the run's base key.
      data_iterator: the training iterator (grain `DatasetIterator` or `DataLoaderIterator`),
        positioned just after the last batch the state has consumed.
      val_loss: the validation loss at this step, if validation just ran (ranks the best).
    """
    items = dict(checkpoint_items(state), rng=rng_to_data(rng))
    metrics = None if val_loss is None else {BEST_METRIC: float(val_loss)}
    manager.save(int(state.step),
                 args=ocp.args.Composite(state=ocp.args.StandardSave(items),
                                         data=grain.checkpoint.CheckpointSave(data_iterator)),
                 metrics=metrics)


def best_step(manager: ocp.CheckpointManager) -> int | None:
    """The kept step with the lowest validation loss, or None if no kept step has one."""
    scored = [step for step in manager.all_steps() if manager.metrics(step)]
    return manager.best_step() if scored else None


def restore_state(manager: ocp.CheckpointManager, step: int, state: TrainState) -> TrainState:
    """The state items of checkpoint `step` in a template state (the iterator is left alone)."""
    template = dict(checkpoint_items(state), rng=rng_to_data(jax.random.key(0)))
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract)))
    return restore_items(state, restored["state"])


def restore_latest(manager: ocp.CheckpointManager, state: TrainState, rng: jax.Array,
                   data_iterator: Any) -> tuple[TrainState, jax.Array] | None:
    """Restores the latest checkpoint into a template state and the iterator, if there is one.

    Args:
      manager: from `make_manager`.
      state: a freshly created host state with the right structure (its values are replaced).
      rng: a key of the right type (replaced).
      data_iterator: the training iterator; its position is set in place.

    Returns:
      (state, rng) from the checkpoint, or None if the folder holds no checkpoint.
    """
    step = manager.latest_step()
    if step is None:
        return None
    template = dict(checkpoint_items(state), rng=rng_to_data(rng))
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    try:
        restored = manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract),
                                          data=grain.checkpoint.CheckpointRestore(data_iterator)))
    except (ValueError, KeyError, FileNotFoundError) as e:
        raise CheckpointError(f"{manager.directory}/{step}: cannot restore the training "
                              f"checkpoint ({str(e).splitlines()[0][:200]})") from None
    items = restored["state"]
    return restore_items(state, items), rng_from_data(items["rng"])
