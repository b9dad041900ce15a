"""The training driver: `train_and_evaluate(config, workdir)`, the same loop for every mode.

Per step: one loader batch -> the pmapped train step. Periodic actions, in this order after a
step (`periodic.py`): log (train metrics to TensorBoard and metrics.jsonl), validate, checkpoint
(also after every validation, with its loss, so that the best step can be kept).
Before anything is logged or saved, the steps' metrics pass the NaN/Inf guard (`guard.py`).
A workdir holding a checkpoint is resumed from its latest one: state, base key and data
iterator position, so the resumed run is the uninterrupted one, bit for bit. At the end the
best validated network (else the last) is exported (`models/run_folder.py`): the lowest
validation loss, or the mode's own `SELECTIONS` metric (detector: the highest box AP@0.5).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from gnnpose_jax.errors import ConfigError
from gnnpose_jax.training import (
    checkpoints,
    detector_mode,
    distributed,
    gnn_mode,
    guard,
    hrnet_mode,
    inputs,
    periodic,
    schedules,
)
from gnnpose_jax.training import config as config_lib
from gnnpose_jax.training.metrics import MetricWriter, Progress
from gnnpose_jax.training.state import TrainState
from gnnpose_jax.training.task import Task

MODES = {"hrnet": hrnet_mode.build, "gnn": gnn_mode.build, "detector": detector_mode.build}
#: The validation metric that picks a mode's exported checkpoint, where not the lowest loss.
SELECTIONS = {"detector": detector_mode.SELECTION}
PERIODIC_ACTIONS = ("log", "eval", "checkpoint")
#: Train metrics averaged over the steps since the last log.
_AVERAGED = ("loss", "grad_norm")


def pmap_train_step(train_step, devices=None):
    """`train_step` pmapped over `devices` (default: the local ones), the state donated."""
    return jax.pmap(train_step, axis_name=distributed.AXIS, donate_argnums=(0,), devices=devices)


def pmap_eval_step(eval_step, devices=None):
    """`eval_step` pmapped over `devices` (default: the local ones)."""
    return jax.pmap(eval_step, axis_name=distributed.AXIS, devices=devices)


@dataclasses.dataclass
class _Run:
    """The state of one training run between steps; methods are the periodic actions."""

    config: ml_collections.ConfigDict
    workdir: Path
    task: Task
    manager: ocp.CheckpointManager
    state: TrainState  # replicated
    rng: jax.Array
    iterator: Any
    total_steps: int
    steps_per_epoch: int
    schedule: Any
    writer: MetricWriter
    progress: Progress
    pending: list = dataclasses.field(default_factory=list)  # (step, device metrics)
    checked: list = dataclasses.field(default_factory=list)  # (step, host metrics)
    last_log: tuple[int, float] = (0, 0.0)
    selection: checkpoints.Selection = checkpoints.LOWEST_LOSS

    @functools.cached_property
    def p_train(self):
        """The train step, pmapped once; the state is donated."""
        return pmap_train_step(self.task.train_step)

    @functools.cached_property
    def p_eval(self):
        """The eval step, pmapped once."""
        return pmap_eval_step(self.task.eval_step)

    @functools.cached_property
    def rng_replicated(self) -> jax.Array:
        """The base key on every local device."""
        return distributed.replicate(self.rng)

    def step(self, step: int) -> None:
        """Runs update number `step` on the next batch."""
        batch = self.task.to_batch(next(self.iterator))
        self.state, metrics = self.p_train(self.state, batch, self.rng_replicated)
        self.pending.append((step, metrics))
        self.progress.update(step)

    def check(self) -> None:
        """Fetches the pending metrics and stops the run if any step diverged."""
        if not self.pending:
            return
        rows = [(s, {k: float(v) for k, v in distributed.unreplicate(m).items()})
                for s, m in self.pending]
        self.pending = []
        guard.check_finite(rows, self.manager.latest_step(), str(self.manager.directory))
        self.checked.extend(rows)

    def log(self, step: int) -> None:
        """Writes the train metrics averaged since the last log."""
        self.check()
        rows = [m for _, m in self.checked]
        self.checked = []
        now = time.perf_counter()
        rate = (step - self.last_log[0]) * self.config.batch_size / max(now - self.last_log[1],
                                                                        1e-9)
        self.last_log = (step, now)
        scalars = {f"train/{k}": np.mean([m[k] for m in rows]) for k in _AVERAGED}
        scalars.update({"train/param_norm": rows[-1]["param_norm"],
                        "train/learning_rate": float(self.schedule(step - 1)),
                        "train/epoch": step / self.steps_per_epoch,
                        "train/examples_per_second": rate})
        self.writer.write(step, scalars)
        self.progress.set_logged(scalars["train/loss"], rate)

    def evaluate(self, step: int) -> dict[str, float] | None:
        """One pass over the validation set; writes and returns the validation metrics."""
        if self.task.val_loader is None:
            return None
        self.check()
        started = time.perf_counter()
        accumulator = self.task.eval_metrics()
        for raw in self.task.val_loader:
            batch = self.task.to_batch(raw)
            accumulator.add(self.p_eval(self.state, batch), batch)
        metrics = accumulator.result()
        self.writer.write(step, {f"val/{k}": v for k, v in metrics.items()})
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        self.progress.write(f"step {step}/{self.total_steps}: val {shown}")
        # Throughput is a training figure: validation time does not count.
        self.last_log = (self.last_log[0], self.last_log[1] + time.perf_counter() - started)
        return metrics

    def host_state(self) -> TrainState:
        """The trained part of the state on the host (the frozen network stays on device)."""
        return distributed.unreplicate(self.state.replace(frozen={}))

    def save(self, val_metrics: dict[str, float] | None) -> None:
        """Checks the pending steps, then starts an asynchronous checkpoint (ranked by the
        selection metric of `val_metrics`, if validation just ran)."""
        self.check()
        checkpoints.save(self.manager, self.host_state(), self.rng, self.iterator,
                         metrics=checkpoints.selection_metrics(val_metrics, self.selection))

    def run(self) -> TrainState:
        """The remaining steps with their periodic actions; returns the final host state."""
        start = int(distributed.unreplicate(self.state.step))
        periods = {name: periodic.period_steps(self.config, name, self.steps_per_epoch)
                   for name in PERIODIC_ACTIONS}
        if start == 0 and self.config.eval_at_start:
            self.evaluate(0)
        self.last_log = (start, time.perf_counter())
        for step in range(start + 1, self.total_steps + 1):
            self.step(step)
            if periodic.is_time(step, periods["log"], self.total_steps):
                self.log(step)
            val_metrics = None
            if periodic.is_time(step, periods["eval"], self.total_steps):
                val_metrics = self.evaluate(step)
            # Every validated step is saved too, so the best one can be kept.
            if (val_metrics is not None
                    or periodic.is_time(step, periods["checkpoint"], self.total_steps)):
                self.save(val_metrics)
        return self.host_state()

    def export(self, final: TrainState) -> None:
        """Exports the best checkpoint by the selection metric, else `final` (all processes)."""
        self.manager.wait_until_finished()
        best = checkpoints.best_step(self.manager)
        state = final if best is None else checkpoints.restore_state(self.manager, best, final)
        self.task.export(self.workdir, state)
        if jax.process_index() == 0:
            self.progress.write(f"exported step {int(state.step)} to {self.workdir}")


def _start(config: ml_collections.ConfigDict, workdir: Path, task: Task,
           manager: ocp.CheckpointManager) -> _Run:
    """Builds the optimiser and state, resuming from the latest checkpoint if there is one."""
    steps_per_epoch = schedules.steps_per_epoch(task.num_train_examples, config.batch_size,
                                                config.data.train_split)
    total = config.num_train_steps or int(round(config.num_epochs * steps_per_epoch))
    opt = config.optimizer
    tx = schedules.make_optimizer(opt, steps_per_epoch)
    state = task.create_state(tx)
    rng = jax.random.key(config.seed)
    iterator = iter(task.train_loader)
    restored = checkpoints.restore_latest(manager, state, rng, iterator)
    if restored is not None:
        state, rng = restored
    schedule = schedules.learning_rate_schedule(opt.learning_rate, tuple(opt.decay_epochs),
                                                opt.decay_factor, steps_per_epoch,
                                                opt.warmup_steps)
    lead = jax.process_index() == 0
    progress = Progress(total, int(state.step), enabled=lead and config.progress_bar)
    if restored is not None:
        progress.write(f"resuming {workdir} from step {int(state.step)}")
    return _Run(config=config, workdir=workdir, task=task, manager=manager,
                state=distributed.replicate(state), rng=rng, iterator=iterator,
                total_steps=total, steps_per_epoch=steps_per_epoch, schedule=schedule,
                writer=MetricWriter(workdir, enabled=lead), progress=progress,
                selection=selection(config))


def selection(config: ml_collections.ConfigDict) -> checkpoints.Selection:
    """The metric that picks the exported checkpoint of the config's mode."""
    return SELECTIONS.get(config.mode, checkpoints.LOWEST_LOSS)


