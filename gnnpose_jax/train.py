"""Train HRNet (top-down heatmaps) or the pose-dynamics GNN from an ml_collections config.

    python train.py --config configs/NAME.py --workdir DIR [--config.KEY=VALUE ...]

Resumes from DIR if it holds a checkpoint of the same config. Multi-host: start one process per
host with --coordinator_address HOST:PORT --num_processes N --process_id I (or the environment
variables JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID). See docs/training.md.

Why absl flags here and argparse in every other CLI: `--config.KEY=VALUE` overrides of any
config field come from ml_collections' `config_flags`, which are absl flags (as in the Flax
examples). The other CLIs (evaluate.py, python -m gnnpose_jax.track / detect / demo,
convert_weights) take fixed options and at most read a config file without overrides, so they
use the standard library's argparse.
"""

import sys

from absl import flags
from ml_collections import config_flags

from gnnpose_jax.cli import run_cli
from gnnpose_jax.errors import ConfigError

_CONFIG = config_flags.DEFINE_config_file("config", None, "configs/NAME.py", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "run folder: checkpoints, metrics, exports")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "multi-host: HOST:PORT of "
                                   "process 0")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "multi-host: number of processes")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "multi-host: this process, 0..N-1")


def main() -> None:
    """Parses the flags, joins a multi-host run if asked, then trains."""
    from gnnpose_jax.training import config as config_lib
    from gnnpose_jax.training import distributed

    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__ + "\n" + flags.FLAGS.module_help(sys.modules[__name__]))
        return
    config_lib.check_overrides(sys.argv)
    try:
        flags.FLAGS(sys.argv)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
        raise ConfigError(str(e).splitlines()[0]) from None
    if _CONFIG.value is None or not _WORKDIR.value:
        raise ConfigError("usage: python train.py --config configs/NAME.py --workdir DIR "
                          "[--config.KEY=VALUE ...]")
    distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
    from gnnpose_jax.training import train_and_evaluate

    train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
    run_cli(main)
