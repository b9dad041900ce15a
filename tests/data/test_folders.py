"""Where the data lives (gnnpose_jax.data.folders): training and tracking find it by the same
rules."""

from __future__ import annotations

from pathlib import Path

import ml_collections
import pytest

from gnnpose_jax.errors import ConfigError, DataError


def test_training_and_tracking_find_the_data_by_the_same_rules(tmp_path, monkeypatch):
    from gnnpose_jax.data import folders
    from gnnpose_jax.tracking.split import dataset_folder

    monkeypatch.setenv("HOME", str(tmp_path))

    def data(**fields):
        return ml_collections.ConfigDict(
            {"source": "synthetic", "root": "", "manual_dir": "", **fields})

    world = tmp_path / "run" / folders.DEFAULT_WORLD_DIR
    assert folders.data_root(data(), tmp_path / "run") == world
    assert dataset_folder(data(), tmp_path / "run") == world
    assert dataset_folder(data(source="folder", root="~/pt"), "run") == tmp_path / "pt"
    tfds = data(source="tfds", root="~/tfds")
    assert folders.data_root(tfds, "run") == tmp_path / "tfds"
    assert dataset_folder(tfds, "run") == tmp_path / "tfds" / "downloads" / "manual"
    assert dataset_folder(data(source="tfds", root="~/tfds", manual_dir="~/rel"),
                          "run") == tmp_path / "rel"
    assert dataset_folder(data(source="folder"), "run", Path("x")) == Path("x")
    with pytest.raises(ConfigError, match="data.root is empty"):
        folders.data_root(data(source="folder"), "run")
    with pytest.raises(DataError, match="pass --data DIR"):
        dataset_folder(data(source="tfds"), "run")
