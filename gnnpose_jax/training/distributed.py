"""Data parallelism: multi-host start-up, per-process batch shares, device sharding.

The training step is `jax.pmap`-ed over the local devices of every process under one axis name,
`AXIS`; with several processes (`jax.distributed.initialize`) the collectives on that axis span
all devices of all processes. Each process reads its own shard of the data and feeds
`global_batch / process_count` examples per step, split evenly over its local devices, so that
global device i (process p's local device j, i = p * local_count + j) sees the i-th slice of the
global batch, as it would in one process with all the devices.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from flax import jax_utils

from gnnpose_jax.errors import ConfigError

#: The pmap axis name every collective of the training package uses.
AXIS = "batch"

#: Environment fallbacks for the multi-host flags (JAX reads the first one itself as well).
ENV_COORDINATOR = "JAX_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "JAX_NUM_PROCESSES"
ENV_PROCESS_ID = "JAX_PROCESS_ID"


def _env_int(name: str) -> int | None:
    """An integer environment variable, or None when unset."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment {name}={value!r}: expected an integer") from None


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> bool:
    """Joins a multi-process run when a coordinator is given (by argument or environment).

    Must run before anything touches a JAX device.

    Args:
      coordinator_address: `host:port` of process 0; defaults to $JAX_COORDINATOR_ADDRESS.
      num_processes: processes in the run; defaults to $JAX_NUM_PROCESSES.
      process_id: this process, 0 .. num_processes - 1; defaults to $JAX_PROCESS_ID.

    Returns:
      True if `jax.distributed.initialize` was called, False for a single-process run.
    """
    coordinator_address = coordinator_address or os.environ.get(ENV_COORDINATOR) or None
    num_processes = num_processes if num_processes is not None else _env_int(ENV_NUM_PROCESSES)
    process_id = process_id if process_id is not None else _env_int(ENV_PROCESS_ID)
    if coordinator_address is None:
        if (num_processes or 1) > 1:
            raise ConfigError(f"--num_processes {num_processes} needs --coordinator_address "
                              f"(or ${ENV_COORDINATOR}) as host:port of process 0")
        return False
    if num_processes is None or process_id is None or not 0 <= process_id < num_processes:
        raise ConfigError(f"--coordinator_address {coordinator_address} needs --num_processes N "
                          f"and --process_id in 0..N-1 (or ${ENV_NUM_PROCESSES}, "
                          f"${ENV_PROCESS_ID}); got {num_processes} and {process_id}")
    jax.distributed.initialize(coordinator_address, num_processes, process_id)
    return True


def per_process_batch_size(global_batch_size: int) -> int:
    """This process's share of a global batch; it must split evenly over all devices.

    Args:
      global_batch_size: examples per step over all processes and devices.

    Returns:
      `global_batch_size / process_count`.

    Raises:
      ConfigError: if the devices of the run do not divide the batch.
    """
    devices = jax.device_count()
    if global_batch_size < 1 or global_batch_size % devices:
        raise ConfigError(
            f"batch_size {global_batch_size} is not divisible by the {devices} devices "
            f"({jax.process_count()} process(es) x {jax.local_device_count()} local); use a "
            f"multiple of {devices}")
    return global_batch_size // jax.process_count()


def shard(tree: Any) -> Any:
    """Splits the leading axis (B, ...) of every leaf into (local devices, B / devices, ...)."""
    n = jax.local_device_count()
    return jax.tree.map(lambda x: np.asarray(x).reshape(n, -1, *np.shape(x)[1:]), tree)


def replicate(tree: Any) -> Any:
    """Copies a pytree onto every local device (leading axis = local devices).

    The copies carry the sharding that the pmapped step's outputs have (a mesh axis named
    `AXIS`), so the first and later calls of the step compile once, not twice.
    """
    return jax_utils.replicate(tree, axis_name=AXIS)


def _first_replica(x: Any) -> np.ndarray:
    """This process's first copy of a replicated leaf, read from local memory only."""
    local = np.asarray(x.addressable_data(0)) if isinstance(x, jax.Array) else np.asarray(x)
    return np.asarray(local[0])  # 0-d arrays stay arrays: Orbax refuses NumPy scalars


def unreplicate(tree: Any) -> Any:
    """The first local copy of a replicated pytree, as host arrays.

    Reads a local shard: indexing the global array (`x[0]`) would run a program over every
    process's devices, which deadlocks unless all processes index the same arrays in step.
    """
    return jax.tree.map(_first_replica, tree)
