"""Atomic writes with the usual permissions: one helper for every file and folder we write.

Whatever the project writes appears whole or not at all: the content goes to a hidden
temporary sibling first and is renamed into place. This module is the project's one place for
that: files (`atomic_file`, `write_bytes`, `write_text`, `PendingFile` for a writer held open),
new folders (`atomic_dir`), folders swapped in for old ones (`replace_dir`) and results of
several paths changed together (`atomic_paths`). Unlike `tempfile.mkstemp` and `mkdtemp`
(modes 0600 and 0700), the temporaries get the mode that a plain `open()` or `mkdir` gives
under the process's umask, so the result reads like any other tool's output.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
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


class PendingFile:
    """A temporary sibling (`tmp`) of `path` to write, which `commit()` renames onto `path` and
    `discard()` deletes: `atomic_file` for a writer held open across calls (a video written
    frame by frame). Until one of them runs, `path` is left as it was."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.tmp = temporary_sibling(self.path)

    def commit(self) -> None:
        """Replaces `path` with the written file."""
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        """Deletes the temporary file; `path` stays as it was."""
        self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path to write; it replaces `path` if the block ends without error.

    On any exception the temporary file is deleted and `path` is left as it was.
    """
    pending = PendingFile(path)
    try:
        yield pending.tmp
        pending.commit()
    except BaseException:
        pending.discard()
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
def atomic_paths(targets: Iterable[str | os.PathLike], publish: bool = True
                 ) -> Iterator[list[Path]]:
    """Yields a temporary path per target; all replace their targets if the block succeeds.

    For a result made of several files and folders that must change together. The temporary
    paths do not exist yet (the block makes each a file or a folder) and keep their target's
    name; they lie in a hidden staging folder in the targets' common parent. The targets are
    then replaced one by one, an existing one first moved aside: if a rename fails, those
    already made are undone and the old targets survive (all or none, short of a crash between
    the renames). The staging folder, with the old targets, is deleted in every case. With
    `publish=False` nothing is replaced: what the block wrote is a scratch copy, deleted.
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
        if not publish:
            return
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


def replace_dir(target: str | os.PathLike, write: Callable[[Path], None],
                publish: bool = True) -> None:
    """Runs `write(new)` and swaps the folder it wrote at `new` in for `target`, whole.

    `new` does not exist yet and lies in a hidden staging folder beside `target` (one file
    system, so the swap is a rename); an existing `target` is replaced only once `write` has
    returned, so a reader sees the old folder or the new one, never a mix.
    With `publish=False` the folder is a scratch copy, deleted (for the processes of a
    multi-process run that take part in a collective save that process 0 publishes).
    """
    with atomic_paths([target], publish) as (new,):
        write(new)
