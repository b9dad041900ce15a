"""The Flax HRNet against the PyTorch reference on the same random weights, via every format.

The W32 model is compiled once per session (tens of seconds); everything else shares it.
"""

import dataclasses

import jax
import numpy as np
import pytest
import torch

from benchmarks.torch_hrnet import build_torch_hrnet, randomize_
from gnnpose_jax.models import hrnet, hrnet_convert
from gnnpose_jax.models.torch_files import load_state_dict, save_safetensors

INPUT_HW = (384, 288)  # even sizes: odd ones would hide the stride-2 padding bug
# A tiny width that also exercises every depth option (not the official depth anywhere).
TINY = hrnet.HRNetConfig(width=8, num_joints=15, stem_channels=16, layer1_blocks=2,
                         layer1_planes=16, stage_modules=(1, 2, 1), stage_blocks=(2, 1, 3))


def _torch_kwargs(config: hrnet.HRNetConfig) -> dict:
    d = dataclasses.asdict(config)
    return {"width": d.pop("width"), **d}


def _save_all_formats(model: torch.nn.Module, directory) -> dict:
    """Writes the state dict as zip .pth, legacy .pth and .safetensors."""
    state = model.state_dict()
    paths = {"zip": directory / "model_zip.pth", "legacy": directory / "model_legacy.pth",
             "safetensors": directory / "model.safetensors"}
    torch.save(state, paths["zip"])
    torch.save(state, paths["legacy"], _use_new_zipfile_serialization=False)
    save_safetensors({k: v.numpy() for k, v in state.items()}, paths["safetensors"])
    return paths


def _reference(config, seed, tmp_path_factory):
    model = randomize_(build_torch_hrnet(**_torch_kwargs(config)), seed)
    directory = tmp_path_factory.mktemp(f"w{config.width}")
    paths = _save_all_formats(model, directory)
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((2, *INPUT_HW, 3)).astype(np.float32)
    with torch.no_grad():
        heat, feat = model(torch.from_numpy(images.transpose(0, 3, 1, 2)))
    return {"model": model, "paths": paths, "images": images, "dir": directory,
            "heatmaps": heat.numpy().transpose(0, 2, 3, 1),
            "features": feat.numpy().transpose(0, 2, 3, 1)}


@pytest.fixture(scope="session", params=["w32", "tiny"])
def reference(request, tmp_path_factory):
    config = hrnet.W32 if request.param == "w32" else TINY
    return config, _reference(config, seed=7, tmp_path_factory=tmp_path_factory)


def _apply(config, variables, images, fold_bn=False):
    module = hrnet.HRNet(config, fold_bn=fold_bn)
    out = jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, images)
    return np.asarray(out.heatmaps), np.asarray(out.features)


def test_parity_every_format(reference):
    config, ref = reference
    converted = {}
    for kind, path in ref["paths"].items():
        inferred, variables = hrnet_convert.torch_to_flax(load_state_dict(path), source=str(path))
        assert inferred == config, kind
        converted[kind] = variables
    # All three serialisations convert to bitwise the same variables ...
    for kind in ("legacy", "safetensors"):
        jax.tree_util.tree_map(np.testing.assert_array_equal, converted["zip"], converted[kind])
    # ... which compute the PyTorch model's outputs.
    heat, feat = _apply(config, converted["zip"], ref["images"])
    assert heat.shape == (2, INPUT_HW[0] // 4, INPUT_HW[1] // 4, config.num_joints)
    assert feat.shape == (2, INPUT_HW[0] // 4, INPUT_HW[1] // 4, 3 * config.width)
    assert np.abs(ref["heatmaps"]).max() > 1e-2, "degenerate reference"
    assert np.abs(heat - ref["heatmaps"]).max() < 1e-3
    assert np.abs(feat - ref["features"]).max() / np.abs(ref["features"]).max() < 1e-4


def test_flax_to_torch_layout_round_trip(reference, tmp_path):
    config, ref = reference
    _, variables = hrnet_convert.torch_to_flax(load_state_dict(ref["paths"]["zip"]))
    back = hrnet_convert.flax_to_torch(variables)
    original = {k: v.numpy() for k, v in ref["model"].state_dict().items()}
    assert set(back) == set(original)
    for key, value in original.items():
        if not key.endswith("num_batches_tracked"):
            np.testing.assert_array_equal(back[key], value, err_msg=key)
    # ... and through a checkpoint directory, the .safetensors export and a reconversion.
    ckpt = tmp_path / "ckpt"
    hrnet.save_hrnet(ckpt, config, variables, INPUT_HW)
    hrnet_convert.export_safetensors(ckpt, tmp_path / "back.safetensors")
    _, again = hrnet_convert.torch_to_flax(load_state_dict(tmp_path / "back.safetensors"))
    jax.tree_util.tree_map(np.testing.assert_array_equal, variables, again)
    # The export loads strictly into the PyTorch model.
    fresh = build_torch_hrnet(**_torch_kwargs(config))
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in
                           load_state_dict(tmp_path / "back.safetensors").items()}, strict=True)


def test_load_hrnet_and_folded_bn_match_reference(reference, tmp_path):
    config, ref = reference
    if config.width != TINY.width:
        pytest.skip("the folded graph is checked on the tiny width (W32's is in the benchmark)")
    dst = tmp_path / "converted"
    hrnet_convert.convert_checkpoint(ref["paths"]["legacy"], dst, input_hw=INPUT_HW)
    meta = hrnet.read_hrnet_json(dst)
    assert meta["config"] == config and meta["input_hw"] == list(INPUT_HW)
    module, variables = hrnet.load_hrnet(dst, fold_bn=True)
    heat, feat = _apply(module.config, variables, ref["images"], fold_bn=True)
    assert np.abs(heat - ref["heatmaps"]).max() < 1e-3
    assert np.abs(feat - ref["features"]).max() / np.abs(ref["features"]).max() < 1e-4


def test_converted_parameter_counts():
    for config, expected in ((hrnet.W32, 28_536_113), (hrnet.W48, 63_595_745)):
        _, abstract = hrnet.init_hrnet_abstract(config)
        assert sum(x.size for x in jax.tree_util.tree_leaves(abstract["params"])) == expected


def test_load_hrnet_on_wrong_directory(tmp_path):
    from gnnpose_jax.errors import CheckpointError

    with pytest.raises(CheckpointError, match="not a converted HRNet checkpoint"):
        hrnet.load_hrnet(tmp_path)
