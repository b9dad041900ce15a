"""The run folder's exports: an export replaces the previous one whole, and only process 0 of a
multi-process run publishes it."""

import jax
import numpy as np
import pytest

from gnnpose_jax.models import hrnet, run_folder

CONFIG = hrnet.HRNetConfig(width=4, stem_channels=8, layer1_blocks=1, layer1_planes=4,
                           stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1))


def _variables(value: float) -> dict:
    """The tiny HRNet's variables, every entry `value` (no init compiled)."""
    abstract = hrnet.init_hrnet_abstract(CONFIG)[1]
    return jax.tree.map(lambda x: np.full(x.shape, value, x.dtype), abstract)


def _first_kernel(directory) -> float:
    _, variables = hrnet.load_hrnet(directory)
    return float(np.ravel(jax.tree.leaves(variables["params"])[0])[0])


def test_an_export_replaces_the_previous_one(tmp_path):
    target = tmp_path / run_folder.HRNET_EXPORT
    run_folder.export_hrnet(target, CONFIG, _variables(1.0), (64, 48))
    (target / "left_over").write_text("from the first export")
    run_folder.export_hrnet(target, CONFIG, _variables(2.0), (64, 48))
    assert _first_kernel(target) == 2.0 and not (target / "left_over").exists()
    assert [p.name for p in tmp_path.iterdir()] == [run_folder.HRNET_EXPORT]


@pytest.mark.parametrize("existing", [True, False])
def test_other_processes_write_a_scratch_copy(tmp_path, monkeypatch, existing):
    target = tmp_path / run_folder.HRNET_EXPORT
    if existing:
        run_folder.export_hrnet(target, CONFIG, _variables(1.0), (64, 48))
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    run_folder.export_hrnet(target, CONFIG, _variables(2.0), (64, 48))
    assert [p.name for p in tmp_path.iterdir()] == ([target.name] if existing else [])
    if existing:
        assert _first_kernel(target) == 1.0
