"""Detector mode: YOLOX trained on the person boxes of the labeled frames (SimOTA loss).

From scratch (the official init: Flax's conv init, BatchNorm eps 1e-3 and momentum 0.03, and
the class and objectness biases at a 0.01 prior) or from `detector.checkpoint` (a converted
folder or an official file, same architecture). Validation adds box AP@0.5 and AP@[.5:.95]
(`evaluation/box_ap.py`) on the detections of every val frame, detections centred in an
ignore region left out. The export is WORKDIR/yolox, a converted YOLOX folder that `--detector`
reads, from the validated checkpoint of highest box AP@0.5 (`SELECTION`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gnnpose_jax.data.detector_samples import unpack_polygons
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.evaluation.box_ap import box_ap
from gnnpose_jax.models import pretrained, run_folder
from gnnpose_jax.models.yolox import PRESETS, STRIDES, YOLOX, YoloxConfig
from gnnpose_jax.training import checkpoints, inputs, schedules, steps
from gnnpose_jax.training import config as config_lib
from gnnpose_jax.training.config import CUSTOM_DETECTOR_KEYS, CUSTOM_VARIANT
from gnnpose_jax.training.state import TrainState, create_state, run_once
from gnnpose_jax.training.task import SumMetrics, Task

#: The exported checkpoint is the validated one of highest box AP@0.5 (not lowest loss).
SELECTION = checkpoints.Selection("box_ap50", "max")
#: The official head init: class and objectness logits start at this probability.
PRIOR_PROB = 0.01


def architecture(config: ml_collections.ConfigDict) -> YoloxConfig:
    """The `YoloxConfig` of the config's `detector` section (input size: the larger side).

    An official `detector.variant` brings its own depth, width and conv flavour, and
    `detector.depth`, `width` and `depthwise` must stay unset (None); "custom" reads all three.
    """
    det = config.detector
    if det.variant == CUSTOM_VARIANT:
        for key in CUSTOM_DETECTOR_KEYS:
            if det[key] is None:
                raise ConfigError(f"detector.{key} is unset: detector.variant 'custom' reads "
                                  f"detector.{', detector.'.join(CUSTOM_DETECTOR_KEYS)}")
        if not (det.depth > 0 and det.width > 0):
            raise ConfigError(f"detector.depth {det.depth!r} and detector.width {det.width!r} "
                              "must be positive")
        base = YoloxConfig(depth=det.depth, width=det.width, depthwise=det.depthwise)
    elif det.variant in PRESETS:
        base = PRESETS[det.variant]
        for key in CUSTOM_DETECTOR_KEYS:
            if det[key] is not None:
                raise ConfigError(
                    f"detector.{key} {det[key]!r} is read only by detector.variant 'custom' "
                    f"(variant {det.variant!r} has {key} {getattr(base, key)!r}): leave it "
                    "unset or set detector.variant=custom")
    else:
        raise ConfigError(f"detector.variant {det.variant!r} must be one of "
                          f"{(*PRESETS, CUSTOM_VARIANT)}")
    if isinstance(det.num_classes, bool) or not isinstance(det.num_classes, int) \
            or det.num_classes < 1:
        raise ConfigError(f"detector.num_classes {det.num_classes!r} must be a positive integer")
    return dataclasses.replace(base, num_classes=det.num_classes,
                               input_size=max(input_hw(config)))


def input_hw(config: ml_collections.ConfigDict) -> tuple[int, int]:
    """`detector.input_hw`, checked to be two positive multiples of the largest stride."""
    hw = config.detector.input_hw
    if (not isinstance(hw, tuple | list) or len(hw) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in hw)
            or any(v <= 0 or v % STRIDES[-1] for v in hw)):
        raise ConfigError(f"detector.input_hw {hw!r} must be (H, W), both positive multiples "
                          f"of {STRIDES[-1]}")
    return tuple(hw)


def check_config(config: ml_collections.ConfigDict) -> None:
    """ConfigError naming the first bad `detector` key."""
    architecture(config)
    det = config.detector
    for key in ("max_boxes", "eval_max_boxes"):
        if isinstance(det[key], bool) or not isinstance(det[key], int) or det[key] < 1:
            raise ConfigError(f"detector.{key} {det[key]!r} must be a positive integer")
    if not 0 <= det.scale_jitter < 1 or det.l1_last_epochs < 0:
        raise ConfigError(f"detector.scale_jitter {det.scale_jitter} must be in [0, 1) and "
                          f"detector.l1_last_epochs {det.l1_last_epochs} >= 0")


def _set_prior_biases(variables: dict, prior: float = PRIOR_PROB) -> dict:
    """The official `initialize_biases`: class and objectness biases at logit(prior)."""
    value = -math.log((1 - prior) / prior)

    def draw(path, leaf):
        """A prediction conv's bias set to the prior, other leaves kept."""
        names = [getattr(p, "key", "") for p in path]
        if names[-1] == "bias" and any(n.startswith(("cls_preds", "obj_preds")) for n in names):
            return np.full(leaf.shape, value, leaf.dtype)
        return np.asarray(leaf)

    return {**variables,
            "params": jax.tree_util.tree_map_with_path(draw, jax.device_get(variables["params"]))}


