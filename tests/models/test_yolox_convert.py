"""YOLOX checkpoint conversion (gnnpose_jax.models.yolox_convert): what it refuses, in one line."""

import numpy as np
import pytest
import torch

from benchmarks.torch_yolox import YOLOX, randomize_
from gnnpose_jax.errors import ConversionError
from gnnpose_jax.models import yolox_convert

VARIANTS = {"dense": dict(depth=0.33, width=0.125, depthwise=False),
            "nano": dict(depth=0.33, width=0.25, depthwise=True)}


def _nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


@pytest.fixture(scope="module")
def dense_state():
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    model = randomize_(YOLOX(**VARIANTS["dense"]), seed=2, images=_nchw(images))
    return {k: v.numpy() for k, v in model.state_dict().items()}


def _refused(state, *needles):
    with pytest.raises(ConversionError) as err:
        yolox_convert.torch_to_flax(state, source="yolox.pth")
    message = str(err.value)
    assert "\n" not in message and message.startswith("yolox.pth: ")
    for needle in needles:
        assert needle in message, message


def test_refuses_missing_unused_misshapen_and_non_finite(dense_state):
    key = "backbone.C3_n3.m.0.conv2.bn.running_mean"
    _refused({k: v for k, v in dense_state.items() if k != key}, "missing keys", key)
    _refused({**dense_state, "head.obj_preds.3.bias": np.zeros(1, np.float32)},
             "unexpected keys", "head.obj_preds.3.bias")
    key = "head.reg_convs.1.0.conv.weight"
    _refused({**dense_state, key: dense_state[key][:, :-1]}, "shape mismatch", key)
    key = "backbone.backbone.dark3.1.conv1.conv.weight"
    bad = dense_state[key].copy()
    bad[0, 0, 0, 0] = np.nan
    _refused({**dense_state, key: bad}, "NaN or Inf", key)
    key = "backbone.lateral_conv0.bn.running_var"
    bad = dense_state[key].copy()
    bad[2] = -0.5
    _refused({**dense_state, key: bad}, "negative BatchNorm variances", key)


def test_refuses_other_architectures(dense_state):
    hrnet_like = {"conv1.weight": np.zeros((64, 3, 3, 3), np.float32)}
    assert not yolox_convert.is_yolox_state_dict(hrnet_like)
    assert yolox_convert.is_yolox_state_dict(dense_state)
    _refused(hrnet_like, "not a YOLOX checkpoint", yolox_convert.STEM_KEY)
