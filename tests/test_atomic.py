"""Atomic writes: whole or absent, and created with the umask's usual mode (not mkstemp's 0600)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from gnnpose_jax import atomic


@pytest.fixture
def umask_022():
    """Runs the test under umask 022 (files 0644, folders 0755), then restores the old one."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_writer_creates_files_with_the_umask_mode(tmp_path, umask_022):
    from gnnpose_jax.data.posetrack import write_json_atomic
    from gnnpose_jax.models.hrnet import HRNet, HRNetConfig, save_hrnet
    from gnnpose_jax.models.torch_files import save_safetensors
    from gnnpose_jax.tracking.video import VideoWriter
    from gnnpose_jax.viz.draw import write_png

    write_json_atomic({"a": 1}, tmp_path / "out.json")
    save_safetensors({"w": np.zeros(3, np.float32)}, tmp_path / "w.safetensors")
    write_png(tmp_path / "frame.png", np.zeros((8, 8, 3), np.uint8))
    writer = VideoWriter(tmp_path / "clip.mp4", 5.0, (16, 16))
    writer.write(np.zeros((16, 16, 3), np.uint8))
    writer.close()
    for name in ("out.json", "w.safetensors", "frame.png", "clip.mp4"):
        assert _mode(tmp_path / name) == 0o644, name

    import jax

    config = HRNetConfig(width=4, stem_channels=8, layer1_blocks=1, layer1_planes=4,
                         stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1), num_joints=3)
    variables = jax.eval_shape(lambda: HRNet(config).init(jax.random.key(0),
                                                          np.zeros((1, 64, 32, 3))))
    variables = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), variables)
    save_hrnet(tmp_path / "hrnet", config, variables)
    assert _mode(tmp_path / "hrnet") == 0o755
    assert _mode(tmp_path / "hrnet" / "hrnet.json") == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "keep.txt"
    atomic.write_text(path, "old")
    with pytest.raises(RuntimeError), atomic.atomic_file(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_a_failed_folder_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic.atomic_dir(tmp_path / "ckpt") as tmp:
        (tmp / "part").write_text("x")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_temporaries_keep_the_suffix_last(tmp_path):
    tmp = atomic.temporary_sibling(tmp_path / "video.mp4")
    assert tmp.suffix == ".mp4" and tmp.name.startswith(".video.") and tmp.exists()


def test_paths_replace_their_targets_together(tmp_path, umask_022):
    folder, file = tmp_path / "images" / "val", tmp_path / "detections" / "val.json"
    folder.mkdir(parents=True)
    (folder / "old.jpg").write_text("old")
    with atomic.atomic_paths([folder, file]) as (new_folder, new_file):
        assert not new_folder.exists() and new_file.name == "val.json"
        new_folder.mkdir()
        (new_folder / "new.jpg").write_text("new")
        new_file.write_text("[]")
        assert not file.exists()  # nothing changes before the block ends
    assert [p.name for p in folder.iterdir()] == ["new.jpg"] and file.read_text() == "[]"
    assert _mode(folder) == 0o755 and _mode(file) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["detections", "images"]  # no staging


def test_a_failed_block_or_rename_keeps_every_old_target(tmp_path, monkeypatch):
    folder, file = tmp_path / "d", tmp_path / "f.json"
    folder.mkdir()
    (folder / "x").write_text("old")
    file.write_text("old")

    def write(new_folder, new_file):
        new_folder.mkdir()
        (new_folder / "x").write_text("new")
        new_file.write_text("new")

    with pytest.raises(RuntimeError), atomic.atomic_paths([folder, file]) as news:
        write(*news)
        raise RuntimeError("interrupted")
    real_replace = os.replace

    def replace(src, dst):  # the last rename, the new file onto its target, fails
        if dst == file and src.name == "f.json":
            raise OSError(28, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="No space"), atomic.atomic_paths([folder, file]) as news:
        write(*news)
    assert (folder / "x").read_text() == "old" and file.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "f.json"]


def test_a_pending_file_changes_its_path_only_on_commit(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_text("old")
    pending = atomic.PendingFile(path)
    assert pending.tmp.suffix == ".mp4" and pending.tmp.parent == tmp_path
    pending.tmp.write_text("new")
    assert path.read_text() == "old"
    pending.commit()
    assert path.read_text() == "new" and not pending.tmp.exists()
    dropped = atomic.PendingFile(path)
    dropped.tmp.write_text("half")
    dropped.discard()
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def _folder(path, text: str) -> None:
    path.mkdir()
    (path / "weights").write_text(text)


def test_replace_dir_swaps_the_whole_folder_in(tmp_path, umask_022):
    target = tmp_path / "run" / "hrnet"
    target.parent.mkdir()
    _folder(target, "old")
    (target / "stale").write_text("only in the old export")

    def write(new):
        assert not new.exists() and new.name == "hrnet" and target.parent in new.parents
        _folder(new, "new")
        assert (target / "weights").read_text() == "old"  # readers still see the old one

    atomic.replace_dir(target, write)
    assert sorted(p.name for p in target.iterdir()) == ["weights"]
    assert (target / "weights").read_text() == "new" and _mode(target) == 0o755
    assert [p.name for p in target.parent.iterdir()] == ["hrnet"]  # no staging left
    atomic.replace_dir(tmp_path / "fresh", lambda new: _folder(new, "first"))
    assert (tmp_path / "fresh" / "weights").read_text() == "first"


def test_replace_dir_keeps_the_old_folder_on_failure_or_scratch(tmp_path):
    target = tmp_path / "gnn"
    _folder(target, "old")

    def fail(new):
        _folder(new, "half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic.replace_dir(target, fail)
    written = []
    atomic.replace_dir(target, lambda new: written.append(_folder(new, "scratch")), publish=False)
    assert written and (target / "weights").read_text() == "old"
    atomic.replace_dir(tmp_path / "absent", lambda new: _folder(new, "x"), publish=False)
    assert [p.name for p in tmp_path.iterdir()] == ["gnn"]
