"""A config's train and eval steps with abstract inputs: what `train.py` would pmap, as shapes.

`abstract_program(config, per_device_batch)` gives the mode's step functions (the same
`step_functions` its `build` hands the loop), the state as `jax.ShapeDtypeStruct`s
(`abstract_state`: `jax.eval_shape` of the state creation) and one device's train and eval
batches as shapes. The batches go through the loop's own converters (`inputs.hrnet_batch`,
`gnn_batch`, `detector_batch`) from samples of the transforms' shapes whose arrays are
zero-strided views, so nothing of the size of an image batch is allocated. No data is read,
no weights are loaded and no program runs (`gnnpose_jax.plan` compiles these for a TPU slice).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
import numpy as np

from gnnpose_jax.data import detector_samples, pipeline, topdown_samples, windows
from gnnpose_jax.data.joints import NUM_JOINTS
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.graphs import graph_budget
from gnnpose_jax.training import detector_mode, gnn_mode, hrnet_mode, inputs, schedules
from gnnpose_jax.training.losses import LOSSES
from gnnpose_jax.training.state import TrainState

MODES = ("hrnet", "gnn", "detector")


@dataclasses.dataclass(frozen=True)
class StepProgram:
    """One device's share of a training run's steps, all inputs abstract.

    Attributes:
      train_step: `(state, batch, rng) -> (state, metrics)`, pmapped with the state donated.
      eval_step: `(state, batch) -> sums`, pmapped.
      state: one replica of the state (`jax.ShapeDtypeStruct` leaves).
      train_batch: one device's train batch (`jax.ShapeDtypeStruct` leaves).
      eval_batch: one device's eval batch.
      rng: the base key's shape (a typed key).
    """

    train_step: Callable
    eval_step: Callable
    state: Any
    train_batch: dict[str, Any]
    eval_batch: dict[str, Any]
    rng: jax.ShapeDtypeStruct


def _zeros(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A read-only zero array of any size that takes no memory (one element, broadcast)."""
    return np.broadcast_to(np.zeros((), dtype), shape)


def _hrnet_batches(config: ml_collections.ConfigDict, b: int) -> tuple[dict, dict]:
    """(train, eval) HRNet step batches of `b` examples (leading device axis 1)."""
    codec = inputs.topdown_config(config)
    k = NUM_JOINTS
    sample = topdown_samples.TopDownSample(
        image=_zeros((1, b, *codec.input_hw, 3), np.float32),
        heatmaps=_zeros((1, b, *codec.heatmap_hw, k), np.float32),
        weights=_zeros((1, b, k), np.float32), keypoints=_zeros((1, b, k, 4), np.float32),
        matrix=_zeros((1, b, 2, 3), np.float32))
    valid = _zeros((1, b), np.bool_)
    return inputs.hrnet_batch(sample), inputs.hrnet_batch(inputs.TopDownEval(*sample, valid))


def _gnn_batches(config: ml_collections.ConfigDict, b: int) -> tuple[dict, dict]:
    """(train, eval) GNN step batches of `b` windows (leading device axis 1), the graphs
    padded to the loop's budget (their shapes depend on the budget only)."""
    spec = gnn_mode.gnn_config(config).graph
    settings = inputs.window_config(config)
    t, k = settings.history + 1, NUM_JOINTS
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
    history = np.zeros((settings.history, k, 3), np.float32)
    history[:, 0] = (1.0, 1.0, 1.0)
    window = windows.TrackletWindow(
        crops=_zeros((1, b, t, *settings.input_hw, 3), np.float32),
        crop_matrices=np.broadcast_to(identity, (1, b, t, 2, 3)),
        image_matrices=np.broadcast_to(identity, (1, b, t, 2, 3)),
        frame_valid=np.ones((1, b, t), np.bool_),
        history=np.broadcast_to(history, (1, b, *history.shape)),
        box=np.broadcast_to(np.array([0.0, 0.0, 2.0, 2.0], np.float32), (1, b, 4)),
        target=_zeros((1, b, k, 4), np.float32),
        frame_matrix=np.broadcast_to(identity, (1, b, 2, 3)))
    budget = graph_budget(spec, b)
    valid = np.ones((1, b), np.bool_)
    return (inputs.gnn_batch(window, spec, budget),
            inputs.gnn_batch(inputs.WindowEval(*window, valid), spec, budget))


