"""Shared plumbing for the command-line entry points."""

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from gnnpose_jax.errors import GnnPoseError, OutputError


def run_cli(main: Callable[[], int | None]) -> None:
    """Runs `main`; a `GnnPoseError` becomes one line on stderr and exit status 2."""
    try:
        code = main()
    except GnnPoseError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def check_writable(path: str | os.PathLike, flag: str, folder: bool = False) -> None:
    """Refuses, before any work starts, an output path that cannot be written.

    Args:
      path: the output file (or, with `folder`, the output folder); missing parents are fine.
      flag: the command-line flag that named it, for the message.
      folder: whether the output is a folder.

    Raises:
      OutputError: the path is a folder where a file is expected (or the reverse), a parent
        is a file, or the nearest existing folder above it is not writable.
    """
    path = Path(path).absolute()
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
    """The tracker's network settings (`tracking.split.load_models`), alike in every CLI."""
    group = parser.add_argument_group("networks at inference")
    add_dtype_argument(group)
    group.add_argument("--batch-size", type=_positive_int, default=8, metavar="N",
                       help="the most crops per HRNet call: a frame's detection crops and the "
                            "GNN's crops run together (default 8)")
    group.add_argument("--max-tracks", type=_positive_int, default=16, metavar="N",
                       help="the most tracks per GNN call (default 16)")
    group.add_argument("--flip-test", action="store_true",
                       help="average HRNet's heatmaps with those of the mirrored crops")
