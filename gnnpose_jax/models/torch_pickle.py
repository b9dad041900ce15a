"""The restricted unpickler of torch checkpoints: tensor data only, in linear work.

`.pth` files are pickles, and unpickling runs whatever callables the file names. This one
resolves only the handful of globals a tensor checkpoint needs (tensor rebuilders, storage
types, OrderedDict) and refuses anything else *before* any of it is called. It runs on
Python's own opcode interpreter limited to the opcodes a checkpoint uses (no sets, no
construction by class), calls only the allowed functions with at most 8 arguments, and takes
only strings and numbers as dict keys, so nothing hashes or compares a structure the file
built; length fields are checked against what is left of the input before anything is
allocated. Tensors come out as `LazyTensor` views of `Storage`s, checked and materialised by
`torch_files` once the storages' bytes are read.
"""

from __future__ import annotations

import collections
import math
import pickle
from typing import Any

import ml_dtypes
import numpy as np

from gnnpose_jax.errors import ConversionError

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

# A tensor or storage larger than this (in elements) is refused as crafted: 2^40 float32
# elements would be 4 TiB, far beyond any checkpoint.
_MAX_ELEMENTS = 1 << 40
# NumPy's limit on an array's dimensions.
_MAX_RANK = 64
# A pickle's text line (a global's module or name, a protocol-0 number) is short.
_MAX_LINE = 1 << 16
# torch's tensor rebuilders take at most 7 arguments.
_MAX_CALL_ARGS = 8


def brief(value: Any, limit: int = 60) -> str:
    """A value read from a file, described in a few words for a one-line message.

    Never builds the full repr, which for a crafted value (a string of a million characters,
    a list nested in itself through memo references a thousand times over) could take
    gigabytes or not finish: strings are quoted and cut to `limit` characters, integers past
    64 bits and containers are described by their size.
    """
    if isinstance(value, (str, bytes)):
        return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} long)"
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        bits = value.bit_length()
        return str(value) if bits <= 64 else f"an integer of {bits} bits"
    if isinstance(value, (tuple, list)) and len(value) <= 8 and all(
            type(v) is int and v.bit_length() <= 64 for v in value):
        return repr(value)
    if isinstance(value, (tuple, list, dict)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _count(value: Any, what: str, source: str) -> int:
    """`value` as a non-negative element count within `_MAX_ELEMENTS`, or a ConversionError."""
    if type(value) is not int or not 0 <= value <= _MAX_ELEMENTS:
        raise ConversionError(f"{source}: {what} must be an integer in [0, 2^40], got "
                              f"{brief(value)}")
    return value


class _Refused(Exception):
    """The pickle asks for something a checkpoint never needs; `load` adds the file's name."""


class _StorageType:
    """Stands in for `torch.FloatStorage` & co.: only its dtype matters."""

    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class Storage:
    """A flat typed buffer; its bytes arrive after the pickle (legacy) or from the zip."""

    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.nbytes = numel * dtype.itemsize
        self.array: np.ndarray | None = None

    def fill(self, raw: bytes, source: str) -> None:
        """Takes the storage's bytes, which must be exactly `numel` elements."""
        if len(raw) != self.nbytes:
            raise ConversionError(
                f"{source}: storage {brief(self.key)} holds {len(raw)} bytes, but its header "
                f"declares {self.numel} elements of {self.dtype.itemsize} bytes")
        self.array = np.frombuffer(raw, dtype=self.dtype)


class LazyTensor:
    """A tensor view of a storage, materialised once checked and the storage's bytes known."""

    def __init__(self, storage: Storage, offset: Any, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def check(self, name: str) -> int:
        """Validates the view against the storage's elements; returns its element count.

        Offsets, sizes and strides come from the file, so they are checked in Python's
        unbounded integers before any view is made: non-negative, and the last element the
        view can reach lies inside the storage.
        """
        offset = _count(self.offset, "storage offset", name)
        size = tuple(_count(n, "size", name) for n in self.size)
        stride = tuple(_count(s, "stride", name) for s in self.stride)
        numel = math.prod(size)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if numel and last >= self.storage.numel:
            raise ConversionError(
                f"{name}: the tensor (offset {offset}, size {brief(size)}, stride "
                f"{brief(stride)}) reaches element {last}, but storage {brief(self.storage.key)} "
                f"holds {self.storage.numel}")
        self.offset, self.size, self.stride = offset, size, stride
        return numel

    def array(self) -> np.ndarray:
        """The checked view over the storage's data: a contiguous copy if it reaches no more
        elements than the storage holds, else (a stride-0 broadcast, overlapping strides) the
        read-only view itself, never expanded in memory."""
        buf = self.storage.array
        if math.prod(self.size) == 0:
            return np.zeros(self.size, dtype=self.storage.dtype)
        itemsize = buf.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            buf[self.offset:], shape=self.size, strides=[s * itemsize for s in self.stride],
            writeable=False)
        # np.require keeps a 0-d tensor 0-d (np.ascontiguousarray would make it 1-d).
        return np.require(view, requirements="C") if view.size <= buf.size else view


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_args) -> LazyTensor:
    """`torch._utils._rebuild_tensor(_v2)`: records the view; its bounds are checked later."""
    if not isinstance(storage, Storage):
        raise _Refused(f"a tensor is built on {brief(storage)}, not on a storage")
    if (type(size) is not tuple or type(stride) is not tuple or len(size) != len(stride)
            or len(size) > _MAX_RANK):
        raise _Refused(f"storage {brief(storage.key)}: a tensor's size and stride must be "
                       f"tuples of equal length (at most {_MAX_RANK}), got {brief(size)} and "
                       f"{brief(stride)}")
    return LazyTensor(storage, offset, size, stride)


