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
with no TPU present and none touched. `load_topology("h100:8")` does the same for H100 GPUs
through JAX's CUDA plugin (the `[gpu-plan]` extra), given the chip's description as a GPU
target config (`H100_TARGET`), so no GPU is needed either.
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

#: pip's way to the TPU compiler, and to the GPU one.
TPU_EXTRA = 'pip install -e ".[tpu]"'
GPU_EXTRA = 'pip install -e ".[gpu-plan]"'
_TOPOLOGY_NAME = re.compile(r"^[A-Za-z0-9_ ]+[:=_][0-9x]+(_twisted|_untwisted)?$")
#: `h100:D` (D GPUs on one host) or `h100:HxD` (H hosts of D GPUs).
_GPU_TOPOLOGY = re.compile(r"^h100:(?:([1-9][0-9]*)x)?([1-9][0-9]*)$")

#: What XLA's GPU compiler needs to know of an H100 SXM (80 GB HBM3) to compile for it without
#: one, as a `GpuTargetConfigProto` (text format): NVIDIA's published figures for the chip
#: (132 SMs, compute capability 9.0, 80 GB at 3.35 TB/s, 50 MB of L2, 228 KB of shared memory
#: per SM) and the CUDA limits every recent NVIDIA GPU shares.
H100_TARGET = """gpu_device_info {
  threads_per_block_limit: 1024
  threads_per_warp: 32
  shared_memory_per_block: 49152
  shared_memory_per_core: 233472
  shared_memory_per_block_optin: 232448
  threads_per_core_limit: 2048
  core_count: 132
  fpus_per_core: 128
  block_dim_limit_x: 2147483647
  block_dim_limit_y: 65535
  block_dim_limit_z: 65535
  memory_bandwidth: 3350000000000
  l2_cache_size: 52428800
  clock_rate_ghz: 1.98
  device_memory_size: 80000000000
  registers_per_core_limit: 65536
  registers_per_block_limit: 65536
  cuda_compute_capability { major: 9 minor: 0 }
}
platform_name: "CUDA"
dnn_version_info { major: 9 }
device_description_str: "NVIDIA H100 80GB HBM3"
"""


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


def has_cuda_plugin() -> bool:
    """Whether JAX's CUDA plugin (the GPU compiler) is installed."""
    try:
        return importlib.util.find_spec("jax_plugins.xla_cuda12") is not None
    except ModuleNotFoundError:  # no jax_plugins namespace at all
        return False


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
      name: `KIND:AxB[xC]`, e.g. `v5e:2x2`, `v5e:16x16`, `v5p:2x2x2`, `v4:2x2x1`, `v6e:2x2`;
        or `h100:D` / `h100:HxD` for D H100 GPUs on each of H hosts.

    Returns:
      The topology.

    Raises:
      MissingDependencyError: libtpu (or, for H100s, JAX's CUDA plugin) is not installed.
      ConfigError: a name libtpu does not know.
    """
    gpu = _GPU_TOPOLOGY.match(name)
    if gpu:
        return _gpu_topology(name, int(gpu.group(1) or 1), int(gpu.group(2)))
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


def _gpu_topology(name: str, hosts: int, per_host: int) -> Topology:
    """H100s described by `H100_TARGET`, `per_host` on each of `hosts` hosts."""
    if not has_cuda_plugin():
        raise MissingDependencyError(f"--topology {name}: compiling for GPUs needs JAX's CUDA "
                                     f"plugin, which is not installed; install it with "
                                     f"{GPU_EXTRA}")
    from jax.experimental import topologies

    try:
        with _quiet_stderr():  # the plugin's note that no GPU is visible, irrelevant here
            devices = tuple(topologies.get_topology_desc(
                "h100", "cuda", target_config=H100_TARGET,
                topology=f"1x{hosts}x{per_host}").devices)
    except Exception as e:  # the plugin raises JaxRuntimeError with its reason
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"--topology {name}: {reason}") from None
    return Topology(name=name, devices=devices, device_kind=devices[0].device_kind,
                    hosts=hosts, chips=len(devices))
