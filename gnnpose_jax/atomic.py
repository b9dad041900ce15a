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
from collections.abc import Iterable, Iterator
from pathlib import Path

#: The most bytes a temporary sibling's name adds to its target's name: a leading dot, the
#: process id (at most 7 digits on Linux), 8 random hex digits and `.tmp` (22; 2 spare).
TEMPORARY_NAME_EXTRA = 24


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


@contextlib.contextmanager
def atomic_paths(targets: Iterable[str | os.PathLike]) -> Iterator[list[Path]]:
    """Yields a temporary path per target; all replace their targets if the block succeeds.

    For a result made of several files and folders that must change together. The temporary
    paths do not exist yet (the block makes each a file or a folder) and keep their target's
    name; they lie in a hidden staging folder in the targets' common parent. The targets are
    then replaced one by one, an existing one first moved aside: if a rename fails, those
    already made are undone and the old targets survive (all or none, short of a crash between
    the renames). The staging folder, with the old targets, is deleted in every case.
    """
    targets = [Path(t).absolute() for t in targets]
    parent = Path(os.path.commonpath([t.parent for t in targets]))
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        stage = parent / f".{targets[0].name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        try:
            stage.mkdir()
            break
        except FileExistsError:
            continue
    try:
        news = []
        for i, target in enumerate(targets):
            (stage / str(i)).mkdir()
            news.append(stage / str(i) / target.name)
        yield news
        aside = stage / "old"
        aside.mkdir()
        undo = []
        try:
            for i, (new, target) in enumerate(zip(news, targets, strict=True)):
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():
                    os.replace(target, aside / str(i))
                    undo.append((aside / str(i), target))
                os.replace(new, target)
                undo.append((target, new))
        except BaseException:
            for src, dst in reversed(undo):
                os.replace(src, dst)
            raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
