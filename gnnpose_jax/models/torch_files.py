"""Reads PyTorch state dicts as NumPy arrays, safely, within bounds, and without torch.

`.pth` files are pickles, read by the restricted unpickler of `torch_pickle` (tensor data
only; nothing else the file names is called). Both torch serialisations are read: the zip
format (torch >= 1.6) and the legacy stream format of the 2019 model-zoo files.
`.safetensors` files go through `safetensors.numpy`.

Memory and time stay bounded by the file's size whatever it declares:

- The unpickler's work is linear in the pickle's size, and nothing hashes, compares or
  prints a structure the file built (see `torch_pickle`). Memo references can make a few
  hundred bytes a list nested a billion times over as a tree; nothing walks it: only the
  state dict's own entries are looked at, and messages describe file values briefly.
- Fields that say how much to read (pickle lengths, zip member sizes, legacy data sections)
  are checked against what is left of the file before anything is allocated. Zip members
  must be stored, as torch writes them: a compressed one (a few hundred bytes of bzip2 can
  expand to gigabytes) is refused unread, as torch refuses it.
- Every tensor view is checked against its storage in Python integers. The state dict's
  tensors may hold at most `OUTPUT_BYTES_PER_INPUT_BYTE` (4) bytes per byte of the file
  together, which bounds both their element count and what a converter makes of them (at
  most 16 bytes of float32 per byte of the file). A view reaching more elements than its
  storage holds (a stride-0 broadcast) is returned as a read-only view of the file's data,
  never expanded; only the storages the state dict uses are read.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from gnnpose_jax import atomic
from gnnpose_jax.errors import ConversionError
from gnnpose_jax.models.torch_pickle import LazyTensor, Storage, brief, unpickle

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# The pickle of a state_dict names its tensors and holds no data: a few MB at most.
_MAX_PICKLE_BYTES = 256 << 20
#: The tensors of a checkpoint may hold at most this many bytes for each byte of the file.
#: Plain weights hold 1 (the file is their data plus a small pickle); only views that share
#: or overlap their storage (tied weights, stride-0 broadcasts) hold more.
OUTPUT_BYTES_PER_INPUT_BYTE = 4


def _state_tensors(obj: Any, source: str, file_size: int) -> dict[str, LazyTensor]:
    """The state dict's tensors, every view checked and their total size within budget.

    Checkpoints that wrap the weights (`{"state_dict": ...}`, `{"model": ...}`) are unwrapped.
    Only the state dict's own entries are looked at: nothing walks the rest of what the
    pickle built, which memo references can make exponentially large as a tree.
    """
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f"{source}: holds no state_dict of tensors")
    for key in obj:
        if type(key) is not str:
            raise ConversionError(f"{source}: state_dict key {brief(key)} "
                                  f"({type(key).__name__}) is not a string")
    bad = [brief(k) for k, v in obj.items() if not isinstance(v, LazyTensor)]
    if bad:
        raise ConversionError(f"{source}: entries that are not tensors: {', '.join(bad[:5])}")
    total = sum(t.check(f"{source}:{brief(k)}") * t.storage.dtype.itemsize
                for k, t in obj.items())
    if total > OUTPUT_BYTES_PER_INPUT_BYTE * file_size:
        raise ConversionError(
            f"{source}: its tensors would hold {total} bytes, more than "
            f"{OUTPUT_BYTES_PER_INPUT_BYTE} per byte of the file ({file_size} bytes); views "
            "that repeat their data (stride 0, overlaps) this much are refused")
    return dict(obj)


_ZIP_METHODS = {zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
                zipfile.ZIP_LZMA: "lzma"}


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, archive_size: int,
                 size: int | None = None, at_most: int | None = None) -> bytes:
    """A zip member's bytes, its header checked before anything is read or allocated.

    torch stores its members uncompressed: a compressed one (a few hundred bytes of bzip2 can
    declare gigabytes) is refused unread, as torch itself refuses it.
    """
    name = brief(info.filename)
    if info.compress_type != zipfile.ZIP_STORED:
        method = _ZIP_METHODS.get(info.compress_type, "unknown")
        raise ConversionError(f"{path}: member {name} is compressed (zip method "
                              f"{info.compress_type}, {method}); torch checkpoints store them "
                              "uncompressed")
    if info.flag_bits & 0x1:
        raise ConversionError(f"{path}: member {name} is encrypted")
    if info.file_size != info.compress_size or (
            info.header_offset + info.compress_size > archive_size):
        raise ConversionError(f"{path}: member {name} declares {info.file_size} bytes, but the "
                              f"archive holds {archive_size}")
    if size is not None and info.file_size != size:
        raise ConversionError(f"{path}: {name} holds {info.file_size} bytes, expected {size}")
    if at_most is not None and info.file_size > at_most:
        raise ConversionError(f"{path}: {name} is larger than any state_dict's pickle")
    return zf.read(info)


def _read_zip(path: Path, file_size: int) -> dict[str, LazyTensor]:
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: info for info in zf.infolist()}
        pkl = [n for n in members if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ConversionError(f"{path}: zip archive without a torch data.pkl")
        prefix = pkl[0][: -len("data.pkl")]
        order = members.get(prefix + "byteorder")
        if order is not None and _read_member(zf, order, path, file_size,
                                              at_most=16).strip() != b"little":
            raise ConversionError(f"{path}: big-endian checkpoints are not supported")
        raw = _read_member(zf, members[pkl[0]], path, file_size, at_most=_MAX_PICKLE_BYTES)
        storages: dict[str, Storage] = {}
        tensors = _state_tensors(unpickle(io.BytesIO(raw), len(raw), str(path), storages),
                                 str(path), file_size)
        for storage in {id(t.storage): t.storage for t in tensors.values()}.values():
            info = members.get(f"{prefix}data/{storage.key}")
            if info is None:
                raise ConversionError(f"{path}: missing tensor data "
                                      f"{brief(f'{prefix}data/{storage.key}')}")
            storage.fill(_read_member(zf, info, path, file_size, size=storage.nbytes),
                         str(path))
    return tensors


def _read_legacy(path: Path, file_size: int) -> dict[str, LazyTensor]:
    source = str(path)
    with open(path, "rb") as f:
        if f.read(1) != pickle.PROTO:
            raise ConversionError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor "
                                  "a pickle of protocol 2 or later)")
        f.seek(0)

        def header():
            return unpickle(f, file_size, source, {})

        magic = header()
        if type(magic) is not int or magic != _LEGACY_MAGIC:
            raise ConversionError(f"{path}: not a PyTorch checkpoint (bad magic number)")
        protocol = header()
        if type(protocol) is not int or protocol != _LEGACY_PROTOCOL:
            raise ConversionError(f"{path}: unsupported legacy torch protocol version")
        header()  # sys_info: endianness and type sizes, all little/standard since 2017.
        storages: dict[str, Storage] = {}
        obj = unpickle(f, file_size, source, storages)
        keys = header()
        if type(keys) is not list or any(type(k) not in (str, int) for k in keys):
            raise ConversionError(f"{path}: the storage key list is missing")
        tensors = _state_tensors(obj, source, file_size)
        used = {t.storage.key for t in tensors.values()}
        seen: set[str] = set()
        for key in map(str, keys):
            storage = storages.get(key)
            if storage is None:
                raise ConversionError(f"{path}: storage {brief(key)} listed but never used")
            if key in seen:
                raise ConversionError(f"{path}: storage {brief(key)} listed twice")
            seen.add(key)
            head = f.read(8)
            if len(head) < 8:
                raise ConversionError(f"{path}: truncated (storage {brief(key)})")
            (numel,) = struct.unpack("<q", head)
            if numel != storage.numel:
                raise ConversionError(f"{path}: storage {brief(key)} declares {numel} elements "
                                      f"here and {storage.numel} in the pickle")
            if storage.nbytes > file_size - f.tell():
                raise ConversionError(f"{path}: truncated (storage {brief(key)} needs "
                                      f"{storage.nbytes} bytes)")
            if key in used:
                storage.fill(f.read(storage.nbytes), source)
            else:
                f.seek(storage.nbytes, os.SEEK_CUR)
        missing = sorted(used - seen)
        if missing:
            raise ConversionError(f"{path}: no data for storage {brief(missing[0])}")
    return tensors


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Reads a flat `{key: array}` from `.pth` (zip or legacy), `.pt`, `.bin` or `.safetensors`.

    Checkpoints that wrap the weights (`{"state_dict": ...}`, `{"model": ...}`) are unwrapped.
    Memory and time stay bounded by the file's size whatever it declares (see the module
    docstring); an array is read-only where it is a view of the file's data.

    Raises:
      ConversionError: the file is missing, truncated, unsafe, crafted or holds no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        return _load_safetensors(path)
    file_size = path.stat().st_size
    try:
        read = _read_zip if zipfile.is_zipfile(path) else _read_legacy
        return {key: tensor.array() for key, tensor in read(path, file_size).items()}
    except ConversionError:
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, TypeError,
            struct.error, IndexError, AttributeError, KeyError, UnicodeDecodeError,
            OverflowError, RecursionError, MemoryError, NotImplementedError, OSError) as e:
        raise ConversionError(f"{path}: unreadable or truncated checkpoint "
                              f"({type(e).__name__}: {brief(str(e), 200)})") from None


def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ConversionError(f"{path}: unreadable safetensors file ({e})") from None


def save_safetensors(state: dict[str, np.ndarray], path: str | Path) -> None:
    """Writes `state` to `.safetensors` atomically (temp file, then rename)."""
    from safetensors.numpy import save

    # np.require keeps 0-d tensors 0-d (np.ascontiguousarray would make them 1-d).
    atomic.write_bytes(path, save({k: np.require(v, requirements="C") for k, v in state.items()}))
