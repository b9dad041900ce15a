"""Ctrl-C (SIGINT) and SIGTERM stop a command cleanly (gnnpose_jax.cli.run_cli): exit status
130 or 143 with one line saying so, no crash (Ctrl-C during `track` used to end in a
segmentation fault), the previous outputs intact and no temporary file left behind. Real
processes, signalled once they are writing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gnnpose_jax.data import synthetic
from tests.helpers.tiny_runs import build_world_and_workdir, frame_detections

ROOT = Path(__file__).resolve().parents[2]
STATUS = {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated")}


def _contents(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


def _stop(argv: list, signum: int, started) -> subprocess.CompletedProcess:
    """Runs `python argv`, sends `signum` as soon as `started()` is true, waits for the end."""
    proc = subprocess.Popen([sys.executable, *map(str, argv)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not started() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the command ended before it could be stopped"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _check_stopped(result, signum):
    status, line = STATUS[signum]
    assert result.returncode == status, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == line


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_synthetic_world_stopped_keeps_the_old_split(tmp_path, signum):
    out = tmp_path / "world"
    synthetic.generate_world(out, seed=0, num_videos=1, split="val", num_frames=2,
                             image_hw=(64, 64))
    before = _contents(out)
    staging = lambda: any(p.name.startswith(".") for p in out.iterdir())  # noqa: E731
    result = _stop(["-m", "gnnpose_jax.data.synthetic", "--out", out, "--seed", "1", "--videos",
                    "200", "--frames", "20", "--split", "val", "--overwrite"], signum, staging)
    _check_stopped(result, signum)
    assert _contents(out) == before  # the old split, and no staging folder


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """A run folder with tiny random networks, and a 40-frame clip with its detections."""
    base = tmp_path_factory.mktemp("signals")
    _, workdir = build_world_and_workdir(base)
    clip = base / "clip"
    synthetic.generate_world(clip, seed=2, num_videos=1, split="val", num_frames=40,
                             image_hw=(96, 128))
    frames, dets = frame_detections(clip, base)
    return workdir, frames, dets


def test_track_interrupted_mid_run_keeps_old_outputs(long_clip, tmp_path):
    # Signalled once the render's temporary file exists. The crash this guards against
    # (a segmentation fault at interpreter teardown, JAX's threads still at work) came only
    # with some timings; `run_cli` now ends with `os._exit`. SIGTERM takes the same path,
    # tested on the synthetic world above.
    signum = signal.SIGINT
    workdir, frames, dets = long_clip
    out = tmp_path / "out"
    out.mkdir()
    (out / "pred.json").write_text("old predictions")
    (out / "r.mp4").write_bytes(b"old video")
    before = _contents(out)
    rendering = lambda: any(p.name.startswith(".") for p in out.iterdir())  # noqa: E731
    result = _stop(["-m", "gnnpose_jax.track", frames, "--workdir", workdir, "--detections",
                    dets, "--output", out / "pred.json", "--render", out / "r.mp4"], signum,
                   rendering)
    _check_stopped(result, signum)
    assert _contents(out) == before  # no temporary video left beside the old one
