"""The Flax HRNet against the PyTorch reference on the same random weights, via every format.

The W32 model is compiled once per session (tens of seconds); everything else shares it.
"""

import dataclasses
import subprocess
import sys

import jax
import numpy as np
import pytest
import torch

from gnnpose_jax.models import hrnet, hrnet_convert
from gnnpose_jax.models.torch_files import load_state_dict, save_safetensors
from tests.helpers.torch_hrnet import build_torch_hrnet, randomize_

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


def test_mmpose_prefixes(tmp_path):
    model = randomize_(build_torch_hrnet(**_torch_kwargs(TINY)), 3)
    state = model.state_dict()
    plain = hrnet_convert.torch_to_flax({k: v.numpy() for k, v in state.items()})[1]
    for head in ("keypoint_head.", "head."):
        wrapped = {"meta": {"epoch": 210}, "state_dict": {
            (head if k.startswith("final_layer") else "backbone.") + k: v
            for k, v in state.items()}}
        path = tmp_path / f"mmpose_{head.strip('.')}.pth"
        torch.save(wrapped, path)
        _, variables = hrnet_convert.torch_to_flax(load_state_dict(path))
        jax.tree_util.tree_map(np.testing.assert_array_equal, plain, variables)


def test_converted_parameter_counts():
    for config, expected in ((hrnet.W32, 28_536_113), (hrnet.W48, 63_595_745)):
        _, abstract = hrnet.init_hrnet_abstract(config)
        assert sum(x.size for x in jax.tree_util.tree_leaves(abstract["params"])) == expected


# --- bad input -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_state():
    model = randomize_(build_torch_hrnet(**_torch_kwargs(TINY)), 5)
    return {k: v.clone() for k, v in model.state_dict().items()}


def _convert_cli(src, dst):
    return subprocess.run([sys.executable, "-m", "convert_weights", str(src), str(dst)],
                          capture_output=True, text=True, timeout=120)


def _assert_refused(src, dst, *needles):
    result = _convert_cli(src, dst)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not dst.exists()
    assert not any(p.name.startswith(f".{dst.name}.") for p in dst.parent.iterdir())


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zip_format", [True, False])
def test_refuses_pickle_that_runs_code(tmp_path, zip_format):
    marker = tmp_path / "pwned"
    src = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(1), "x": _RunsCode(marker)}, src,
               _use_new_zipfile_serialization=zip_format)
    _assert_refused(src, tmp_path / "out", "refusing to unpickle", "system")
    assert not marker.exists()


def test_cli_converts_and_refuses_truncated(tmp_path, tiny_state):
    src = tmp_path / "pose_hrnet_w8_256x192.pth"
    torch.save(tiny_state, src, _use_new_zipfile_serialization=False)
    ok = _convert_cli(src, tmp_path / "good")
    assert ok.returncode == 0, ok.stderr
    assert hrnet.read_hrnet_json(tmp_path / "good")["input_hw"] == [256, 192]
    for kind, zip_format in (("zip", True), ("legacy", False)):
        full = tmp_path / f"full_{kind}.pth"
        torch.save(tiny_state, full, _use_new_zipfile_serialization=zip_format)
        cut = tmp_path / f"cut_{kind}.pth"
        cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        _assert_refused(cut, tmp_path / f"out_{kind}", str(cut))


def _refused(state, *needles):
    with pytest.raises(hrnet_convert.ConversionError) as err:
        hrnet_convert.torch_to_flax({k: v.numpy() for k, v in state.items()}, source="ckpt.pth")
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_refuses_non_hrnet():
    _refused(torch.nn.Linear(3, 4).state_dict(), "not a pose HRNet", "conv1.weight")


def test_refuses_missing_and_extra_keys(tiny_state):
    state = dict(tiny_state)
    del state["stage3.1.branches.2.0.bn1.running_var"]
    _refused(state, "missing keys", "stage3.1.branches.2.0.bn1.running_var")
    state = dict(tiny_state)
    state["stage2.0.fuse_layers.0.1.2.weight"] = torch.zeros(3)
    _refused(state, "unexpected keys", "stage2.0.fuse_layers.0.1.2.weight")


def test_refuses_shape_mismatch_and_nan(tiny_state):
    state = dict(tiny_state)
    state["stage2.0.branches.1.0.conv2.weight"] = torch.zeros(16, 16, 3, 1)
    _refused(state, "shape mismatch", "stage2.0.branches.1.0.conv2.weight")
    state = dict(tiny_state)
    bad = state["layer1.1.bn2.running_var"].clone()
    bad[3] = float("nan")
    state["layer1.1.bn2.running_var"] = bad
    _refused(state, "NaN or Inf", "layer1.1.bn2.running_var")


def test_load_hrnet_on_wrong_directory(tmp_path):
    from gnnpose_jax.errors import CheckpointError

    with pytest.raises(CheckpointError, match="not a converted HRNet checkpoint"):
        hrnet.load_hrnet(tmp_path)


def test_refuses_existing_destination(tmp_path, tiny_state):
    src = tmp_path / "m.pth"
    torch.save(tiny_state, src)
    dst = tmp_path / "exists"
    dst.mkdir()
    (dst / "keep.txt").write_text("user data")
    result = _convert_cli(src, dst)
    assert result.returncode == 2 and "already exists" in result.stderr
    assert (dst / "keep.txt").read_text() == "user data"
