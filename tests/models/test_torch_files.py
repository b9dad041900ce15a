"""The checkpoint reader against crafted files: it returns the right arrays or refuses cleanly.

The files are assembled here opcode by opcode (a small pickle writer), so every field torch
would never write wrongly can be set to anything: storage keys, element counts, offsets,
sizes, strides, dtypes, the data's length. Hypothesis drives those fields, and byte-level
truncation and corruption, over both torch serialisations and safetensors. The property: the
reader either returns exactly what an independent index computation over the storage bytes
gives, or raises `ConversionError` (as it must when the view is out of bounds, or holds more
bytes than `OUTPUT_BYTES_PER_INPUT_BYTE` per byte of the file). Any other exception fails the
test, and a segfault or a read outside the buffer kills the worker. Memory and time under
crafted files are the subject of `test_torch_files_bounds.py`.

The example counts are bounded and the examples derandomised, so CI runs the same cases every
time (`HYPOTHESIS_FUZZ_EXAMPLES` raises the count for a longer local hunt).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnnpose_jax.errors import ConversionError
from gnnpose_jax.models.torch_files import OUTPUT_BYTES_PER_INPUT_BYTE, load_state_dict
from tests.helpers.torch_pickles import write_legacy, write_zip

EXAMPLES = int(os.environ.get("HYPOTHESIS_FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
          "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8,
          "BoolStorage": np.bool_}
def _expected(data: bytes, dtype, offset: int, size, stride) -> np.ndarray:
    """The tensor by explicit index arithmetic over the storage's elements."""
    flat = np.frombuffer(data, dtype=dtype)
    index = np.full(size, offset, dtype=np.int64)
    for axis, s in enumerate(stride):
        shape = [1] * len(size)
        shape[axis] = size[axis]
        index = index + (np.arange(size[axis]) * s).reshape(shape)
    return flat[index]


def _valid(numel, data_elements, offset, size, stride, itemsize, file_size) -> bool:
    """Whether a reader must accept the tensor: every bound inside the storage's data, and
    the tensor's bytes within the budget per byte of the file."""
    if numel != data_elements or any(v < 0 for v in (offset, *size, *stride)):
        return False
    if any(v > 1 << 40 for v in (numel, offset, *size, *stride)):
        return False
    elements = int(np.prod(size, dtype=object))
    if elements == 0:
        return True
    if elements * itemsize > OUTPUT_BYTES_PER_INPUT_BYTE * file_size:
        return False
    return offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) < numel


_SMALL = st.integers(0, 12)
_WILD = st.one_of(_SMALL, _SMALL, _SMALL, st.integers(-3, -1),
                  st.sampled_from([-(1 << 40), (1 << 40) + 1, (1 << 62), -(1 << 63), 1 << 70]))


@st.composite
def _crafted_tensor(draw):
    """One tensor spec plus the storage bytes it points into."""
    storage = draw(st.sampled_from(sorted(DTYPES)))
    rank = draw(st.integers(0, 3))
    size = draw(st.lists(_WILD, min_size=rank, max_size=rank))
    stride = draw(st.lists(_WILD, min_size=rank, max_size=rank))
    offset = draw(_WILD)
    numel = draw(_WILD)
    data_elements = draw(st.one_of(st.just(numel), _SMALL)) if 0 <= numel <= 64 else draw(_SMALL)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = np.dtype(DTYPES[storage])
    data = rng.integers(0, 256, size=data_elements * dtype.itemsize, dtype=np.uint8).tobytes()
    if dtype == np.bool_:
        data = bytes(b & 1 for b in data)
    return storage, numel, offset, size, stride, data_elements, data


def _check(path: Path, spec) -> None:
    """The reader's answer for one crafted tensor is the reference's, or a ConversionError."""
    storage, numel, offset, size, stride, data_elements, data = spec
    valid = _valid(numel, data_elements, offset, size, stride,
                   np.dtype(DTYPES[storage]).itemsize, path.stat().st_size)
    try:
        state = load_state_dict(path)
    except ConversionError:
        assert not valid, "a well-formed tensor was refused"
        return
    assert valid, "a crafted tensor was accepted"
    expected = _expected(data, DTYPES[storage], offset, size, stride)
    np.testing.assert_array_equal(state["w"], expected)
    assert state["w"].dtype == DTYPES[storage] and state["w"].shape == tuple(size)


@FUZZ
@given(spec=_crafted_tensor())
def test_zip_format_fields_are_bounds_checked(tmp_path, spec):
    storage, numel, offset, size, stride, _, data = spec
    path = tmp_path / "crafted.pth"
    write_zip(path, {"w": ("0", storage, numel, offset, size, stride)}, {"0": data})
    _check(path, spec)


@FUZZ
@given(spec=_crafted_tensor(),
       header_numel=st.one_of(st.none(), _WILD.filter(lambda v: -(1 << 63) <= v < 1 << 63)))
def test_legacy_format_fields_are_bounds_checked(tmp_path, spec, header_numel):
    storage, numel, offset, size, stride, data_elements, data = spec
    path = tmp_path / "crafted.pth"
    # The data section repeats the element count: by default the true one, else anything.
    written = data_elements if header_numel is None else header_numel
    write_legacy(path, {"w": ("0", storage, numel, offset, size, stride)}, {"0": (written,
                                                                                   data)})
    if written != data_elements:
        with pytest.raises(ConversionError):
            load_state_dict(path)
        return
    _check(path, spec)


