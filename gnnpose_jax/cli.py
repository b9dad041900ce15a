"""Shared plumbing for the command-line entry points."""

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from gnnpose_jax.errors import GnnPoseError, OutputError
from gnnpose_jax.paths import check_name_lengths

#: Exit statuses of a run stopped by SIGINT (Ctrl-C) and SIGTERM, as a shell reports them.
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so that `finally` blocks and the atomic writers'
    cleanup run as they do for Ctrl-C (not an `Exception`: no `except Exception` stops it)."""


def _raise_terminated(signum, frame):
    raise Terminated


def run_cli(main: Callable[[], int | None]) -> None:
    """Runs `main`; a `GnnPoseError` becomes one line on stderr and exit status 2.

    SIGINT and SIGTERM stop it cleanly: the exception unwinds `main` (temporary files are
    deleted, earlier outputs are left as they were), one line says so, and the process ends
    with status 130 or 143 through `os._exit`. Exiting the usual way would tear the
    interpreter down while other threads (XLA's compiler and thread pools, a video codec) may
    still run, which crashed with a segmentation fault.
    """
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = main()
    except GnnPoseError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        _stop("interrupted", EXIT_INTERRUPTED)
    except Terminated:
        _stop("terminated", EXIT_TERMINATED)
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.exit(code or 0)


def _stop(message: str, status: int) -> None:
    """Prints `message`, flushes the output and ends the process at once with `status`."""
    for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal must not cut this short
        signal.signal(sig, signal.SIG_IGN)
    print(message, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def program() -> str:
    """The command's name for usage lines, as it was started: the console script's or script's
    own name (`gnnpose-track`, `evaluate.py`), or `python -m MODULE` for a package module."""
    path = Path(sys.argv[0])
    if path.name == "__main__.py":
        return f"python -m {path.parent.name}"
    if path.suffix == ".py" and path.resolve().parent == Path(__file__).resolve().parent:
        return f"python -m {__package__}.{path.stem}"
    return path.name


def check_writable(path: str | os.PathLike, flag: str, folder: bool = False) -> None:
    """Refuses, before any work starts, an output path that cannot be written.

    Args:
      path: the output file (or, with `folder`, the output folder); missing parents are fine.
      flag: the command-line flag that named it, for the message.
      folder: whether the output is a folder.

    Raises:
      OutputError: a name in the path is too long for the file system (with room for the
        temporary sibling the atomic writers use), the path is a folder where a file is
        expected (or the reverse), a parent is a file, or the nearest existing folder above
        it is not writable.
    """
    path = Path(path).absolute()
    check_name_lengths(path, flag)
    if path.exists() and path.is_dir() != folder:
        found, wanted = ("a file", "a folder") if folder else ("a folder", "a file")
        raise OutputError(f"{flag} {path}: is {found}; expected {wanted}")
    existing = path if folder else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{flag} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{flag} {path}: cannot write into {existing} (permission denied)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


#: `--dtype`'s choices (`models.precision.COMPUTE_DTYPES`, not imported: it loads JAX).
DTYPE_CHOICES = ("float32", "bfloat16")


def add_dtype_argument(parser) -> None:
    """`--dtype`: the networks' compute dtype; None (not given) means what each export records."""
    parser.add_argument("--dtype", choices=DTYPE_CHOICES,
                        help="compute dtype of the networks (default: the one each export "
                             "records, float32 for official and converted weights; "
                             "docs/training.md, Mixed precision)")


def add_inference_arguments(parser: argparse.ArgumentParser) -> None:
    """The tracker's network settings (`tracking.networks.load_networks`), alike in every CLI."""
    group = parser.add_argument_group("networks at inference")
    add_dtype_argument(group)
    group.add_argument("--batch-size", type=_positive_int, default=8, metavar="N",
                       help="the most crops per HRNet call: a frame's detection crops and the "
                            "GNN's crops run together (default 8)")
    group.add_argument("--max-tracks", type=_positive_int, default=16, metavar="N",
                       help="the most tracks per GNN call (default 16)")
    group.add_argument("--flip-test", action="store_true",
                       help="average HRNet's heatmaps with those of the mirrored crops")
