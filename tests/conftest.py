"""Shared fixtures. Paths: the real PoseTrack samples live in ../shared beside the checkout."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "data" / "posetrack18_samples"

# Tests run JAX on the CPU whatever the machine has; multi-device tests start their own
# subprocesses with XLA_FLAGS set.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# XLA's CPU backend without LLVM's optimisation passes: the tests run tiny networks, so their
# time is mostly compiling, and this halves it (test_heatmap_merge.py: 49 to 26 CPU-s). It
# changes no operation, only how well the machine code is optimised; subprocesses inherit it
# (a test that sets its own XLA_FLAGS keeps these in front).
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = ("--xla_backend_optimization_level=0 "
                               + os.environ.get("XLA_FLAGS", "")).strip()

# One persistent compilation cache per test run, shared by the xdist workers and every
# subprocess a test starts (they inherit the environment): the tiny networks are compiled once
# per run instead of once per process, which cuts the suite's CPU time by about a fifth. It
# starts empty (CI measures cold compiles); the process that made it deletes it at the end.
_OWN_CACHE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _OWN_CACHE = tempfile.mkdtemp(prefix="gnnpose-jax-test-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")


def pytest_unconfigure(config):
    """Deletes the run's compilation cache, in the process that made it."""
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The real PoseTrack 2018 samples; tests needing them skip if the folder is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} not found")
    return SAMPLES
