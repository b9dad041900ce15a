"""Shared plumbing for the command-line entry points."""

import sys
from collections.abc import Callable

from gnnpose_jax.errors import GnnPoseError


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
