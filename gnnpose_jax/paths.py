"""Output paths refused before any work: names too long to create, outputs that are inputs.

Every command checks its output paths (`cli.check_writable` calls `check_name_lengths`) and
calls `check_distinct` with its inputs and outputs before it reads or computes anything, so a
careless command line (`--output` naming the detections file, `--render` naming the input
video, two outputs naming one file) ends with one line and leaves every file as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from gnnpose_jax.atomic import TEMPORARY_NAME_EXTRA
from gnnpose_jax.errors import OutputError

#: The longest file name most file systems take (ext4, XFS, APFS, NTFS), in bytes; used
#: where the file system cannot be asked.
DEFAULT_NAME_MAX = 255

#: (flag, path) pairs; a None path (an unset flag) is skipped.
FlaggedPaths = Iterable[tuple[str, "str | os.PathLike | None"]]


def name_max(folder: Path) -> int:
    """The longest file name, in bytes, that the file system holding `folder` takes."""
    while not os.path.isdir(folder) and folder != folder.parent:  # isdir: False if too long
        folder = folder.parent
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return DEFAULT_NAME_MAX


def check_name_lengths(path: str | os.PathLike, flag: str) -> None:
    """Refuses an output path with a name the file system cannot create.

    Every folder name must fit the file system's limit, and the last name must leave room for
    the hidden temporary sibling (`atomic`) that the output is first written to.

    Raises:
      OutputError: naming the flag, the name's length and the limit.
    """
    path = Path(path).absolute()
    limit = name_max(path.parent)
    for i, part in enumerate(path.parts[1:], start=1):
        length = len(os.fsencode(part))
        room = limit - (TEMPORARY_NAME_EXTRA if i == len(path.parts) - 1 else 0)
        if length > room:
            raise OutputError(f"{flag} {_short(path)}: a name of {length} bytes "
                              f"({_short(part, 24)}); names here may have at most {room} bytes "
                              "(choose a shorter name)")


def _short(text: str | os.PathLike, keep: int = 60) -> str:
    text = str(text)
    return text if len(text) <= keep else f"{text[:keep // 2]}...{text[-keep // 2:]}"


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file or folder: one real path (links followed), or, for
    paths that exist, one inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_distinct(outputs: FlaggedPaths, inputs: FlaggedPaths = ()) -> None:
    """Refuses an output that is one of the run's inputs, or that another output names too.

    Args:
      outputs: (flag, path) of every file or folder the command will write.
      inputs: (flag, path) of every file or folder it reads.

    Raises:
      OutputError: one line naming both flags and the path.
    """
    outputs = [(flag, path) for flag, path in outputs if path is not None]
    inputs = [(flag, path) for flag, path in inputs if path is not None]
    for i, (flag, path) in enumerate(outputs):
        for in_flag, in_path in inputs:
            if same_file(path, in_path):
                raise OutputError(f"{flag} {path}: is also the input {in_flag} {in_path}; "
                                  "an output must not replace an input (choose another path)")
        for other_flag, other in outputs[i + 1:]:
            if same_file(path, other):
                raise OutputError(f"{flag} {path} and {other_flag} {other}: name the same "
                                  "file; each output needs its own path")
