"""Atomic writes with the usual permissions: one helper for every file and folder we write.

Whatever the project writes appears whole or not at all: the content goes to a hidden
temporary sibling first and is renamed into place. Unlike `tempfile.mkstemp` and `mkdtemp`
(modes 0600 and 0700), the temporaries get the mode that a plain `open()` or `mkdir` gives
under the process's umask, so the result reads like any other tool's output.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path


def temporary_sibling(path: str | os.PathLike) -> Path:
    """Creates and returns an empty hidden file beside `path`, with the umask's usual mode.

    The name keeps `path`'s suffix last, so writers that pick a format by extension (video,
    `np.savez`) write the right one. The caller renames it onto `path` or deletes it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
                             f"{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path to write; it replaces `path` if the block ends without error.

    On any exception the temporary file is deleted and `path` is left as it was.
    """
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` atomically, flushed to disk before the rename."""
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text(path: str | os.PathLike, text: str) -> None:
    """Writes UTF-8 `text` to `path` atomically."""
    write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a new empty folder beside `path`; it becomes `path` if the block succeeds.

    `path` must not exist yet (a folder cannot be renamed onto another atomically). On any
    exception the temporary folder and everything in it is deleted.
    """
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    tmp.mkdir()
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