def check_config(config: ml_collections.ConfigDict) -> int:
    """Every check of the config alone, run before anything is written into the workdir.

    Returns:
      The per-device batch size.

    Raises:
      ConfigError: naming the key and what it must be.
    """
    if config.mode not in MODES:
        raise ConfigError(f"mode {config.mode!r} must be one of {tuple(MODES)}")
    batch = config.batch_size
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"batch_size {batch!r} must be a positive integer")
    per_device = distributed.per_process_batch_size(batch) // jax.local_device_count()
    config_lib.compute_dtype(config)
    hrnet_mode.input_hw(config)
    inputs.check_data_config(config.data)
    schedules.make_optimizer(config.optimizer, 1)
    for name in PERIODIC_ACTIONS:
        periodic.period_steps(config, name, 1)
    if config.mode == "gnn":
        gnn_mode.check_config(config)
    if config.mode == "detector":
        detector_mode.check_config(config)
    return per_device


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> TrainState:
    """Trains (or resumes) the run of `config` in `workdir`, validating and checkpointing.

    Args:
      config: a config from `configs/` (every key of `configs/base.py`).
      workdir: the run's folder: checkpoints, config.json, metrics.jsonl, TensorBoard events,
        the exported network, and the synthetic world unless `data.root` says otherwise.

    Returns:
      The final state on the host.

    Raises:
      GnnPoseError: bad config, data or checkpoints, or a diverged run (one line each).
    """
    per_device = check_config(config)
    workdir = Path(workdir).expanduser().absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    with checkpoints.make_manager(workdir, config.keep_checkpoints,
                                  selection=selection(config)) as manager:
        config_lib.pin_workdir_config(workdir, config, manager.latest_step() is not None,
                                      write=jax.process_index() == 0)
        run = _start(config, workdir, MODES[config.mode](config, workdir, per_device), manager)
        try:
            final = run.run()
            run.export(final)
        finally:
            run.progress.close()
            run.writer.close()
    return final
