"""`python -m convert_weights`: converts, and refuses (pickles that run code, truncated files,
an existing destination) in one line, writing nothing."""

import dataclasses
import os
import subprocess
import sys

import pytest
import torch

from benchmarks.torch_hrnet import build_torch_hrnet, randomize_
from gnnpose_jax.models import hrnet

# A tiny width that also exercises every depth option (not the official depth anywhere).
TINY = hrnet.HRNetConfig(width=8, num_joints=15, stem_channels=16, layer1_blocks=2,
                         layer1_planes=16, stage_modules=(1, 2, 1), stage_blocks=(2, 1, 3))


def _torch_kwargs(config: hrnet.HRNetConfig) -> dict:
    d = dataclasses.asdict(config)
    return {"width": d.pop("width"), **d}


@pytest.fixture(scope="module")
def tiny_state():
    model = randomize_(build_torch_hrnet(**_torch_kwargs(TINY)), 5)
    return {k: v.clone() for k, v in model.state_dict().items()}


def _convert_cli(src, dst):
    return subprocess.run([sys.executable, "-m", "convert_weights", str(src), str(dst)],
                          capture_output=True, text=True, timeout=120)


def _assert_refused(src, dst, *needles):
    result = _convert_cli(src, dst)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not dst.exists()
    assert not any(p.name.startswith(f".{dst.name}.") for p in dst.parent.iterdir())


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zip_format", [True, False])
def test_refuses_pickle_that_runs_code(tmp_path, zip_format):
    marker = tmp_path / "pwned"
    src = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(1), "x": _RunsCode(marker)}, src,
               _use_new_zipfile_serialization=zip_format)
    _assert_refused(src, tmp_path / "out", "refusing to unpickle", "system")
    assert not marker.exists()


def test_cli_converts_and_refuses_truncated(tmp_path, tiny_state):
    src = tmp_path / "pose_hrnet_w8_256x192.pth"
    torch.save(tiny_state, src, _use_new_zipfile_serialization=False)
    ok = _convert_cli(src, tmp_path / "good")
    assert ok.returncode == 0, ok.stderr
    assert hrnet.read_hrnet_json(tmp_path / "good")["input_hw"] == [256, 192]
    for kind, zip_format in (("zip", True), ("legacy", False)):
        full = tmp_path / f"full_{kind}.pth"
        torch.save(tiny_state, full, _use_new_zipfile_serialization=zip_format)
        cut = tmp_path / f"cut_{kind}.pth"
        cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        _assert_refused(cut, tmp_path / f"out_{kind}", str(cut))


def test_refuses_existing_destination(tmp_path, tiny_state):
    src = tmp_path / "m.pth"
    torch.save(tiny_state, src)
    dst = tmp_path / "exists"
    dst.mkdir()
    (dst / "keep.txt").write_text("user data")
    result = _convert_cli(src, dst)
    assert result.returncode == 2 and "already exists" in result.stderr
    assert (dst / "keep.txt").read_text() == "user data"


def test_refuses_an_unwritable_destination_before_reading_the_source(tmp_path):
    """DST is checked first: a source that would fail (here, not a checkpoint at all) is not
    even read when DST cannot be written, converting or exporting."""
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for src, dst in ((garbage, blocker / "out"), (tmp_path, blocker / "w.safetensors")):
        result = _convert_cli(src, dst)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"error: DST {dst}: {blocker} is a file, not a folder")
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        _assert_refused(garbage, locked / "out", "DST", "permission denied")
