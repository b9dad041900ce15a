"""A run killed with SIGKILL mid-training and resumed ends bitwise where an uninterrupted run ends.

Three `python train.py` subprocesses share a compilation cache (so only the first compiles):
an uninterrupted run; the same run killed once a checkpoint is on disk and before it
finishes; and that run started again in its workdir, which resumes from the checkpoint (state,
base key and grain iterator position). The final checkpoints must hold identical bytes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

ROOT = Path(__file__).resolve().parents[2]
STEPS = 30
OVERRIDES = {
    "hrnet.width": 4, "hrnet.stem_channels": 8, "hrnet.layer1_planes": 4,
    "hrnet.stage_blocks": "(1,1,1)", "hrnet.input_hw": "(64,32)",
    "data.synthetic_train_videos": 2, "data.synthetic_val_videos": 1,
    "data.synthetic_frames": 8, "data.synthetic_image_hw": "(96,128)",
    "data.max_val_examples": 8, "batch_size": 4, "num_train_steps": STEPS,
    "log_every_steps": 5, "eval_every_epochs": 0.0, "checkpoint_every_epochs": 0.0,
    "checkpoint_every_steps": 5, "eval_at_start": False, "progress_bar": False,
}


def _command(workdir: Path) -> list[str]:
    """The train.py command line of the test run."""
    return [sys.executable, str(ROOT / "train.py"), "--config", "configs/synthetic_hrnet.py",
            "--workdir", str(workdir)] + [f"--config.{k}={v}" for k, v in OVERRIDES.items()]


def _env(cache: Path) -> dict[str, str]:
    """One CPU device and a shared persistent compilation cache."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    env["XLA_FLAGS"] = " ".join(f for f in env.get("XLA_FLAGS", "").split()
                                if not f.startswith("--xla_force_host_platform_device_count"))
    return env


def _steps(workdir: Path) -> list[int]:
    """Completed checkpoint steps in a workdir (Orbax renames a checkpoint when it is whole)."""
    folder = workdir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def _final_state(workdir: Path) -> list[np.ndarray]:
    """Every array of the step-STEPS checkpoint's state item."""
    with ocp.StandardCheckpointer() as ckptr:
        state = ckptr.restore(workdir / "checkpoints" / str(STEPS) / "state")
    return [np.asarray(x) for x in jax.tree.leaves(state)]


def test_sigkill_then_resume_is_bitwise_identical(tmp_path):
    env = _env(tmp_path / "cache")
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = subprocess.run(_command(straight), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    proc = subprocess.Popen(_command(killed), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not _steps(killed) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    still_running = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert still_running, "the run ended before it could be killed"
    at_kill = _steps(killed)
    assert at_kill and STEPS not in at_kill

    resumed = subprocess.run(_command(killed), cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {killed} from step" in resumed.stderr + resumed.stdout
    a, b = _final_state(straight), _final_state(killed)
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()
