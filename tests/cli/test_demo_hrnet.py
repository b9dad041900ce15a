"""`python -m gnnpose_jax.demo_hrnet`: the samples folder is an argument, and the checkpoint goes
through the pose-network loader, so a COCO network's eyes become PoseTrack's head joints."""

import sys

import numpy as np
import pytest

from benchmarks.random_weights import write_hrnet_pth
from gnnpose_jax import demo_hrnet
from gnnpose_jax.data.joints import HEAD_BOTTOM, HEAD_TOP, SHOULDERS
from gnnpose_jax.errors import DataError
from tests.helpers.tiny_runs import HRNET_PTH, TINY


def test_a_missing_samples_folder_is_one_line(tmp_path, monkeypatch, capsys):
    with pytest.raises(DataError, match="no such folder .*test_posetrack18_val.json"):
        demo_hrnet.run_demo(tmp_path / "nowhere", tmp_path / "out", None, 0.5, 8)
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(sys, "argv", ["demo_hrnet", str(tmp_path / "empty"),
                                      "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as info:
        demo_hrnet.run_cli(demo_hrnet.main)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'empty' / demo_hrnet.ANNOTATIONS}: not found")
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_a_coco_checkpoint_is_drawn_in_posetrack_slots(tmp_path, samples_dir, monkeypatch,
                                                       capsys):
    checkpoint = tmp_path / HRNET_PTH  # an official-layout file: COCO joints assumed
    write_hrnet_pth(checkpoint, TINY)
    drawn = []
    monkeypatch.setattr(demo_hrnet, "draw_pose",
                        lambda image, keypoints, *args, **kwargs: drawn.append(keypoints))
    written = demo_hrnet.run_demo(samples_dir, tmp_path / "out", checkpoint, 0.5, 8)
    assert sorted(p.name for p in written) == ["003418_mpii_test_000000.png",
                                               "009473_mpii_test_000000.png",
                                               "012834_mpii_test_000000.png"]
    assert all(p.is_file() for p in written)
    assert "COCO joints" in capsys.readouterr().out
    assert len(drawn) > 10
    # coco_to_posetrack puts both head joints on the ray from the shoulders' midpoint m:
    # head_bottom = m + (c - m) / 3 and head_top = m + 5 (c - m) / 3. Raw COCO eyes would not.
    for keypoints in drawn:
        m = keypoints[list(SHOULDERS), :2].mean(0)
        np.testing.assert_allclose(keypoints[HEAD_TOP, :2] - m,
                                   5 * (keypoints[HEAD_BOTTOM, :2] - m), atol=1e-6)
