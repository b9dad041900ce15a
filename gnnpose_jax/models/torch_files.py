"""Reads PyTorch state dicts as NumPy arrays, safely and without torch.

`.pth` files are pickles, and unpickling runs whatever callables the file names. The reader
here is a restricted unpickler: it resolves only the handful of globals a tensor checkpoint
needs (tensor rebuilders, storage types, OrderedDict) and refuses anything else *before* any
of it is called. Both torch serialisations are read: the zip format (torch >= 1.6) and the
legacy stream format of the 2019 model-zoo files. `.safetensors` files go through
`safetensors.numpy`.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from gnnpose_jax import atomic
from gnnpose_jax.errors import ConversionError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    """Stands in for `torch.FloatStorage` & co.: only its dtype matters."""

    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


# A tensor or storage larger than this (in elements) is refused as crafted: 2^40 float32
# elements would be 4 TiB, far beyond any checkpoint.
_MAX_ELEMENTS = 1 << 40
# The pickle of a state_dict names its tensors and holds no data: a few MB at most.
_MAX_PICKLE_BYTES = 256 << 20


def _count(value: Any, what: str, source: str) -> int:
    """`value` as a non-negative element count within `_MAX_ELEMENTS`, or a ConversionError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_ELEMENTS:
        raise ConversionError(f"{source}: {what} must be an integer in [0, 2^40], got "
                              f"{value!r:.40}")
    return value


class _Storage:
    """A flat typed buffer; its bytes arrive after the pickle (legacy) or from the zip."""

    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.array: np.ndarray | None = None

    def fill(self, raw: bytes, source: str) -> None:
        """Takes the storage's bytes, which must be exactly `numel` elements."""
        if len(raw) != self.numel * self.dtype.itemsize:
            raise ConversionError(
                f"{source}: storage {self.key} holds {len(raw)} bytes, but its header declares "
                f"{self.numel} elements of {self.dtype.itemsize} bytes")
        self.array = np.frombuffer(raw, dtype=self.dtype)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_args) -> _LazyTensor:
    """`torch._utils._rebuild_tensor(_v2)`: records the view; its bounds are checked later."""
    if not isinstance(storage, _Storage):
        raise ConversionError(f"a tensor is built on {type(storage).__name__}, not on a storage")
    if not isinstance(size, tuple) or not isinstance(stride, tuple) or len(size) != len(stride):
        raise ConversionError(f"storage {storage.key}: a tensor's size {size!r:.60} and stride "
                              f"{stride!r:.60} must be tuples of equal length")
    return _LazyTensor(storage, offset, size, stride)


def _rebuild_parameter(data, *_args):
    return data


class _LazyTensor:
    """A tensor view of a storage, materialised once the storage's bytes are known."""

    def __init__(self, storage: _Storage, offset: Any, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def materialise(self, name: str) -> np.ndarray:
        """The tensor as a contiguous array, once every bound is checked against the bytes.

        Offsets, sizes and strides come from the file, so they are validated in Python's
        unbounded integers before any view is made: non-negative, and the last element the
        view can reach lies inside the storage's data.
        """
        buf = self.storage.array
        if buf is None:
            raise ConversionError(f"{name}: tensor data is missing")
        offset = _count(self.offset, "storage offset", name)
        size = tuple(_count(n, "size", name) for n in self.size)
        stride = tuple(_count(s, "stride", name) for s in self.stride)
        numel = math.prod(size)
        if numel == 0:
            return np.zeros(size, dtype=buf.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= buf.size:
            raise ConversionError(
                f"{name}: the tensor (offset {offset}, size {size}, stride {stride}) reaches "
                f"element {last}, but storage {self.storage.key} holds {buf.size}")
        itemsize = buf.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            buf[offset:], shape=size, strides=[s * itemsize for s in stride], writeable=False)
        return np.ascontiguousarray(view)


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): tuple,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only tensor-checkpoint globals; everything else is refused unexecuted."""

    def __init__(self, file, source: str, storages: dict[str, _Storage]):
        super().__init__(file, encoding="latin1")
        self.source, self.storages = source, storages

    def find_class(self, module: str, name: str):
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ConversionError(
                f"{self.source}: refusing to unpickle {module}.{name} (only tensor data is "
                "read; save a plain state_dict of tensors)") from None

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise ConversionError(f"{self.source}: unsupported persistent id {pid!r:.60}")
        if len(pid) < 5:
            raise ConversionError(f"{self.source}: malformed storage id {pid!r:.60}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise ConversionError(f"{self.source}: unsupported storage type {storage_type!r:.60}")
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise ConversionError(f"{self.source}: storage key {key!r:.60} is not a name")
        key = str(key)
        numel = _count(numel, f"storage {key}'s element count", self.source)
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype, numel)
        storage = self.storages[key]
        if (storage.dtype, storage.numel) != (storage_type.dtype, numel):
            raise ConversionError(f"{self.source}: storage {key} is declared twice, differently")
        view = pid[5] if len(pid) > 5 else None
        if view is not None:
            raise ConversionError(f"{self.source}: storage views are not supported")
        return storage


def _collect_tensors(obj: Any, source: str) -> dict[str, np.ndarray] | Any:
    """Replaces lazy tensors in nested dicts by arrays."""
    if isinstance(obj, _LazyTensor):
        return obj.materialise(source)
    if isinstance(obj, dict):
        return {k: _collect_tensors(v, f"{source}:{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_collect_tensors(v, source) for v in obj)
    return obj


def _read_member(zf: zipfile.ZipFile, name: str, size: int, path: Path) -> bytes:
    """A zip member's bytes, refused unread if its declared size is not `size`."""
    declared = zf.getinfo(name).file_size
    if declared != size:
        raise ConversionError(f"{path}: {name} holds {declared} bytes, expected {size}")
    return zf.read(name)


