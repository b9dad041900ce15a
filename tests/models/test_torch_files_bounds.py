"""The checkpoint reader and converter stay bounded in memory and time whatever a file declares.

First the crafted files an audit found (a stride-0 view declaring 2^28 elements, a bzip2 zip
member expanding to 272 MiB, lists nested through memo references, odd state_dict keys), each
refused in one line; then a property: every crafted file under 64 KiB (pickles built opcode
by opcode with nested structures and memo references anywhere, tensors with odd sizes,
strides and offsets, zip members compressed or not) is converted or refused with one short
`GnnPoseError` line, within 256 MiB + 4x its size and 5 s. The property runs in a subprocess
that measures each example's peak allocation (`tracemalloc`, which sees NumPy's buffers and
Python's objects) and its wall time, and the process's peak RSS growth, under an address
space limit that turns a runaway into a reported failure rather than a swapping machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gnnpose_jax.errors import ConversionError, GnnPoseError
from gnnpose_jax.models.torch_files import OUTPUT_BYTES_PER_INPUT_BYTE, load_state_dict
from tests.helpers import torch_pickles as tp

ROOT = Path(__file__).resolve().parents[2]
FLOAT = np.float32(1.5).tobytes()
MAX_FILE = 64 << 10
MAX_SECONDS = 5.0
MAX_MESSAGE = 400
PROPERTY_EXAMPLES = int(os.environ.get("HYPOTHESIS_BOUNDS_EXAMPLES", "80"))


def _budget(file_size: int) -> int:
    return (256 << 20) + 4 * file_size


def _zip_of(path: Path, pickle: bytes, members: dict[str, tuple[bytes, int]],
            pickle_method: int = 0) -> None:
    """A torch zip checkpoint written field by field: {key: (payload, zip method)}."""
    entries = [("archive/data.pkl", tp.compress(pickle, pickle_method), pickle_method,
                zlib.crc32(pickle), len(pickle), 0)]
    for key, (data, method) in members.items():
        entries.append((f"archive/data/{key}", tp.compress(data, method), method,
                        zlib.crc32(data), len(data), 0))
    tp.write_zip_members(path, entries)


def _one_float(key="w", size=(1,), stride=(1,)):
    return {key: ("0", "FloatStorage", 1, 0, size, stride)}


def _bzip2_bomb(path: Path) -> None:
    """A 700-byte file whose storage is a bzip2 member expanding to 272 MiB of zeros."""
    pickle = tp.state_pickle({"w": ("0", "FloatStorage", tp.BZIP2_ZEROS_SIZE // 4, 0, (4,),
                                    (1,))})
    tp.write_zip_members(path, [
        ("archive/data.pkl", pickle, 0, zlib.crc32(pickle), len(pickle), 0),
        ("archive/data/0", tp.BZIP2_ZEROS, 12, tp.BZIP2_ZEROS_CRC, tp.BZIP2_ZEROS_SIZE, 0)])


AUDIT_CASES = {
    "stride_0_view_of_2^28_elements": (
        lambda p: tp.write_zip(p, _one_float(size=(1 << 28,), stride=(0,)), {"0": FLOAT}),
        "more than 4 per byte of the file"),
    "four_such_views": (
        lambda p: tp.write_zip(p, {f"w{i}": ("0", "FloatStorage", 1, 0, (1 << 28,), (0,))
                                   for i in range(4)}, {"0": FLOAT}),
        "would hold 4294967296 bytes"),
    "legacy_stride_0_view": (
        lambda p: tp.write_legacy(p, _one_float(size=(1 << 14, 1 << 14), stride=(0, 0)),
                                  {"0": (1, FLOAT)}),
        "more than 4 per byte of the file"),
    "bzip2_member_of_272_mib": (_bzip2_bomb, "'archive/data/0' is compressed (zip method 12, "
                                             "bzip2)"),
    "deflated_pickle": (lambda p: _zip_of(p, tp.state_pickle(_one_float()),
                                          {"0": (FLOAT, 0)}, pickle_method=8),
                        "'archive/data.pkl' is compressed (zip method 8, deflate)"),
    "nested_lists_as_a_value": (
        lambda p: tp.write_zip(p, {"w": tp.nested("list", 60, 2)}, {}),
        "entries that are not tensors: 'w'"),
    "nested_lists_as_a_legacy_value": (
        lambda p: tp.write_legacy(p, {"w": tp.nested("list", 60, 2)}, {}),
        "entries that are not tensors: 'w'"),
    "nested_dicts_as_the_checkpoint": (
        lambda p: tp.write_zip(p, tp.nested("dict", 60, 2), {}),
        "entries that are not tensors: '0', '1'"),
    "nested_lists_in_a_size": (
        lambda p: tp.write_zip(p, _one_float(size=tp.Raw(b"(" + tp.nested("list", 60, 2)
                                                          + b"t")), {"0": FLOAT}),
        "size must be an integer in [0, 2^40], got a list of 2 items"),
    "nested_lists_as_a_size": (
        lambda p: tp.write_zip(p, _one_float(size=tp.nested("list", 60, 2)), {"0": FLOAT}),
        "got a list of 2 items and (1,)"),
    "nested_tuples_as_a_key": (
        lambda p: tp.write_zip(p, _one_float(key=tp.nested("tuple", 60, 2)), {"0": FLOAT}),
        "a dict key is a tuple of 2 items; expected a string or a number"),
    "nested_dicts_as_an_offset": (
        lambda p: tp.write_zip(p, {"w": ("0", "FloatStorage", 1, tp.nested("dict", 60, 2),
                                         (1,), (1,))}, {"0": FLOAT}),
        "storage offset must be an integer in [0, 2^40], got a dict of 2 items"),
    "integer_key": (lambda p: tp.write_zip(p, _one_float(key=3), {"0": FLOAT}),
                    "state_dict key 3 (int) is not a string"),
    "long_key": (lambda p: tp.write_zip(p, {"k" * 100_000: tp.Raw(b"N")}, {}),
                 "not tensors: 'kkkkkkkkkk"),
    "long_storage_key": (
        lambda p: tp.write_zip(p, {"w": ("s" * 100_000, "FloatStorage", 1, 0, (1,), (1,))},
                               {}),
        "missing tensor data 'archive/data/ssssss"),
    "a_set": (lambda p: p.write_bytes(b"\x80\x02]\x8f."),
                            "pickle opcode b'\\x8f' is not allowed"),
}


@pytest.mark.parametrize("case", sorted(AUDIT_CASES))
def test_the_audit_s_crafted_files_are_refused_in_one_short_line(tmp_path, case):
    write, message = AUDIT_CASES[case]
    path = tmp_path / "crafted.pth"
    write(path)
    start = time.perf_counter()
    with pytest.raises(ConversionError) as error:
        load_state_dict(path)
    assert time.perf_counter() - start < MAX_SECONDS
    text = str(error.value)
    assert message in text and text.startswith(str(path))
    assert "\n" not in text and len(text) <= MAX_MESSAGE, text


def test_a_small_broadcast_stays_a_read_only_view_of_the_file_s_data(tmp_path):
    """A stride-0 view within budget is read as torch reads it, but never expanded: its
    strides stay 0 and it cannot be written; a plain view is a contiguous array (0-d if its
    size is ())."""
    path = tmp_path / "broadcast.pth"
    data = np.arange(3, dtype=np.float32)
    tp.write_zip(path, {"row": ("0", "FloatStorage", 3, 0, (4, 3), (0, 1)),
                        "col": ("0", "FloatStorage", 3, 1, (2,), (1,)),
                        "scalar": ("0", "FloatStorage", 3, 2, (), ())}, {"0": data.tobytes()})
    state = load_state_dict(path)
    assert state["scalar"].shape == () and state["scalar"] == 2
    np.testing.assert_array_equal(state["row"], np.broadcast_to(data, (4, 3)))
    assert state["row"].strides[0] == 0 and not state["row"].flags.writeable
    np.testing.assert_array_equal(state["col"], data[1:])
    assert state["col"].flags.c_contiguous


def test_converter_messages_cut_long_and_unprintable_keys():
    from gnnpose_jax.models.torch_layout import listed

    text = listed(["k" * 100_000, "a\nb", "conv1.weight"])
    assert "\n" not in text and len(text) < 200
    assert "'a\\nb'" in text and "conv1.weight" in text and "(100000 long)" in text


@pytest.mark.parametrize("shape", [(), (3,), (0, 3, 3, 3)])
def test_converters_refuse_keys_of_the_wrong_shape_in_one_line(shape):
    """The keys the architecture is read from must be conv weights with output channels."""
    from gnnpose_jax.models import hrnet_convert, yolox_convert

    hrnet = {k: np.zeros(shape, np.float32) for k in ("conv1.weight", "layer1.0.conv1.weight",
                                                      "transition1.0.0.weight",
                                                      "final_layer.weight")}
    yolox = {yolox_convert.STEM_KEY: np.zeros(shape, np.float32),
             "head.cls_preds.0.weight": np.zeros(shape, np.float32)}
    for module, state in ((hrnet_convert, hrnet), (yolox_convert, yolox)):
        with pytest.raises(ConversionError, match="not a .* checkpoint"):
            module.torch_to_flax(state, source="x.pth")


# ------------------------------------------------------------------------------------------
# The property, over structurally crafted files.

_BIG = [1 << 28, 1 << 31, 1 << 40, (1 << 40) + 1, 1 << 62, -1, -(1 << 63), 1 << 70]
_SMALL = st.integers(0, 12)
_BOMB = st.builds(tp.nested, st.sampled_from(["list", "tuple", "dict"]), st.integers(1, 80),
                  st.integers(1, 4))
_FIELD = st.one_of(_SMALL, _SMALL, _SMALL, st.sampled_from(_BIG), _BOMB,
                   st.just(tp.Raw(b"N")), st.text(max_size=3))
_DIMS = st.one_of(st.lists(st.one_of(_SMALL, _SMALL, st.just(0), _FIELD), max_size=4),
                  _BOMB)
_STORAGE_TYPES = ["FloatStorage", "DoubleStorage", "HalfStorage", "LongStorage", "ByteStorage",
                  "BoolStorage", "UntypedStorage"]
_ITEMSIZE = {"FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "LongStorage": 8,
             "ByteStorage": 1, "BoolStorage": 1, "UntypedStorage": 1}
_NAMES = ["w", "conv1.weight", "final_layer.weight", "layer1.0.conv1.weight",
          "transition1.0.0.weight", "backbone.backbone.stem.conv.conv.weight"]
_HRNET_KEYS = ["conv1.weight", "layer1.0.conv1.weight", "transition1.0.0.weight",
               "final_layer.weight"]
_METHODS = [0] * 20 + [8, 12, 14, 99]


@st.composite
def _wild_tensor(draw):
    """Any field anything: huge, negative, nested, of the wrong type."""
    key = draw(st.one_of(st.sampled_from(["0", "0", "1", "2"]), _FIELD))
    storage = draw(st.sampled_from(_STORAGE_TYPES))
    numel = draw(st.one_of(_SMALL, st.integers(0, 1024), st.sampled_from(_BIG), _FIELD))
    offset = draw(st.one_of(_SMALL, st.just(0), _FIELD))
    size = draw(_DIMS)
    stride = draw(st.one_of(st.just([0] * len(size)) if isinstance(size, list) else _DIMS,
                            _DIMS))
    return key, storage, numel, offset, size, stride


@st.composite
def _plain_tensor(draw, storages: dict):
    """Well-typed small fields over one of `storages` ({key: (type, numel)}): the whole
    storage as a vector, or views that fit it or just miss it, broadcasts (of up to 2^28
    elements)."""
    key = draw(st.sampled_from(sorted(storages)))
    if draw(st.booleans()):
        return (key, *storages[key], 0, [storages[key][1]], [1])
    rank = draw(st.integers(0, 3))
    dims = st.one_of(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4),
                     st.sampled_from([1 << 14, 1 << 28]))
    size = draw(st.lists(dims, min_size=rank, max_size=rank))
    stride = draw(st.lists(st.integers(0, 3), min_size=rank, max_size=rank))
    return (key, *storages[key], draw(st.integers(0, 4)), size, stride)


@st.composite
def _crafted(draw) -> dict:
    """A checkpoint described field by field; `_write` makes the file."""
    names = st.one_of(st.sampled_from(_NAMES), st.text(max_size=8), st.integers(-3, 3),
                      st.sampled_from([200, 20_000]).map(lambda n: "k" * n), _BOMB)
    table = {k: (draw(st.sampled_from(_STORAGE_TYPES[:-1])), draw(st.integers(0, 64)))
             for k in ("0", "1", "2")}
    bomb = None if draw(st.integers(0, 5)) else draw(st.sampled_from(sorted(table)))
    if bomb is not None:  # its data: a bzip2 member of 272 MiB, as many elements declared
        table[bomb] = (table[bomb][0], tp.BZIP2_ZEROS_SIZE // _ITEMSIZE[table[bomb][0]])
    plain = _plain_tensor(table)
    values = st.one_of(plain, plain, _wild_tensor(), _BOMB, st.just(tp.Raw(b"N")))
    tensors = draw(st.dictionaries(names, values, min_size=1, max_size=4))
    if draw(st.integers(0, 2)):  # mostly names and plain tensors, the rest wild
        tensors = {k: draw(plain) for k in draw(
            st.lists(st.sampled_from(_NAMES), min_size=1, max_size=4, unique=True))}
    if draw(st.booleans()):  # the keys a pose HRNet's architecture is read from
        tensors.update({k: draw(plain) for k in _HRNET_KEYS})
    storages = {}
    for spec in tensors.values():
        if isinstance(spec, tuple) and spec[0] in ("0", "1", "2") and spec[0] not in storages:
            numel, itemsize = spec[2], _ITEMSIZE[spec[1]]
            fits = isinstance(numel, int) and 0 <= numel <= 1024
            length = numel * itemsize if fits and draw(st.integers(0, 9)) else draw(_SMALL)
            header = length // itemsize if draw(st.integers(0, 9)) else draw(_SMALL)
            storages[spec[0]] = (draw(st.binary(min_size=length, max_size=length)),
                                 draw(st.sampled_from(_METHODS)), header)
    return {"format": draw(st.sampled_from(["zip", "zip", "legacy"])), "tensors": tensors,
            "storages": storages, "bzip2_member": bomb if bomb in storages else None,
            "wrapper": draw(st.sampled_from([None] * 5 + ["state_dict", "model", "bomb"])),
            "pickle_method": draw(st.sampled_from(_METHODS))}


def _write(crafted: dict, path: Path) -> None:
    tensors, wrapper = crafted["tensors"], crafted["wrapper"]
    if wrapper == "bomb":  # the whole checkpoint is a nested list
        tensors, wrapper = tp.nested("list", 40, 3), None
    if crafted["format"] == "legacy":
        tp.write_legacy(path, tensors, {k: (numel, data) for k, (data, _, numel)
                                        in crafted["storages"].items()}, wrapper)
        return
    pickle = tp.state_pickle(tensors, wrapper=wrapper)
    members = {k: (data, method) for k, (data, method, _) in crafted["storages"].items()}
    _zip_of(path, pickle, members, crafted["pickle_method"])
    bomb = crafted["bzip2_member"]
    if bomb is not None:  # that storage's member is 272 MiB of bzip2 zeros
        entries = [("archive/data.pkl", pickle, 0, zlib.crc32(pickle), len(pickle), 0)]
        entries += [(f"archive/data/{k}", data, 0, zlib.crc32(data), len(data), 0)
                    for k, (data, _) in members.items() if k != bomb]
        entries.append((f"archive/data/{bomb}", tp.BZIP2_ZEROS, 12, tp.BZIP2_ZEROS_CRC,
                        tp.BZIP2_ZEROS_SIZE, 0))
        tp.write_zip_members(path, entries)


def crafted_files_child(examples: int) -> None:
    """Runs the property in this process (the test's subprocess) and prints a JSON summary."""
    import resource
    import signal
    import tempfile
    import tracemalloc

    from gnnpose_jax.models import hrnet_convert, yolox_convert

    vm = int(next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("VmSize:"))) << 10
    resource.setrlimit(resource.RLIMIT_AS, (vm + (2 << 30), resource.RLIM_INFINITY))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10
    folder = tempfile.TemporaryDirectory()

    def overtime(*_):  # a runaway in Python code fails its example rather than hang the test
        raise AssertionError(f"still running after {2 * MAX_SECONDS} s")

    signal.signal(signal.SIGALRM, overtime)
    outcomes = {"read": 0, "refused": 0, "examples": 0, "peak": 0, "seconds": 0.0}

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(crafted=_crafted())
    def check(crafted):
        path = Path(folder.name) / "crafted.pth"
        _write(crafted, path)
        size = path.stat().st_size
        assert size < MAX_FILE, size
        tracemalloc.start()  # only here: hypothesis itself would run many times slower
        signal.setitimer(signal.ITIMER_REAL, 2 * MAX_SECONDS)
        start = time.perf_counter()
        read = False
        try:
            state = load_state_dict(path)
            read = True
            assert sum(a.nbytes for a in state.values()) <= OUTPUT_BYTES_PER_INPUT_BYTE * size
            module = yolox_convert if yolox_convert.is_yolox_state_dict(state) else hrnet_convert
            module.torch_to_flax(state, source=str(path))  # the converter, short of writing
        except GnnPoseError as e:
            text = str(e)
            assert "\n" not in text and len(text) <= MAX_MESSAGE, text
            assert "MemoryError" not in text, text
        seconds = time.perf_counter() - start
        signal.setitimer(signal.ITIMER_REAL, 0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= _budget(size), f"{peak} bytes for a file of {size}"
        assert seconds <= MAX_SECONDS, f"{seconds:.1f} s"
        outcomes["examples"] += 1
        outcomes["read" if read else "refused"] += 1
        outcomes["peak"] = max(outcomes["peak"], peak)
        outcomes["seconds"] = max(outcomes["seconds"], seconds)

    check()
    folder.cleanup()
    outcomes["rss_growth"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10
                              ) - rss_before
    print(json.dumps(outcomes))


def test_every_small_crafted_file_is_converted_or_refused_within_budget():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")]),
           "JAX_PLATFORMS": "cpu"}
    code = ("from tests.models.test_torch_files_bounds import crafted_files_child; "
            f"crafted_files_child({PROPERTY_EXAMPLES})")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcomes["examples"] == PROPERTY_EXAMPLES
    # Both kinds occur: files the reader accepts (then the converter judges them) and not.
    assert outcomes["read"] > 0 and outcomes["refused"] > 0, outcomes
    assert outcomes["rss_growth"] <= _budget(MAX_FILE), outcomes
