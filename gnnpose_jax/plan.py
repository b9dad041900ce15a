"""Plan a training run on a TPU slice: compile its steps there and say if they fit, and how fast.

    python -m gnnpose_jax.plan --config configs/NAME.py --topology v5e:2x2 \\
        [--per-device-batch N] [--max-batch] [--hbm-bytes B] [--output plan.json] \\
        [--config.KEY=VALUE ...]

Compiles, for every device of the slice, the pmapped train and eval steps that train.py runs
for the config (any mode), from abstract inputs: no data is read, no weights are loaded and no
accelerator is touched (libtpu, the `[tpu]` extra, compiles on the CPU host). Prints one table
and writes the plan as JSON. The per-device batch defaults to `batch_size` over the slice's
devices; `--max-batch` searches the largest that fits instead. See docs/scaling.md.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from absl import flags
from ml_collections import config_flags

from gnnpose_jax.cli import check_writable, run_cli
from gnnpose_jax.errors import ConfigError

GIB = 1024**3


def _define_flags(values: flags.FlagValues, argv: list[str]) -> dict[str, flags.FlagHolder]:
    """The command's flags, in their own `FlagValues` (nothing global); `argv` names the
    `--config.KEY` overrides to define."""
    return {
        "config": config_flags.DEFINE_config_file("config", None, "configs/NAME.py",
                                                  flag_values=values, lock_config=True,
                                                  sys_argv=argv),
        "topology": flags.DEFINE_string("topology", None, "TPU slice, e.g. v5e:2x2, v5e:16x16, "
                                        "v5p:2x2x2", flag_values=values),
        "per_device_batch": flags.DEFINE_integer("per-device-batch", None, "examples per "
                                                 "device (default: batch_size / devices)",
                                                 flag_values=values),
        "max_batch": flags.DEFINE_bool("max-batch", False, "search the largest per-device "
                                       "batch that fits, by bisection on compiles",
                                       flag_values=values),
        "hbm_bytes": flags.DEFINE_integer("hbm-bytes", None, "device memory to fit in "
                                          "(default: the chip's HBM)", flag_values=values),
        "output": flags.DEFINE_string("output", None, "write the plan as JSON here",
                                      flag_values=values),
    }


def _row(label: str, *cells: Any) -> str:
    """One table row: a label and right-aligned cells."""
    return f"{label:<34}" + "".join(f"{c:>14}" for c in cells)


def _gib(n: float) -> str:
    """Bytes as GiB."""
    return f"{n / GIB:.3f}"


def format_table(record: dict[str, Any]) -> str:
    """The plan as one table: train and eval columns."""
    ev = record.get("eval")
    mem = record["bytes_per_device"]
    train_compile = record["compile_seconds"] - (ev["compile_seconds"] if ev else 0.0)
    lines = [f"{record['mode']} ({record['compute_dtype']}) on {record['topology']}: "
             f"{record['devices']} x {record['device_kind']} ({record['device_name']}), "
             f"{record['hosts']} host(s)",
             _row("", "train", "eval" if ev else ""),
             _row("per-device batch", record["per_device_batch"], record["per_device_batch"]),
             _row("global batch", record["global_batch"], record["global_batch"]),
             _row("compile seconds", f"{train_compile:.1f}",
                  f"{ev['compile_seconds']:.1f}" if ev else ""),
             _row("TFLOP per device step", f"{record['flops_per_device_step'] / 1e12:.4g}",
                  f"{ev['flops_per_device_step'] / 1e12:.4g}" if ev else "")]
    for key in ("arguments", "temporaries", "outputs", "aliased", "total"):
        lines.append(_row(f"GiB per device: {key}", _gib(mem[key]),
                          _gib(ev["bytes_per_device"][key]) if ev else ""))
    lines += [
        _row(f"fits in {_gib(record['hbm_bytes_per_device'])} GiB", str(record["fits"]),
             str(ev["fits"]) if ev else ""),
        _row("estimated step seconds", f"{record['estimated_step_seconds']:.4g}",
             f"{ev['estimated_step_seconds']:.4g}" if ev else ""),
        _row("  from", record["step_time_source"], ev["step_time_source"] if ev else ""),
        _row("estimated examples/s (global)", f"{record['estimated_examples_per_second']:.4g}"),
        _row("estimated MFU (bf16 peak)", f"{record['estimated_mfu']:.1%}"),
    ]
    lines.append(_row("largest batch, one-compile estimate", record["max_batch_estimate"]))
    if "max_batch" in record:
        lines.append(_row("largest per-device batch that fits", record["max_batch"]))
    return "\n".join(lines)


def _per_device_default(config, devices: int) -> int:
    """`batch_size / devices`, or a ConfigError saying to pass --per-device-batch."""
    if config.batch_size % devices:
        raise ConfigError(f"batch_size {config.batch_size} does not split over the "
                          f"{devices} devices; pass --per-device-batch N")
    return config.batch_size // devices


def main(argv: list[str]) -> None:
    """Parses the flags, compiles the plan, prints it and writes the JSON."""
    if {"-h", "--help"} & set(argv[1:]):
        print(__doc__)
        return
    # Compile for TPU from the CPU host: never claim a local accelerator.
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from gnnpose_jax.training import config as config_lib

    values = flags.FlagValues()
    holders = _define_flags(values, argv)
    spec = config_lib.config_path(argv)
    if spec is not None:
        config_lib.check_overrides(argv, config_lib.load_config_file(spec))
    try:
        values(argv)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
        raise ConfigError(str(e).splitlines()[0]) from None
    config, topology_name = holders["config"].value, holders["topology"].value
    if config is None or not topology_name:
        raise ConfigError("usage: python -m gnnpose_jax.plan --config configs/NAME.py "
                          "--topology v5e:2x2 [--per-device-batch N] [--max-batch] "
                          "[--output plan.json]")
    output = holders["output"].value
    if output:
        check_writable(output, "--output")
    hbm = holders["hbm_bytes"].value
    if hbm is not None and hbm < 1:
        raise ConfigError(f"--hbm-bytes {hbm} must be positive")
    record = make_plan(config, topology_name, holders["per_device_batch"].value,
                       holders["max_batch"].value, hbm)
    print(format_table(record))
    if output:
        from gnnpose_jax import atomic

        atomic.write_text(Path(output), json.dumps(record, indent=2) + "\n")


def make_plan(config, topology_name: str, per_device_batch: int | None = None,
              search_max: bool = False, hbm_bytes: int | None = None) -> dict[str, Any]:
    """The plan record of a config on a slice (the CLI's work, as a function).

    Args:
      config: a run config.
      topology_name: the slice (`plan_devices.load_topology`).
      per_device_batch: the batch to plan (default: batch_size / devices); with `search_max`,
        where the search starts.
      search_max: plan the largest per-device batch whose train step fits instead.
      hbm_bytes: the device memory to fit in (default: the chip's).

    Raises:
      ConfigError: a bad config, batch or topology; or no batch fits.
      MissingDependencyError: libtpu is not installed.
    """
    import functools

    from gnnpose_jax import plan_devices, planning
    from gnnpose_jax.training import abstract

    topology = plan_devices.load_topology(topology_name)
    abstract.check_config(config)
    program_for = functools.partial(abstract.abstract_program, config)
    batch = (per_device_batch if per_device_batch is not None
             else _per_device_default(config, len(topology.devices)))
    found, train = None, None
    if search_max:
        train_bytes = planning.TrainBytes(program_for, topology)
        budget = planning.hbm_bytes_per_device(topology, hbm_bytes)
        found = planning.max_batch(train_bytes, budget, start=batch)
        if found == 0:
            raise ConfigError(f"{topology_name}: not even a per-device batch of 1 fits")
        batch, train = found, train_bytes.costs[found]
    record = planning.plan(program_for, topology, batch, hbm_bytes, train=train)
    record = {"mode": config.mode, "compute_dtype": config.get("compute_dtype", "float32"),
              **record}
    if found is not None:
        record["max_batch"] = found
    return record


if __name__ == "__main__":
    run_cli(lambda: main(sys.argv))