def _load_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ConversionError(f"{path}: zip archive without a torch data.pkl")
        prefix = pkl[0][: -len("data.pkl")]
        order = prefix + "byteorder"
        if order in names and zf.read(order).decode().strip() != "little":
            raise ConversionError(f"{path}: big-endian checkpoints are not supported")
        if zf.getinfo(pkl[0]).file_size > _MAX_PICKLE_BYTES:
            raise ConversionError(f"{path}: {pkl[0]} is larger than any state_dict's pickle")
        storages: dict[str, _Storage] = {}
        obj = _RestrictedUnpickler(io.BytesIO(zf.read(pkl[0])), str(path), storages).load()
        for key, storage in storages.items():
            name = f"{prefix}data/{key}"
            if name not in names:
                raise ConversionError(f"{path}: missing tensor data {name}")
            storage.fill(_read_member(zf, name, storage.numel * storage.dtype.itemsize, path),
                         str(path))
    return obj


def _load_legacy(path: Path) -> Any:
    with open(path, "rb") as f:
        def header():
            return _RestrictedUnpickler(f, str(path), {}).load()

        if header() != _LEGACY_MAGIC:
            raise ConversionError(f"{path}: not a PyTorch checkpoint (bad magic number)")
        if header() != _LEGACY_PROTOCOL:
            raise ConversionError(f"{path}: unsupported legacy torch protocol version")
        header()  # sys_info: endianness and type sizes, all little/standard since 2017.
        storages: dict[str, _Storage] = {}
        obj = _RestrictedUnpickler(f, str(path), storages).load()
        keys = _RestrictedUnpickler(f, str(path), {}).load()
        if not isinstance(keys, list):
            raise ConversionError(f"{path}: the storage key list is missing")
        file_size = os.fstat(f.fileno()).st_size
        for key in keys:
            storage = storages.get(str(key))
            if storage is None:
                raise ConversionError(f"{path}: storage {key!r:.40} listed but never used")
            if storage.array is not None:
                raise ConversionError(f"{path}: storage {key} listed twice")
            head = f.read(8)
            if len(head) < 8:
                raise ConversionError(f"{path}: truncated (storage {key})")
            (numel,) = struct.unpack("<q", head)
            if numel != storage.numel:
                raise ConversionError(f"{path}: storage {key} declares {numel} elements here "
                                      f"and {storage.numel} in the pickle")
            nbytes = numel * storage.dtype.itemsize
            if nbytes > file_size - f.tell():
                raise ConversionError(f"{path}: truncated (storage {key} needs {nbytes} bytes)")
            storage.fill(f.read(nbytes), str(path))
        missing = [k for k, s in storages.items() if s.array is None]
        if missing:
            raise ConversionError(f"{path}: no data for storage {missing[0]}")
    return obj


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Reads a flat `{key: array}` from `.pth` (zip or legacy), `.pt`, `.bin` or `.safetensors`.

    Checkpoints that wrap the weights (`{"state_dict": ...}`, `{"model": ...}`) are unwrapped.

    Raises:
      ConversionError: the file is missing, truncated, unsafe or holds no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        return _load_safetensors(path)
    try:
        obj = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
        obj = _collect_tensors(obj, str(path))
    except ConversionError:
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, TypeError,
            struct.error, IndexError, AttributeError, KeyError, UnicodeDecodeError,
            OverflowError, RecursionError, MemoryError, NotImplementedError, OSError) as e:
        raise ConversionError(f"{path}: unreadable or truncated checkpoint ({e})") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f"{path}: holds no state_dict of tensors")
    bad = [k for k, v in obj.items() if not isinstance(v, np.ndarray)]
    if bad:
        raise ConversionError(f"{path}: entries that are not tensors: {', '.join(bad[:5])}")
    return dict(obj)


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
