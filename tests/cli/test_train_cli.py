"""`python train.py`: a bad flag or config value is one error line (exit status 2)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.micro_config import ROOT


def test_train_cli_reports_bad_flags_in_one_line(tmp_path):
    cmd = [sys.executable, str(ROOT / "train.py"), "--config", "configs/synthetic_hrnet.py",
           "--workdir", str(tmp_path), "--config.batchsize=8"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --config.batchsize: no such key in configs/synthetic_hrnet.py; nearest valid "
        "key: batch_size"]


def test_a_custom_variant_key_under_an_official_variant_is_one_error_line(tmp_path):
    cmd = [sys.executable, str(ROOT / "train.py"), "--config", "configs/posetrack18_yolox_s.py",
           "--workdir", str(tmp_path / "run"), "--config.detector.depth=0.5"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: detector.depth 0.5 is read only by detector.variant 'custom' (variant 's' has "
        "depth 0.33): leave it unset or set detector.variant=custom"]
    assert not (tmp_path / "run").exists()
