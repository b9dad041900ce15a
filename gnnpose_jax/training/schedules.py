"""Learning-rate schedules and optimisers, with epoch boundaries turned into optimiser steps.

An epoch is `steps_per_epoch = num_examples // global_batch_size` steps: every step consumes one
full global batch and the remainder of the split is dropped, so epoch e (0-based) is made of
the steps (optimiser update counts) e * S ... (e + 1) * S - 1. A decay "at epoch 5" therefore
applies from update count 5 * S on, which is exactly `optax.piecewise_constant_schedule`'s
rule (count >= boundary).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import ml_collections
import optax

from gnnpose_jax.errors import ConfigError, DataError

OPTIMIZERS = ("adam", "sgd")


def steps_per_epoch(num_examples: int, global_batch_size: int, split: str = "train") -> int:
    """Optimiser steps per epoch: the number of full global batches in the split.

    Args:
      num_examples: examples in the split (all processes together).
      global_batch_size: examples per step over all devices and processes.
      split: the split's name, for the error message.

    Returns:
      `num_examples // global_batch_size`, at least 1.

    Raises:
      DataError: if the split holds no example or fewer than one global batch.
    """
    if global_batch_size < 1:
        raise ConfigError(f"batch_size {global_batch_size} must be >= 1")
    if num_examples < global_batch_size:
        raise DataError(f"the {split} split has {num_examples} examples, fewer than one "
                        f"global batch of {global_batch_size} (check data.root and the split)")
    return num_examples // global_batch_size


def decay_boundaries(decay_epochs: Sequence[float], decay_factor: float,
                     num_steps_per_epoch: int) -> dict[int, float]:
    """`{step: factor}` for `optax.piecewise_constant_schedule` from decay epochs.

    Args:
      decay_epochs: epochs (0-based, may be fractional) at whose first step the rate is
        multiplied by `decay_factor`.
      decay_factor: the multiplier, e.g. 0.1.
      num_steps_per_epoch: S, optimiser steps per epoch.

    Returns:
      `{round(e * S): decay_factor}`; two epochs landing on one step multiply there.
    """
    boundaries: dict[int, float] = {}
    for epoch in decay_epochs:
        if epoch <= 0:
            raise ConfigError(f"optimizer.decay_epochs {tuple(decay_epochs)} must be > 0")
        step = int(round(epoch * num_steps_per_epoch))
        boundaries[step] = boundaries.get(step, 1.0) * decay_factor
    return boundaries


def learning_rate_schedule(base_rate: float, decay_epochs: Sequence[float], decay_factor: float,
                           num_steps_per_epoch: int, warmup_steps: int = 0) -> optax.Schedule:
    """Piecewise-constant decay at epoch boundaries, optionally after a linear warm-up.

    Args:
      base_rate: the initial learning rate.
      decay_epochs: epochs at which the rate is multiplied by `decay_factor`.
      decay_factor: the multiplier.
      num_steps_per_epoch: optimiser steps per epoch.
      warmup_steps: over the first `warmup_steps` updates the rate ramps linearly from
        base_rate / warmup_steps to the scheduled rate (0 = no warm-up). The warm-up scales
        the decayed schedule rather than shifting it, so the decay boundaries stay put.

    Returns:
      An optax schedule: update count -> learning rate.
    """
    decay = optax.piecewise_constant_schedule(
        base_rate, decay_boundaries(decay_epochs, decay_factor, num_steps_per_epoch))
    if warmup_steps <= 0:
        return decay

    def schedule(count):
        """The decayed rate times min(1, (count + 1) / warmup_steps)."""
        ramp = jnp.minimum(1.0, (count + 1.0) / warmup_steps)
        return decay(count) * ramp

    return schedule


def make_optimizer(config: ml_collections.ConfigDict, num_steps_per_epoch: int
                   ) -> optax.GradientTransformation:
    """The optimiser of `config.optimizer`: Adam or SGD on the epoch schedule, optional clipping.

    Args:
      config: `optimizer` section with `name`, `learning_rate`, `decay_epochs`,
        `decay_factor`, `warmup_steps`, `grad_clip_norm` (0 = off) and `momentum` (SGD only).
      num_steps_per_epoch: optimiser steps per epoch.

    Returns:
      The gradient transformation.
    """
    if config.name not in OPTIMIZERS:
        raise ConfigError(f"optimizer.name {config.name!r} must be one of {OPTIMIZERS}")
    rate = learning_rate_schedule(config.learning_rate, tuple(config.decay_epochs),
                                  config.decay_factor, num_steps_per_epoch, config.warmup_steps)
    if config.name == "adam":
        optimizer = optax.adam(rate)
    else:
        optimizer = optax.sgd(rate, momentum=config.momentum or None)
    if config.grad_clip_norm > 0:
        return optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), optimizer)
    return optimizer
