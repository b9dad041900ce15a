"""Converted networks' folders (gnnpose_jax.models.restore): written whole, read back exactly,
and refused in one line when the weights do not match their description."""

import json

import jax
import numpy as np
import pytest

from gnnpose_jax.errors import CheckpointError
from gnnpose_jax.models.restore import VARIABLES_DIR, restore_variables, save_variables

VARIABLES = {"params": {"conv": {"kernel": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
                                 "bias": np.array([0.5, -1.0, 2.0, 3.0], np.float32)},
                        "head": {"bias": np.zeros(3, np.float32)}}}


def _abstract(variables):
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), variables)


def test_round_trip_writes_the_description_and_the_exact_weights(tmp_path):
    folder = tmp_path / "net"
    save_variables(folder, VARIABLES_DIR, VARIABLES, "net.json", {"width": 4})
    assert json.loads((folder / "net.json").read_text()) == {"width": 4}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net"]  # no staging folder left
    restored = restore_variables(folder, VARIABLES_DIR, _abstract(VARIABLES), "Net")
    jax.tree.map(np.testing.assert_array_equal, restored, VARIABLES)
    with pytest.raises(FileExistsError):  # never overwritten
        save_variables(folder, VARIABLES_DIR, VARIABLES, "net.json", {"width": 8})
    assert json.loads((folder / "net.json").read_text()) == {"width": 4}


def test_weights_that_do_not_match_the_description_are_refused(tmp_path):
    save_variables(tmp_path / "net", VARIABLES_DIR, VARIABLES, "net.json", {})
    wider = {"params": {**VARIABLES["params"],
                        "conv": {**VARIABLES["params"]["conv"],
                                 "bias": np.zeros(5, np.float32)}}}
    with pytest.raises(CheckpointError, match=r"Net weights do not match its description \(params"
                                              r"/conv/bias has shape \(4,\), expected \(5,\)"):
        restore_variables(tmp_path / "net", VARIABLES_DIR, _abstract(wider), "Net")
    extra = {"params": {**VARIABLES["params"], "tail": {"bias": np.zeros(1, np.float32)}}}
    with pytest.raises(CheckpointError, match=r"net: Net checkpoint .*'tail'") as info:
        restore_variables(tmp_path / "net", VARIABLES_DIR, _abstract(extra), "Net")
    assert "\n" not in str(info.value)


def test_a_missing_or_damaged_folder_is_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="Net checkpoint is damaged or incomplete") as info:
        restore_variables(tmp_path / "none", VARIABLES_DIR, _abstract(VARIABLES), "Net")
    assert "\n" not in str(info.value)
