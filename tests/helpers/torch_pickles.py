"""A minimal pickle writer (protocol 2 opcodes), enough for a torch state_dict: files in both
torch serialisations (zip and legacy) with every field settable, for the checkpoint-reader
tests (`models/test_torch_files.py`, `cli/test_bad_inputs.py`)."""

import io
import struct
import zipfile
from pathlib import Path

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _int(v: int) -> bytes:
    """LONG1: any integer, negative and huge ones included."""
    n = max(1, (v.bit_length() + 8) // 8)
    return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)


def _str(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _tuple(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _tensor(key: str, storage: str, numel: int, offset: int, size, stride,
            legacy: bool) -> bytes:
    """`_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`."""
    pid = [_str("storage"), _global("torch", storage), _str(key), _str("cpu"), _int(numel)]
    if legacy:
        pid.append(b"N")  # no view metadata
    return (_global("torch._utils", "_rebuild_tensor_v2")
            + _tuple([_tuple(pid) + b"Q", _int(offset), _tuple([_int(n) for n in size]),
                      _tuple([_int(s) for s in stride]), b"\x89",
                      _global("collections", "OrderedDict") + b")R"]) + b"R")


def _state_pickle(tensors: dict[str, tuple], legacy: bool) -> bytes:
    """An OrderedDict of named tensors, each (key, storage, numel, offset, size, stride)."""
    body = _global("collections", "OrderedDict") + b")R"
    for name, spec in tensors.items():
        body += _str(name) + _tensor(*spec, legacy=legacy) + b"s"
    return b"\x80\x02" + body + b"."


def _pickle_value(value) -> bytes:
    if isinstance(value, int):
        return b"\x80\x02" + _int(value) + b"."
    if isinstance(value, list):
        return b"\x80\x02" + b"]" + (b"(" + b"".join(_str(v) for v in value) + b"e"
                                     if value else b"") + b"."
    return b"\x80\x02}."  # sys_info: an empty dict


def write_zip(path: Path, tensors: dict, storages: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", _state_pickle(tensors, legacy=False))
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")
        for key, data in storages.items():
            zf.writestr(f"archive/data/{key}", data)


def write_legacy(path: Path, tensors: dict, storages: dict[str, tuple[int, bytes]]) -> None:
    """storages: {key: (numel written in the data section, bytes)}."""
    out = io.BytesIO()
    for head in (LEGACY_MAGIC, 1001, None):
        out.write(_pickle_value(head))
    out.write(_state_pickle(tensors, legacy=True))
    out.write(_pickle_value(list(storages)))
    for numel, data in storages.values():
        out.write(struct.pack("<q", numel) + data)
    path.write_bytes(out.getvalue())
