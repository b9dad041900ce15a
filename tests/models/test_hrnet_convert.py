"""HRNet checkpoint conversion (gnnpose_jax.models.hrnet_convert): MMPose prefixes, and what it
refuses, in one line."""

import dataclasses

import jax
import numpy as np
import pytest
import torch

from benchmarks.torch_hrnet import build_torch_hrnet, randomize_
from gnnpose_jax.models import hrnet, hrnet_convert
from gnnpose_jax.models.torch_files import load_state_dict

# A tiny width that also exercises every depth option (not the official depth anywhere).
TINY = hrnet.HRNetConfig(width=8, num_joints=15, stem_channels=16, layer1_blocks=2,
                         layer1_planes=16, stage_modules=(1, 2, 1), stage_blocks=(2, 1, 3))


def _torch_kwargs(config: hrnet.HRNetConfig) -> dict:
    d = dataclasses.asdict(config)
    return {"width": d.pop("width"), **d}


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


@pytest.fixture(scope="module")
def tiny_state():
    model = randomize_(build_torch_hrnet(**_torch_kwargs(TINY)), 5)
    return {k: v.clone() for k, v in model.state_dict().items()}


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
