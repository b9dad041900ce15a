"""Train HRNet (top-down heatmaps), the pose-dynamics GNN or the YOLOX person detector from an
ml_collections config.

    gnnpose-train --config configs/NAME.py --workdir DIR [--config.KEY=VALUE ...]

(`python train.py` and `python -m gnnpose_jax.train` are the same command.) Resumes from DIR
if it holds a checkpoint of the same config. Multi-host: start one process per host with
--coordinator_address HOST:PORT --num_processes N --process_id I (or the environment
variables JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID). See docs/training.md.

Why absl flags here and argparse in every other CLI: `--config.KEY=VALUE` overrides of any
config field come from ml_collections' `config_flags`, which are absl flags (as in the Flax
examples). The other CLIs (gnnpose-evaluate, -track, -detect, -convert, the demo) take fixed
options and at most read a config file without overrides, so they use the standard library's
argparse.
"""

from __future__ import annotations

import sys

from absl import flags
from ml_collections import config_flags

from gnnpose_jax.cli import check_writable, program, run_cli
from gnnpose_jax.errors import ConfigError

USAGE = "--config configs/NAME.py --workdir DIR [--config.KEY=VALUE ...]"


def define_flags(flag_values: flags.FlagValues, config=None,
                 argv: list[str] = ()) -> dict[str, flags.FlagHolder]:
    """The command's flags in `flag_values`: `config` (with a loaded config, a flag for each
    `--config.KEY` override in `argv`), `workdir` and the multi-host settings."""
    if config is None:  # for --help: the file to load
        holder = flags.DEFINE_string("config", None, "configs/NAME.py (or configs/NAME.py:ARG)",
                                     flag_values=flag_values)
    else:
        holder = config_flags.DEFINE_config_dict(
            "config", config, "the loaded config; --config.KEY=VALUE overrides a field",
            flag_values=flag_values, lock_config=True, sys_argv=["", *argv])
    return {
        "config": holder,
        "workdir": flags.DEFINE_string("workdir", None, "run folder: checkpoints, metrics, "
                                       "exports", flag_values=flag_values),
        "coordinator_address": flags.DEFINE_string(
            "coordinator_address", None, "multi-host: HOST:PORT of process 0",
            flag_values=flag_values),
        "num_processes": flags.DEFINE_integer("num_processes", None,
                                              "multi-host: number of processes",
                                              flag_values=flag_values),
        "process_id": flags.DEFINE_integer("process_id", None, "multi-host: this process, 0..N-1",
                                           flag_values=flag_values),
    }


def _without_path(argv: list[str]) -> list[str]:
    """`argv` without `--config PATH` / `--config=PATH` (the file is loaded before absl)."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg == "--config" and i + 1 < len(argv):
            skip = True
        elif not arg.startswith("--config="):
            out.append(arg)
    return out


def parse(argv: list[str]):
    """The config (loaded once, overrides applied), the workdir and the multi-host settings.

    Raises:
      ConfigError: no --config or --workdir, a missing config file, an unknown override key
        (named with the nearest valid one), a bad override value or an unknown flag.
    """
    from gnnpose_jax.training import config as config_lib

    spec = config_lib.config_path(argv)
    if spec is None:
        raise ConfigError(f"usage: {program()} {USAGE}")
    config = config_lib.load_config_file(spec)
    config_lib.check_overrides(argv, config)
    rest = _without_path(argv)
    flag_values = flags.FlagValues()
    holders = define_flags(flag_values, config, rest)
    try:
        positional = flag_values(["", *rest])[1:]
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
        raise ConfigError(str(e).splitlines()[0]) from None
    if positional:
        raise ConfigError(f"unexpected argument {positional[0]!r}; usage: {program()} {USAGE}")
    if not holders["workdir"].value:
        raise ConfigError(f"usage: {program()} {USAGE}")
    return {name: holder.value for name, holder in holders.items()}


def main(argv: list[str] | None = None) -> None:
    """Parses the flags (`argv`, default the command line), joins a multi-host run if asked,
    then trains."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if {"-h", "--help"} & set(argv):
        help_flags = flags.FlagValues()
        names = define_flags(help_flags)
        print(__doc__ + "\nflags:\n" + "\n".join(f"  --{name}: {help_flags[name].help}"
                                                   for name in names))
        return
    values = parse(argv)
    check_writable(values["workdir"], "--workdir", folder=True)
    from gnnpose_jax.training import distributed

    distributed.initialize(values["coordinator_address"], values["num_processes"],
                           values["process_id"])
    from gnnpose_jax.training import train_and_evaluate

    train_and_evaluate(values["config"], values["workdir"])


def cli() -> None:
    """The `gnnpose-train` console script: errors as one line and exit status 2."""
    run_cli(main)


if __name__ == "__main__":
    cli()
