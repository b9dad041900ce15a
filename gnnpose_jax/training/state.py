"""The training state: parameters, optimiser state, step, BatchNorm statistics, frozen networks.

`TrainState.batch_stats` holds HRNet's BatchNorm running statistics in HRNet mode (empty in GNN
mode). `frozen` holds the variables of a network that runs inside the step without being trained
(the frozen HRNet of GNN mode), applied with `frozen_apply_fn`; it comes from its own checkpoint
and is never part of a training checkpoint (`checkpoint_items`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import optax
from flax import struct
from flax.training import train_state


class TrainState(train_state.TrainState):
    """Flax's TrainState plus BatchNorm statistics and a frozen network."""

    batch_stats: Any = struct.field(default_factory=dict)
    frozen: Any = struct.field(default_factory=dict)
    frozen_apply_fn: Callable | None = struct.field(pytree_node=False, default=None)


def create_state(apply_fn: Callable, variables: dict[str, Any], tx: optax.GradientTransformation,
                 frozen: dict[str, Any] | None = None,
                 frozen_apply_fn: Callable | None = None) -> TrainState:
    """A fresh state at step 0.

    Args:
      apply_fn: the trained module's `apply`.
      variables: its `{"params", ...}`; a `batch_stats` collection is kept alongside.
      tx: the optimiser.
      frozen: variables of a network applied inside the step but not trained.
      frozen_apply_fn: that network's `apply`.

    Returns:
      The state, on the host.
    """
    state = TrainState.create(apply_fn=apply_fn, params=variables["params"], tx=tx,
                              batch_stats=variables.get("batch_stats", {}),
                              frozen=frozen or {}, frozen_apply_fn=frozen_apply_fn)
    # A strongly typed int32 step, as every later step is: a Python 0 would retrace the step.
    return state.replace(step=np.zeros((), np.int32))


#: XLA options for programs that run once (parameter init): unoptimised code is plenty fast
#: there, and compiling it takes seconds instead of tens of seconds (the key derivations of
#: every parameter are unrolled and optimised otherwise).
RUN_ONCE_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def run_once(fn: Callable, *args: Any) -> Any:
    """`jax.jit(fn)(*args)`, compiled with `RUN_ONCE_COMPILER_OPTIONS`."""
    compiled = jax.jit(fn).lower(*args).compile(compiler_options=RUN_ONCE_COMPILER_OPTIONS)
    return compiled(*args)


def checkpoint_items(state: TrainState) -> dict[str, Any]:
    """What a training checkpoint stores of the state: step, params, optimiser, BN statistics."""
    return {"step": np.asarray(state.step, np.int32), "params": state.params,
            "opt_state": state.opt_state, "batch_stats": state.batch_stats}


def restore_items(state: TrainState, items: dict[str, Any]) -> TrainState:
    """`state` with the checkpointed fields of `checkpoint_items` replaced by `items`."""
    return state.replace(step=items["step"], params=items["params"],
                         opt_state=items["opt_state"], batch_stats=items["batch_stats"])


def rng_to_data(rng: jax.Array) -> np.ndarray:
    """A typed PRNG key as its raw uint32 words (what the checkpoint stores)."""
    return np.asarray(jax.random.key_data(rng))


def rng_from_data(data: np.ndarray) -> jax.Array:
    """Inverse of `rng_to_data` for the default PRNG implementation."""
    return jax.random.wrap_key_data(np.asarray(data, np.uint32))


def step_rng(rng: jax.Array, step: jax.Array, axis_name: str) -> jax.Array:
    """The key of one device at one step: fold in the step, then the device's axis index.

    Resuming at step s therefore draws exactly the keys an uninterrupted run draws there.
    """
    return jax.random.fold_in(jax.random.fold_in(rng, step), jax.lax.axis_index(axis_name))

