"""HRNet mode: top-down heatmap regression with BatchNorm in train mode (docs/spec/method.md §4)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gnnpose_jax.errors import ConfigError
from gnnpose_jax.models import run_folder
from gnnpose_jax.models.hrnet import HRNet, HRNetConfig, load_hrnet
from gnnpose_jax.training import config as config_lib
from gnnpose_jax.training import inputs, steps
from gnnpose_jax.training.state import TrainState, create_state, run_once
from gnnpose_jax.training.task import Task

#: HRNet's lowest branch is 1/32 of the input.
INPUT_MULTIPLE = 32
#: The official HRNet draws every conv kernel from N(0, 0.001^2) (biases 0, BN scale 1).
OFFICIAL_KERNEL_STD = 0.001


def architecture(config: ml_collections.ConfigDict) -> HRNetConfig:
    """The `HRNetConfig` of the config's `hrnet` section (17 joint slots)."""
    h = config.hrnet
    return HRNetConfig(width=h.width, stem_channels=h.stem_channels,
                       layer1_blocks=h.layer1_blocks, layer1_planes=h.layer1_planes,
                       stage_modules=tuple(h.stage_modules), stage_blocks=tuple(h.stage_blocks))


def input_hw(config: ml_collections.ConfigDict) -> tuple[int, int]:
    """`hrnet.input_hw`, checked to be two integers, positive multiples of 32."""
    hw = config.hrnet.input_hw
    if (not isinstance(hw, tuple | list) or len(hw) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in hw)
            or any(v <= 0 or v % INPUT_MULTIPLE for v in hw)):
        raise ConfigError(f"hrnet.input_hw {hw!r} must be (H, W), both positive multiples of "
                          f"{INPUT_MULTIPLE}")
    return tuple(hw)


def check_architecture(expected: HRNetConfig, found: HRNetConfig, source: str) -> None:
    """Refuses a checkpoint whose architecture differs from the config's, naming the fields."""
    diff = [f"hrnet.{f.name} {getattr(expected, f.name)} vs {getattr(found, f.name)}"
            for f in dataclasses.fields(HRNetConfig)
            if getattr(expected, f.name) != getattr(found, f.name)]
    if diff:
        raise ConfigError(f"{source}: the checkpoint's HRNet differs from the config "
                          f"({'; '.join(diff)}, config vs checkpoint)")


def official_init(variables: dict, seed: int, std: float = OFFICIAL_KERNEL_STD) -> dict:
    """The official HRNet initialisation: conv kernels N(0, std^2), biases 0 (seeded NumPy).

    Flax's default (LeCun normal) starts with heatmaps in the hundreds, and training from
    scratch then sits for thousands of steps predicting all-zero heatmaps; from the official
    init a tiny HRNet fits a batch of the synthetic world in about 100 steps.
    """
    rng = np.random.default_rng(seed)

    def draw(path, leaf):
        """A new value for one parameter, by its name."""
        name = getattr(path[-1], "key", None)
        if name == "kernel":
            return (rng.standard_normal(leaf.shape) * std).astype(leaf.dtype)
        if name == "bias":
            return np.zeros(leaf.shape, leaf.dtype)
        return np.asarray(leaf)

    params = jax.tree_util.tree_map_with_path(draw, jax.device_get(variables["params"]))
    return {**variables, "params": params}


def initial_variables(config: ml_collections.ConfigDict, arch: HRNetConfig) -> dict:
    """`hrnet.init_checkpoint`'s variables, or the official random init (seeded)."""
    if config.hrnet.init_checkpoint:
        module, variables = load_hrnet(config.hrnet.init_checkpoint)
        check_architecture(arch, module.config, f"hrnet.init_checkpoint "
                                                f"{config.hrnet.init_checkpoint}")
        return variables
    images = jnp.zeros((1, *input_hw(config), 3), jnp.float32)
    variables = run_once(lambda key: HRNet(arch).init(key, images, train=False),
                         jax.random.key(config.seed))
    return official_init(variables, config.seed)


def step_functions(config: ml_collections.ConfigDict) -> tuple[Callable, Callable]:
    """The (train, eval) steps of the config, static arguments bound (what the loop pmaps)."""
    del config
    return steps.hrnet_train_step, steps.hrnet_eval_step


def abstract_state(config: ml_collections.ConfigDict, tx: optax.GradientTransformation
                   ) -> TrainState:
    """The state `build`'s task creates, as shapes and dtypes (no init, no checkpoint read)."""
    images = np.zeros((1, *input_hw(config), 3), np.float32)
    model = HRNet(architecture(config), dtype=config_lib.compute_dtype(config))
    return jax.eval_shape(lambda key: create_state(
        model.apply, model.init(key, images, train=False), tx), jax.random.key(config.seed))


def build(config: ml_collections.ConfigDict, workdir: Path, per_device_batch: int) -> Task:
    """The HRNet-mode task.

    Args:
      config: the run config.
      workdir: the run's folder (data may be generated there).
      per_device_batch: examples per device per step.

    Returns:
      The task.
    """
    arch, hw = architecture(config), input_hw(config)
    dtype = config_lib.compute_dtype(config)
    train_loader, val_loader, num_examples = inputs.hrnet_loaders(config, workdir,
                                                                  per_device_batch)

    def make_state(tx: optax.GradientTransformation) -> TrainState:
        """Fresh state from the init checkpoint or a random init."""
        return create_state(HRNet(arch, dtype=dtype).apply, initial_variables(config, arch), tx)

    def write_export(directory: Path, state: TrainState) -> None:
        """WORKDIR/hrnet in `load_hrnet`'s format."""
        variables = {"params": state.params, "batch_stats": state.batch_stats}
        run_folder.export_hrnet(directory / run_folder.HRNET_EXPORT, arch, variables, hw,
                                config.compute_dtype)

    train_step, eval_step = step_functions(config)
    return Task(create_state=make_state, train_step=train_step,
                eval_step=eval_step, train_loader=train_loader,
                val_loader=val_loader, num_train_examples=num_examples,
                to_batch=inputs.hrnet_batch, export=write_export)
