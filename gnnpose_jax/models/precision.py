"""Compute dtypes: `config.compute_dtype` in training, the `compute_dtype` field of an export,
and the `--dtype` flag of the inference commands (docs/training.md, "Mixed precision").

The compute dtype is that of convolutions, matmuls and activations. Parameters, optimiser
state, BatchNorm statistics, losses, softmaxes and normalisation statistics stay float32
whatever it is, and every network returns float32 outputs.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from gnnpose_jax.errors import CheckpointError, ConfigError

#: The compute dtypes by name.
JAX_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
COMPUTE_DTYPES = tuple(JAX_DTYPES)
DEFAULT_DTYPE = "float32"
#: The key of an export's JSON that records the compute dtype it was trained in.
EXPORT_FIELD = "compute_dtype"


def dtype_name(dtype: Any, source: str = "compute_dtype") -> str:
    """The name ("float32" or "bfloat16") of a dtype given by name or as a JAX/NumPy dtype.

    Raises:
      ConfigError: another dtype, naming `source` (the config key or flag).
    """
    try:
        name = jnp.dtype(dtype).name
    except (TypeError, ValueError):
        name = None
    if name not in COMPUTE_DTYPES:
        raise ConfigError(f"{source} {dtype!r} must be one of {COMPUTE_DTYPES}")
    return name


def compute_dtype(dtype: Any, source: str = "compute_dtype") -> Any:
    """The JAX dtype (`jnp.float32` or `jnp.bfloat16`) a module's `dtype` field takes."""
    return JAX_DTYPES[dtype_name(dtype, source)]


def recorded_dtype(meta: dict[str, Any], source: str) -> str:
    """The compute dtype an export's JSON records; float32 for exports older than the field.

    Raises:
      CheckpointError: a recorded value other than float32 or bfloat16, naming `source`.
    """
    name = meta.get(EXPORT_FIELD, DEFAULT_DTYPE)
    if name not in COMPUTE_DTYPES:
        raise CheckpointError(f"{source}: {EXPORT_FIELD} {name!r}, expected one of "
                              f"{COMPUTE_DTYPES}")
    return name


def inference_dtype(recorded: str, override: Any = None) -> Any:
    """The JAX dtype inference runs a network in: `override` if given, else the recorded one."""
    return compute_dtype(recorded if override is None else override, "--dtype")
