"""Training checkpoints: Orbax CheckpointManager over the state, the RNG and the data iterator.

Layout: `WORKDIR/checkpoints/{step}/` with two items, `state` (`state.checkpoint_items` plus the
base PRNG key's words) and `data` (the grain iterator state, one file per process). Saving is
asynchronous and atomic (Orbax writes a temporary folder and renames it when complete), so a
run killed at any moment leaves only whole checkpoints. The manager keeps the last
`keep` checkpoints plus the best validated one: by a mode's `Selection`, the lowest validation
loss unless the mode names another metric (detector mode: the highest box AP@0.5).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
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
#: The items every training checkpoint holds: the state (with the base key) and the iterator.
CHECKPOINT_ITEMS = ("state", "data")


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which validation metric marks the best checkpoint.

    Attributes:
      metric: the validation metric's name (`val/<metric>` in metrics.jsonl).
      mode: "min" (lowest is best) or "max".
    """

    metric: str = "loss"
    mode: str = "min"

    def __post_init__(self):
        if self.mode not in ("min", "max"):
            raise ValueError(f"Selection.mode {self.mode!r} must be 'min' or 'max'")

    @property
    def key(self) -> str:
        """The name the metric is stored under in a checkpoint's metrics."""
        return f"val_{self.metric}"


#: The default: the lowest validation loss.
LOWEST_LOSS = Selection()
#: The metric whose lowest value marks the best checkpoint by default.
BEST_METRIC = LOWEST_LOSS.key


class _NoMetricWarning(logging.Filter):
    """Drops Orbax's warning for a checkpoint saved without metrics.

    Checkpoints between validations legitimately have no validation loss; Orbax warns about
    each one once `best_fn` is set (which it must be, or metrics are never written to disk).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for that one warning."""
        return "did not provide metrics" not in record.getMessage()


_NO_METRIC_WARNING = _NoMetricWarning()


def make_manager(workdir: str | Path, keep: int, asynchronous: bool = True,
                 selection: Selection = LOWEST_LOSS) -> ocp.CheckpointManager:
    """The run's checkpoint manager under `WORKDIR/checkpoints`.

    Args:
      workdir: the run's folder.
      keep: how many of the latest checkpoints to keep (the best is kept besides).
      asynchronous: write in a background thread.
      selection: the metric that ranks validated checkpoints.

    Returns:
      The manager; close it (or use it as a context manager) to finish pending writes.
    """
    key, worst = selection.key, math.inf if selection.mode == "min" else -math.inf

    def metric(m: Mapping[str, float]) -> float:
        """The selection metric; the worst value for one saved under another selection."""
        return m.get(key, worst)

    policy = checkpoint_managers.AnyPreservationPolicy([
        checkpoint_managers.LatestN(n=max(keep, 1)),
        # BestN keeps the n last of the ascending sort (descending with reverse=True): the
        # lowest values for "min", the highest for "max".
        checkpoint_managers.BestN(get_metric_fn=metric,
                                  reverse=selection.mode == "min", n=1,
                                  keep_checkpoints_without_metrics=False),
    ])
    options = ocp.CheckpointManagerOptions(
        preservation_policy=policy, best_fn=metric, best_mode=selection.mode,
        enable_async_checkpointing=asynchronous, cleanup_tmp_directories=True, create=True)
    logging.getLogger("absl").addFilter(_NO_METRIC_WARNING)
    return ocp.CheckpointManager(
        Path(workdir).absolute() / CHECKPOINT_DIR, options=options,
        item_handlers={"state": ocp.StandardCheckpointHandler(),
                       "data": grain.checkpoint.CheckpointHandler()})


def selection_metrics(val_metrics: Mapping[str, float] | None,
                      selection: Selection = LOWEST_LOSS) -> dict[str, float] | None:
    """The checkpoint metrics of one validation: the selection metric if it is finite."""
    if not val_metrics or selection.metric not in val_metrics:
        return None
    value = float(val_metrics[selection.metric])
    return {selection.key: value} if math.isfinite(value) else None


def save(manager: ocp.CheckpointManager, state: TrainState, rng: jax.Array, data_iterator: Any,
         val_loss: float | None = None, metrics: Mapping[str, float] | None = None) -> None:
    """Starts saving a host copy of the state, the base key and the iterator at `state.step`.

    Args:
      manager: from `make_manager`.
      state: an unreplicated state on the host (`distributed.unreplicate`).
      rng: the run's base key.
      data_iterator: the training iterator (grain `DatasetIterator` or `DataLoaderIterator`),
        positioned just after the last batch the state has consumed.
      val_loss: the validation loss at this step, if validation just ran (ranks the best
        under the default selection).
      metrics: instead, the checkpoint metrics (`selection_metrics`), if validation just ran.
    """
    items = dict(checkpoint_items(state), rng=rng_to_data(rng))
    if metrics is None and val_loss is not None:
        metrics = {BEST_METRIC: float(val_loss)}
    manager.save(int(state.step),
                 args=ocp.args.Composite(state=ocp.args.StandardSave(items),
                                         data=grain.checkpoint.CheckpointSave(data_iterator)),
                 metrics=None if metrics is None else dict(metrics))


def best_step(manager: ocp.CheckpointManager) -> int | None:
    """The kept step ranked best by the manager's selection, or None if no kept step has a
    metric."""
    scored = [step for step in manager.all_steps() if manager.metrics(step)]
    return manager.best_step() if scored else None


def restore_state(manager: ocp.CheckpointManager, step: int, state: TrainState) -> TrainState:
    """The state items of checkpoint `step` in a template state (the iterator is left alone)."""
    template = dict(checkpoint_items(state), rng=rng_to_data(jax.random.key(0)))
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract)))
    return restore_items(state, restored["state"])


def check_complete(manager: ocp.CheckpointManager, step: int) -> None:
    """Refuses, with what to do, a step folder that lacks the items `save` writes (an empty
    `checkpoints/<step>` left by a save cut short, or by files removed by hand).

    Raises:
      CheckpointError: naming the folder, what it lacks, and the step a resume would fall
        back to once the folder is deleted.
    """
    folder = Path(str(manager.directory)) / str(step)
    missing = [item for item in CHECKPOINT_ITEMS if not (folder / item).is_dir()]
    if not missing:
        return
    what = "is empty" if not any(folder.iterdir()) else f"has no {' or '.join(missing)} item"
    earlier = [s for s in manager.all_steps() if s < step]
    fallback = f"from step {max(earlier)}" if earlier else "from the start"
    raise CheckpointError(f"{folder}: the training checkpoint {what} (a save cut short, or "
                          f"files removed); delete this folder to resume {fallback}, or train "
                          "into a new --workdir")


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
    check_complete(manager, step)
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