def _rebuild_parameter(data, *_args):
    return data


def _ordered_dict(*args):
    """`collections.OrderedDict()`: torch makes it empty, then sets its items one by one."""
    if args:
        raise _Refused("OrderedDict is called with arguments")
    return collections.OrderedDict()


def _torch_size(dims: Any = ()) -> tuple:
    """`torch.Size(dims)`, as a tuple of at most `_MAX_RANK` entries (checked later)."""
    if type(dims) is not tuple or len(dims) > _MAX_RANK:
        raise _Refused(f"torch.Size of {brief(dims)}; expected a tuple of at most {_MAX_RANK}")
    return dims


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): _torch_size,
}
# Dict keys must be one of these: nothing then hashes or compares a structure the file built.
_KEY_TYPES = (str, int, bytes, float, bool, type(None))
# What a torch checkpoint's pickle uses (protocols 0-5), less what builds objects by class
# (INST, OBJ, NEWOBJ, EXT*), sets (hashing) and out-of-band buffers.
_OPCODES = (
    pickle.MARK, pickle.STOP, pickle.POP, pickle.POP_MARK, pickle.DUP, pickle.FLOAT,
    pickle.INT, pickle.BININT, pickle.BININT1, pickle.LONG, pickle.BININT2, pickle.NONE,
    pickle.PERSID, pickle.BINPERSID, pickle.REDUCE, pickle.STRING, pickle.BINSTRING,
    pickle.SHORT_BINSTRING, pickle.UNICODE, pickle.BINUNICODE, pickle.APPEND, pickle.BUILD,
    pickle.GLOBAL, pickle.DICT, pickle.EMPTY_DICT, pickle.APPENDS, pickle.GET, pickle.BINGET,
    pickle.LONG_BINGET, pickle.LIST, pickle.EMPTY_LIST, pickle.PUT, pickle.BINPUT,
    pickle.LONG_BINPUT, pickle.SETITEM, pickle.TUPLE, pickle.EMPTY_TUPLE, pickle.SETITEMS,
    pickle.BINFLOAT, pickle.PROTO, pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3,
    pickle.NEWTRUE, pickle.NEWFALSE, pickle.LONG1, pickle.LONG4, pickle.BINBYTES,
    pickle.SHORT_BINBYTES, pickle.SHORT_BINUNICODE, pickle.BINUNICODE8, pickle.BINBYTES8,
    pickle.STACK_GLOBAL, pickle.MEMOIZE, pickle.FRAME)


class _OpcodeTable(dict):
    """The unpickler's dispatch table; an opcode it lacks is refused."""

    def __missing__(self, opcode: int):
        raise _Refused(f"pickle opcode {bytes([opcode])!r} is not allowed in a checkpoint")


class _BoundedInput:
    """A pickle's input: a length field claiming more than is left before `end` is refused
    before anything is allocated for it."""

    def __init__(self, file, end: int):
        self.file, self.end = file, end

    def read(self, n: int) -> bytes:
        if n > self.end - self.file.tell():
            raise EOFError(f"a pickle field of {n} bytes runs past the end")
        return self.file.read(n)

    def readline(self) -> bytes:
        return self.file.readline(min(self.end - self.file.tell(), _MAX_LINE))


