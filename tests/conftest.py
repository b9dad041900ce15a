"""Shared fixtures. Paths: the real PoseTrack samples live in ../shared beside the checkout."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "data" / "posetrack18_samples"

# Tests run JAX on the CPU whatever the machine has; multi-device tests start their own
# subprocesses with XLA_FLAGS set.
os.environ.setdefault("JAX_PLATFORMS", "cpu")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The real PoseTrack 2018 samples; tests needing them skip if the folder is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} not found")
    return SAMPLES