def _detector_batches(config: ml_collections.ConfigDict, b: int) -> tuple[dict, dict]:
    """(train, eval) detector step batches of `b` frames (leading device axis 1)."""
    settings = inputs.detector_config(config)
    g, layout = settings.max_boxes, pipeline.RecordLayout()
    sample = detector_samples.DetectorSample(
        image=_zeros((1, b, *settings.input_hw, 3), np.float32),
        boxes=_zeros((1, b, g, 4), np.float32), classes=_zeros((1, b, g), np.int32),
        box_mask=_zeros((1, b, g), np.bool_),
        ignore_points=_zeros((1, b, layout.max_ignore_points, 2), np.float32),
        ignore_sizes=_zeros((1, b, layout.max_ignore_regions), np.int32))
    valid = _zeros((1, b), np.bool_)
    return (inputs.detector_batch(sample),
            inputs.detector_batch(inputs.DetectorEval(*sample, valid)))


def check_config(config: ml_collections.ConfigDict) -> None:
    """The checks of `loop.check_config` that concern the steps (not data, batch split or
    checkpoints: a plan reads none of them).

    Raises:
      ConfigError: naming the key.
    """
    if config.mode not in MODES:
        raise ConfigError(f"mode {config.mode!r} must be one of {MODES}")
    hrnet_mode.input_hw(config)
    schedules.make_optimizer(config.optimizer, 1)
    if config.mode == "gnn":
        if config.gnn.loss not in LOSSES:
            raise ConfigError(f"gnn.loss {config.gnn.loss!r} must be one of {LOSSES}")
        gnn_mode.gnn_config(config)
        inputs.window_config(config)
    if config.mode == "detector":
        detector_mode.check_config(config)


def abstract_program(config: ml_collections.ConfigDict, per_device_batch: int) -> StepProgram:
    """The config's pmapped-step program for `per_device_batch` examples per device.

    Args:
      config: a run config (any mode).
      per_device_batch: examples (HRNet), windows (GNN) or frames (detector) per device.

    Returns:
      The program, its inputs abstract.

    Raises:
      ConfigError: a bad config key or batch.
    """
    check_config(config)
    if isinstance(per_device_batch, bool) or not isinstance(per_device_batch, int) \
            or per_device_batch < 1:
        raise ConfigError(f"per-device batch {per_device_batch!r} must be a positive integer")
    # The schedule's length changes no shape: one step per epoch will do.
    tx = schedules.make_optimizer(config.optimizer, 1)
    if config.mode == "hrnet":
        state: TrainState = hrnet_mode.abstract_state(config, tx)
        steps = hrnet_mode.step_functions(config)
        batches = _hrnet_batches(config, per_device_batch)
    elif config.mode == "gnn":
        state = gnn_mode.abstract_state(config, tx)
        steps = gnn_mode.step_functions(config)
        batches = _gnn_batches(config, per_device_batch)
    else:
        state = detector_mode.abstract_state(config, tx)
        # Where the L1 loss starts is a constant of the program; it changes no cost.
        steps = detector_mode.step_functions(config, l1_from_step=0)
        batches = _detector_batches(config, per_device_batch)
    train_batch, eval_batch = (jax.tree.map(lambda x: jax.ShapeDtypeStruct(
        np.shape(x)[1:], np.asarray(x).dtype), batch) for batch in batches)
    return StepProgram(train_step=steps[0], eval_step=steps[1], state=state,
                       train_batch=train_batch, eval_batch=eval_batch,
                       rng=jax.eval_shape(lambda: jax.random.key(config.seed)))