def _good_files(folder: Path) -> dict[str, Path]:
    """A two-tensor state_dict (one a strided view) in each of the three formats."""
    from safetensors.numpy import save_file

    data = np.arange(24, dtype=np.float32).tobytes()
    tensors = {"w": ("0", "FloatStorage", 24, 2, (3, 4), (5, 1)),
               "b": ("0", "FloatStorage", 24, 0, (4,), (1,))}
    files = {"zip": folder / "good_zip.pth", "legacy": folder / "good_legacy.pth",
             "safetensors": folder / "good.safetensors"}
    write_zip(files["zip"], tensors, {"0": data})
    write_legacy(files["legacy"], tensors, {"0": (24, data)})
    flat = np.arange(24, dtype=np.float32)
    save_file({"w": flat[2:22].reshape(4, 5)[:3, :4].copy(), "b": flat[:4].copy()},
              str(files["safetensors"]))
    return files


def test_hand_made_files_read_like_torch(tmp_path):
    """The writer above makes files torch itself reads, with the same values as ours."""
    torch = pytest.importorskip("torch")
    for kind, path in _good_files(tmp_path).items():
        ours = load_state_dict(path)
        np.testing.assert_array_equal(ours["w"], 2 + 5 * np.arange(3)[:, None] + np.arange(4))
        if kind != "safetensors":
            theirs = torch.load(path, weights_only=True)
            for key, value in theirs.items():
                np.testing.assert_array_equal(ours[key], value.numpy(), err_msg=f"{kind} {key}")


@pytest.mark.parametrize("kind", ["zip", "legacy", "safetensors"])
@FUZZ
@given(data=st.data())
def test_truncated_or_corrupted_files_are_refused_or_read(tmp_path, kind, data):
    """Cut or flipped bytes anywhere: a ConversionError, or arrays of the declared shapes."""
    path = _good_files(tmp_path)[kind]
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[:data.draw(st.integers(0, len(raw) - 1), label="length")]
    else:
        for _ in range(data.draw(st.integers(1, 4), label="flips")):
            i = data.draw(st.integers(0, len(raw) - 1), label="at")
            raw[i] = data.draw(st.integers(0, 255), label="byte")
    path.write_bytes(bytes(raw))
    try:
        state = load_state_dict(path)
    except ConversionError:
        return
    assert all(isinstance(v, np.ndarray) for v in state.values())


@FUZZ
@given(dtype=st.sampled_from(["F32", "F16", "I64", "U8", "BOOL", "F64", "XX"]),
       shape=st.lists(_WILD, max_size=3), start=_WILD, stop=_WILD, pad=st.integers(0, 16))
def test_safetensors_header_fields_are_checked(tmp_path, dtype, shape, start, stop, pad):
    header = json.dumps({"w": {"dtype": dtype, "shape": shape, "data_offsets": [start, stop]}})
    path = tmp_path / "crafted.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + bytes(pad))
    try:
        state = load_state_dict(path)
    except ConversionError:
        return
    itemsize = {"F32": 4, "F16": 2, "I64": 8, "U8": 1, "BOOL": 1, "F64": 8}[dtype]
    assert state["w"].shape == tuple(shape)
    assert state["w"].nbytes == stop - start == itemsize * int(np.prod(shape)) <= pad


@pytest.mark.parametrize("case, message", [
    ("negative_stride", "stride"), ("negative_offset", "storage offset"),
    ("past_the_end", "reaches element"), ("huge_storage", "element count"),
    ("short_data", "holds"), ("legacy_huge_numel", "element count"),
    ("legacy_header_mismatch", "declares"),
])
def test_the_issue_s_crafted_files_are_refused_with_one_line(tmp_path, case, message):
    """The crafted files reported against the reader (segfault, heap reads, OverflowError)."""
    path = tmp_path / f"{case}.pth"
    data = np.arange(8, dtype=np.float32).tobytes()
    specs = {
        "negative_stride": ("0", "FloatStorage", 8, 0, (4,), (-(1 << 40),)),
        "negative_offset": ("0", "FloatStorage", 8, -1000, (4,), (1,)),
        "past_the_end": ("0", "FloatStorage", 8, 6, (4,), (1,)),
        "huge_storage": ("0", "FloatStorage", 1 << 62, 0, (4,), (1,)),
        "short_data": ("0", "FloatStorage", 9, 0, (4,), (1,)),
    }
    if case.startswith("legacy"):
        numel = (1 << 62) if case == "legacy_huge_numel" else 8
        written = 7 if case == "legacy_header_mismatch" else numel
        write_legacy(path, {"w": ("0", "FloatStorage", numel, 0, (4,), (1,))},
                      {"0": (written, data)})
    else:
        write_zip(path, {"w": specs[case]}, {"0": data})
    with pytest.raises(ConversionError, match=message) as error:
        load_state_dict(path)
    assert "\n" not in str(error.value)


def test_safetensors_round_trip_keeps_shapes_and_values(tmp_path):
    """0-d tensors stay 0-d, and a transposed (non-contiguous) array is written by value."""
    from gnnpose_jax.models.torch_files import save_safetensors

    state = {"num_batches_tracked": np.array(7, np.int64),
             "w": np.arange(6, dtype=np.float32).reshape(2, 3).T}
    save_safetensors(state, tmp_path / "w.safetensors")
    back = load_state_dict(tmp_path / "w.safetensors")
    for key, value in state.items():
        assert back[key].shape == value.shape and back[key].dtype == value.dtype
        np.testing.assert_array_equal(back[key], value)
