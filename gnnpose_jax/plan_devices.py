"""Accelerator kinds (peak rate, memory, bandwidth) and TPU slices described without a TPU.

`DEVICE_KINDS` is the one table of per-chip figures that `gnnpose_jax.plan` estimates with,
keyed by JAX's `device.device_kind`. Sources (vendor spec pages, by name):
- TPU v4, v5e, v5p, v6e (Trillium): Google Cloud TPU documentation, the "TPU v4", "TPU v5e",
  "TPU v5p" and "TPU v6e" system-architecture pages, table "key chip specifications"
  (peak bf16 compute per chip, HBM capacity and bandwidth per chip).
- H100 SXM: NVIDIA "H100 Tensor Core GPU" datasheet (BF16 tensor core 1,979 TFLOPS with
  sparsity, so 989 dense; 80 GB HBM3; 3.35 TB/s).

`load_topology("v5e:2x2")` describes a TPU slice with `jax.experimental.topologies`: abstract
devices that programs compile for on any machine with libtpu installed (the `[tpu]` extra),
with no TPU present and none touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import re
import sys

from gnnpose_jax.errors import ConfigError, MissingDependencyError

GIB = 1024**3


@dataclasses.dataclass(frozen=True)
class DeviceKind:
    """One accelerator chip's public figures.

    Attributes:
      name: the short name (v5e, H100, ...).
      peak_bf16_flops: dense bfloat16 FLOP/s per chip.
      hbm_bytes: HBM per chip.
      hbm_bytes_per_second: HBM bandwidth per chip.
    """

    name: str
    peak_bf16_flops: float
    hbm_bytes: int
    hbm_bytes_per_second: float


_V5P = DeviceKind("v5p", 459e12, 95 * GIB, 2765e9)
#: JAX `device_kind` -> the chip's figures (sources: the module docstring).
DEVICE_KINDS = {
    "TPU v4": DeviceKind("v4", 275e12, 32 * GIB, 1200e9),
    "TPU v5 lite": DeviceKind("v5e", 197e12, 16 * GIB, 819e9),
    "TPU v5": _V5P,
    "TPU v5p": _V5P,
    "TPU v6 lite": DeviceKind("v6e", 918e12, 32 * GIB, 1640e9),
    "NVIDIA H100 80GB HBM3": DeviceKind("H100", 989e12, 80 * 10**9, 3350e9),
}

#: pip's way to the TPU compiler.
TPU_EXTRA = 'pip install -e ".[tpu]"'
_TOPOLOGY_NAME = re.compile(r"^[A-Za-z0-9_ ]+[:=_][0-9x]+(_twisted|_untwisted)?$")


@dataclasses.dataclass(frozen=True)
class Topology:
    """A TPU slice's abstract devices.

    Attributes:
      name: as given (`v5e:2x2`).
      devices: every device of the slice (all hosts), in JAX's order.
      device_kind: JAX's name of the chip ("TPU v5 lite").
      hosts: the slice's host processes.
      chips: physical chips (a v4 chip shows as two devices).
    """

    name: str
    devices: tuple
    device_kind: str
    hosts: int
    chips: int

    @property
    def kind(self) -> DeviceKind:
        """The chip's figures; ConfigError for a chip the table lacks."""
        if self.device_kind not in DEVICE_KINDS:
            raise ConfigError(f"--topology {self.name}: no figures for device kind "
                              f"{self.device_kind!r} (known: {', '.join(DEVICE_KINDS)})")
        return DEVICE_KINDS[self.device_kind]

    @property
    def devices_per_chip(self) -> int:
        """Devices on one chip (1 except where each TensorCore is its own device)."""
        return len(self.devices) // self.chips


def has_libtpu() -> bool:
    """Whether the TPU compiler is installed (the `libtpu` package, or $TPU_LIBRARY_PATH)."""
    path = os.environ.get("TPU_LIBRARY_PATH", "")
    return bool(path and os.path.isfile(path)) or importlib.util.find_spec("libtpu") is not None


@contextlib.contextmanager
def _quiet_stderr():
    """Discards what native code writes to file descriptor 2 (libtpu's start-up warnings
    about the TPU environment variables a TPU VM sets, irrelevant with no TPU)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_topology(name: str) -> Topology:
    """The abstract devices of a TPU slice.

    Args:
      name: `KIND:AxB[xC]`, e.g. `v5e:2x2`, `v5e:16x16`, `v5p:2x2x2`, `v4:2x2x1`, `v6e:2x2`.

    Returns:
      The topology.

    Raises:
      MissingDependencyError: libtpu is not installed.
      ConfigError: a name libtpu does not know.
    """
    if not has_libtpu():
        raise MissingDependencyError(f"--topology {name}: compiling for TPU needs libtpu, "
                                     f"which is not installed; install it with {TPU_EXTRA}")
    if not _TOPOLOGY_NAME.match(name):
        raise ConfigError(f"--topology {name!r}: expected KIND:AxB[xC], e.g. v5e:2x2 or "
                          "v5p:2x2x2")
    from jax.experimental import topologies

    try:
        with _quiet_stderr():
            devices = tuple(topologies.get_topology_desc(topology_name=name,
                                                         platform="tpu").devices)
    except Exception as e:  # libtpu raises XlaRuntimeError (or RuntimeError) with its reason
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"--topology {name}: {reason}") from None
    chips = len({(d.process_index, tuple(d.coords)) for d in devices})
    return Topology(name=name, devices=devices, device_kind=devices[0].device_kind,
                    hosts=len({d.process_index for d in devices}), chips=chips)