class _RestrictedUnpickler(pickle._Unpickler):
    """Python's own opcode interpreter, resolving only tensor-checkpoint globals (everything
    else is refused unexecuted), with opcodes limited to what a checkpoint needs and checked
    so that the work stays linear in the pickle's size: calls only to the allowed functions
    with few arguments, dict keys only strings and numbers, items only set on dicts and
    lists."""

    def __init__(self, file, end: int, source: str, storages: dict[str, Storage]):
        super().__init__(_BoundedInput(file, end), encoding="latin1")
        self.source, self.storages = source, storages

    def load(self):
        try:
            return super().load()
        except _Refused as e:
            raise ConversionError(f"{self.source}: {e}") from None

    def find_class(self, module: str, name: str):
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _Refused(f"refusing to unpickle {brief(f'{module}.{name}')} (only tensor data "
                           "is read; save a plain state_dict of tensors)") from None

    def persistent_load(self, pid):
        kind = pid[0] if type(pid) is tuple and pid else None
        if type(kind) not in (str, bytes) or kind not in ("storage", b"storage"):
            raise _Refused(f"unsupported persistent id {brief(pid)}")
        if len(pid) < 5:
            raise _Refused(f"malformed storage id {brief(pid)}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise _Refused(f"unsupported storage type {brief(storage_type)}")
        if type(key) is not str and not (type(key) is int and 0 <= key < 1 << 63):
            raise _Refused(f"storage key {brief(key)} is not a name")
        key = str(key)
        numel = _count(numel, f"storage {brief(key)}'s element count", self.source)
        storage = self.storages.setdefault(key, Storage(key, storage_type.dtype, numel))
        if (storage.dtype, storage.numel) != (storage_type.dtype, numel):
            raise _Refused(f"storage {brief(key)} is declared twice, differently")
        if len(pid) > 5 and pid[5] is not None:
            raise _Refused("storage views are not supported")
        return storage

    def load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if not any(func is f for f in _ALLOWED_GLOBALS.values()):
            raise _Refused(f"calls {brief(func)}, not a tensor rebuilder")
        if type(args) is not tuple or len(args) > _MAX_CALL_ARGS:
            raise _Refused(f"calls {func.__name__} with {brief(args)}; expected a tuple of at "
                           f"most {_MAX_CALL_ARGS} arguments")
        self.stack[-1] = func(*args)

    def load_build(self):
        state = self.stack.pop()
        if type(self.stack[-1]) is not collections.OrderedDict or type(state) is not dict:
            raise _Refused(f"sets the state of {brief(self.stack[-1])}; only a state_dict's "
                           "metadata is expected")
        # The metadata (`_metadata`: each module's version) is not needed: it is dropped.

    def _set_items(self, target: Any, items: list) -> None:
        if not isinstance(target, dict):
            raise _Refused(f"sets items of {brief(target)}, not of a dict")
        for key in items[::2]:
            if type(key) not in _KEY_TYPES:
                raise _Refused(f"a dict key is {brief(key)}; expected a string or a number")
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def load_setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        self._set_items(self.stack[-1], [key, value])

    def load_setitems(self):
        items = self.pop_mark()
        self._set_items(self.stack[-1], items)

    def load_dict(self):
        items = self.pop_mark()
        self.append({})
        self._set_items(self.stack[-1], items)

    def _extend(self, target: Any, items: list) -> None:
        if type(target) is not list:
            raise _Refused(f"appends to {brief(target)}, not to a list")
        target.extend(items)

    def load_append(self):
        value = self.stack.pop()
        self._extend(self.stack[-1], [value])

    def load_appends(self):
        items = self.pop_mark()
        self._extend(self.stack[-1], items)

    dispatch = _OpcodeTable({op[0]: pickle._Unpickler.dispatch[op[0]] for op in _OPCODES})
    dispatch.update({pickle.REDUCE[0]: load_reduce, pickle.BUILD[0]: load_build,
                     pickle.SETITEM[0]: load_setitem, pickle.SETITEMS[0]: load_setitems,
                     pickle.DICT[0]: load_dict, pickle.APPEND[0]: load_append,
                     pickle.APPENDS[0]: load_appends})


def unpickle(file, end: int, source: str, storages: dict[str, Storage]) -> Any:
    """The next pickle in `file` (which must end by `end`), its storages added to `storages`."""
    return _RestrictedUnpickler(file, end, source, storages).load()