def initial_variables(config: ml_collections.ConfigDict, arch: YoloxConfig) -> dict:
    """`detector.checkpoint`'s variables (same architecture), or the official random init."""
    if config.detector.checkpoint:
        found, variables = pretrained.load_detector_weights(config.detector.checkpoint)
        # Layer counts and widths, not the multipliers: a converter infers depth 1/3 for 0.33.
        shape = {"blocks": lambda c: (c.backbone_blocks, c.fpn_blocks),
                 "channels": lambda c: (c.stem_channels, c.head_channels,
                                        *(c.fpn_channels(level) for level in range(3))),
                 "depthwise": lambda c: c.depthwise, "num_classes": lambda c: c.num_classes}
        diff = [f"{name} {of(arch)} vs {of(found)}" for name, of in shape.items()
                if of(arch) != of(found)]
        if diff:
            raise ConfigError(f"detector.checkpoint {config.detector.checkpoint}: the "
                              f"checkpoint's YOLOX differs from the config ({'; '.join(diff)}, "
                              "config vs checkpoint)")
        return variables
    images = jnp.zeros((1, *input_hw(config), 3), jnp.float32)
    variables = run_once(lambda key: YOLOX(arch).init(key, images), jax.random.key(config.seed))
    return _set_prior_biases(variables)


class BoxApMetrics(SumMetrics):
    """Validation loss plus box AP of every valid val frame's detections (input pixels);
    detections centred in the frame's ignore regions do not count."""

    def __init__(self):
        super().__init__()
        self.detections: list[np.ndarray] = []
        self.ground_truth: list[np.ndarray] = []
        self.ignore_regions: list[list[np.ndarray]] = []

    def add(self, out: dict[str, Any], batch: dict[str, Any]) -> None:
        """Keeps the detections and GT boxes of the batch's valid frames, sums the rest."""
        boxes, found = jax.device_get((out.pop("boxes"), out.pop("box_valid")))
        super().add(out, batch)
        valid = batch["mask"].reshape(-1)
        gts = batch["boxes"].reshape(-1, *batch["boxes"].shape[2:])
        gt_mask = batch["box_mask"].reshape(-1, gts.shape[1])
        points, sizes = batch["ignore_points"], batch["ignore_sizes"]
        for i in np.flatnonzero(valid):
            self.detections.append(boxes.reshape(-1, *boxes.shape[2:])[i][
                found.reshape(-1, found.shape[-1])[i]])
            cxcywh = gts[i][gt_mask[i]]
            self.ground_truth.append(np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2,
                                                     cxcywh[:, 2:]], axis=1))
            self.ignore_regions.append(unpack_polygons(
                points.reshape(-1, *points.shape[2:])[i], sizes.reshape(-1, sizes.shape[-1])[i]))

    def result(self) -> dict[str, float]:
        """The loss ratio and `box_ap50`, `box_ap`."""
        return {**super().result(),
                **box_ap(self.detections, self.ground_truth, self.ignore_regions)}


def l1_start_step(config: ml_collections.ConfigDict, num_examples: int) -> int:
    """The first update with the L1 loss: `detector.l1_last_epochs` before the end."""
    per_epoch = schedules.steps_per_epoch(num_examples, config.batch_size,
                                          config.data.train_split)
    total = config.num_train_steps or int(round(config.num_epochs * per_epoch))
    return max(total - int(round(config.detector.l1_last_epochs * per_epoch)), 0)


def step_functions(config: ml_collections.ConfigDict, l1_from_step: int
                   ) -> tuple[Callable, Callable]:
    """The (train, eval) steps of the config, static arguments bound (what the loop pmaps).

    Args:
      config: the run config.
      l1_from_step: the first update with the L1 loss (`l1_start_step`).
    """
    det = config.detector
    return (functools.partial(steps.detector_train_step, l1_from_step=l1_from_step),
            functools.partial(steps.detector_eval_step, conf=det.eval_conf, nms=det.eval_nms,
                              max_boxes=det.eval_max_boxes))


def abstract_state(config: ml_collections.ConfigDict, tx: optax.GradientTransformation
                   ) -> TrainState:
    """The state `build`'s task creates, as shapes and dtypes (no init, no checkpoint read)."""
    images = np.zeros((1, *input_hw(config), 3), np.float32)
    model = YOLOX(architecture(config), dtype=config_lib.compute_dtype(config))
    return jax.eval_shape(lambda key: create_state(model.apply, model.init(key, images), tx),
                          jax.random.key(config.seed))


def build(config: ml_collections.ConfigDict, workdir: Path, per_device_batch: int) -> Task:
    """The detector-mode task.

    Args:
      config: the run config.
      workdir: the run's folder (data may be generated there).
      per_device_batch: frames per device per step.

    Returns:
      The task.
    """
    check_config(config)
    arch = architecture(config)
    dtype = config_lib.compute_dtype(config)
    train_loader, val_loader, num_examples = inputs.detector_loaders(config, workdir,
                                                                     per_device_batch)

    def make_state(tx: optax.GradientTransformation) -> TrainState:
        """Fresh state from the checkpoint or the official random init."""
        return create_state(YOLOX(arch, dtype=dtype).apply, initial_variables(config, arch), tx)

    def write_export(directory: Path, state: TrainState) -> None:
        """WORKDIR/yolox in `load_yolox`'s format."""
        variables = {"params": state.params, "batch_stats": state.batch_stats}
        run_folder.export_yolox(directory / run_folder.YOLOX_EXPORT, arch, variables,
                                config.compute_dtype)

    train_step, eval_step = step_functions(config, l1_start_step(config, num_examples))
    return Task(create_state=make_state, train_step=train_step, eval_step=eval_step,
                train_loader=train_loader, val_loader=val_loader,
                num_train_examples=num_examples, to_batch=inputs.detector_batch,
                export=write_export, eval_metrics=BoxApMetrics)
