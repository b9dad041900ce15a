"""A minimal pickle writer (protocol 2 opcodes), enough for a torch state_dict: files in both
torch serialisations (zip and legacy) with every field settable, for the checkpoint-reader
tests (`models/test_torch_files.py`, `models/test_torch_files_bounds.py`,
`cli/test_bad_inputs.py`).

Any field of a tensor (and any value or key of the state dict) may also be a `Raw` pickle
fragment, such as `nested_lists`, a structure a few bytes long that is huge as a tree; zip
members may be written compressed, or with any header (`write_zip_members`).
"""

import base64
import bz2
import io
import struct
import zipfile
import zlib
from pathlib import Path

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

# bz2.compress(bytes(BZIP2_ZEROS_SIZE), 9): 272 MiB of zeros in 239 bytes (made once; it takes
# seconds), with the CRC-32 of what it expands to.
BZIP2_ZEROS_SIZE, BZIP2_ZEROS_CRC = 272 << 20, 0x34D7BFFB
BZIP2_ZEROS = base64.b64decode(
    "QlpoOTFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakK"
    "gJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCX"
    "MUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFB"
    "WSZTWUTs4DIASzHAAMACAAggADDMBSmmoUUjYIopHi7kinChIWaa87Q=")


class Raw(bytes):
    """A pickle fragment that pushes one value, used as it is in place of a field."""


def _int(v: int) -> bytes:
    """LONG1: any integer, negative and huge ones included."""
    n = max(1, (v.bit_length() + 8) // 8)
    return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)


def _str(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _value(v) -> bytes:
    """A field: a Raw fragment as it is, an int, a str, or a tuple (or list) of those, as a
    tuple."""
    if isinstance(v, Raw):
        return bytes(v)
    if isinstance(v, int):
        return _int(v)
    if isinstance(v, str):
        return _str(v)
    return _tuple([_value(x) for x in v])


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _tuple(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _put(i: int) -> bytes:
    return b"r" + struct.pack("<I", i)


def _get(i: int) -> bytes:
    return b"j" + struct.pack("<I", i)


def nested(kind: str, depth: int, width: int, memo_base: int = 1 << 20) -> Raw:
    """A list (or tuple, or dict) nested `depth` deep, each level holding `width` memo
    references to the level below: about 5·width bytes a level, width**depth leaves as a
    tree (the "billion laughs" of pickles)."""
    out = _int(0) + _put(memo_base) + b"0"
    for level in range(1, depth + 1):
        below = _get(memo_base + level - 1)
        if kind == "dict":
            body = b"}(" + b"".join(_str(str(i)) + below for i in range(width)) + b"u"
        else:
            body = b"(" + below * width + (b"l" if kind == "list" else b"t")
        out += body + _put(memo_base + level) + b"0"
    return Raw(out + _get(memo_base + depth))


def _tensor(key, storage: str, numel, offset, size, stride, legacy: bool) -> bytes:
    """`_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`."""
    pid = [_str("storage"), _global("torch", storage), _value(key), _str("cpu"), _value(numel)]
    if legacy:
        pid.append(b"N")  # no view metadata
    return (_global("torch._utils", "_rebuild_tensor_v2")
            + _tuple([_tuple(pid) + b"Q", _value(offset), _value(size), _value(stride),
                      b"\x89", _global("collections", "OrderedDict") + b")R"]) + b"R")


def state_pickle(tensors: dict | Raw, legacy: bool = False, wrapper: str | None = None) -> bytes:
    """An OrderedDict of named tensors, each (key, storage, numel, offset, size, stride) or a
    Raw value (names may be Raw or int too), or a Raw object in its place; `wrapper` puts it
    in a dict under that key (`{"state_dict": ...}`)."""
    if isinstance(tensors, Raw):
        body = bytes(tensors)
    else:
        body = _global("collections", "OrderedDict") + b")R"
        for name, spec in tensors.items():
            value = bytes(spec) if isinstance(spec, Raw) else _tensor(*spec, legacy=legacy)
            body += _value(name) + value + b"s"
    if wrapper is not None:
        body = b"}" + _str(wrapper) + body + b"s"
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
        zf.writestr("archive/data.pkl", state_pickle(tensors, legacy=False))
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")
        for key, data in storages.items():
            zf.writestr(f"archive/data/{key}", data)


def compress(data: bytes, method: int) -> bytes:
    """`data` as a zip member of `method` holds it: stored, deflated or bzip2."""
    if method == zipfile.ZIP_DEFLATED:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush()
    return bz2.compress(data, 9) if method == zipfile.ZIP_BZIP2 else data


def write_zip_members(path: Path, members: list[tuple]) -> None:
    """A zip archive written field by field, each member (name, payload, method, crc,
    declared size, flags): the headers say whatever they are given."""
    out = io.BytesIO()
    central = b""
    for name, payload, method, crc, size, flags in members:
        offset, raw_name = out.tell(), name.encode()
        out.write(struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, flags, method, 0, 0x21,
                              crc, len(payload), size, len(raw_name), 0) + raw_name + payload)
        central += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 0, 20, 0, flags, method, 0,
                               0x21, crc, len(payload), size, len(raw_name), 0, 0, 0, 0, 0,
                               offset) + raw_name
    start = out.tell()
    out.write(central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members),
                                    len(members), len(central), start, 0))
    path.write_bytes(out.getvalue())


def write_legacy(path: Path, tensors: dict | Raw, storages: dict[str, tuple[int, bytes]],
                 wrapper: str | None = None) -> None:
    """storages: {key: (numel written in the data section, bytes)}."""
    out = io.BytesIO()
    for head in (LEGACY_MAGIC, 1001, None):
        out.write(_pickle_value(head))
    out.write(state_pickle(tensors, legacy=True, wrapper=wrapper))
    out.write(_pickle_value(list(storages)))
    for numel, data in storages.values():
        out.write(struct.pack("<q", numel) + data)
    path.write_bytes(out.getvalue())
