"""The Flax HRNet and YOLOX against outputs of the official PyTorch code, stored as fixtures.

`tests/fixtures/official/regenerate.py` built the official networks (HRNet's
`lib/models/pose_hrnet.get_pose_net` with a reduced W8 config; YOLOX's
`exps/default/yolox_nano.py`), loaded seeded weights that are exact in float32 (int8 mantissas
times powers of two), and stored the weights in the official state-dict layout, the input and
what the official code returned: HRNet's heatmaps, YOLOX's decoded output and
`yolox.utils.postprocess` boxes. Here the weights go through the project's converters.
"""

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from gnnpose_jax.models import detect, hrnet, hrnet_convert, yolox, yolox_convert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "official"
TOLERANCE = 1e-4  # max abs error / max magnitude (per output group for YOLOX)


def _fixture(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(arrays, official-layout state dict as float32) of a stored network."""
    with np.load(FIXTURES / name) as data:
        arrays = {k: data[k] for k in data.files}
    flat, state, start = arrays.pop("weights_q"), {}, 0
    for key, shape, exp in json.loads(str(arrays.pop("weights_index"))):
        size = int(np.prod(shape))
        q = flat[start:start + size].reshape(shape)
        state[key] = q.astype(np.float32) * np.float32(2.0 ** -exp)
        start += size
    assert start == flat.size
    return arrays, state


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def test_hrnet_heatmaps_as_official():
    arrays, state = _fixture("hrnet_w8.npz")
    config, variables = hrnet_convert.torch_to_flax(state, source="hrnet_w8.npz")
    assert (config.width, config.num_joints, config.stage_modules, config.stage_blocks) == (
        8, 17, (1, 2, 1), (2, 1, 1))
    images = arrays["input"].transpose(0, 2, 3, 1)
    out = jax.jit(hrnet.HRNet(config).apply)(variables, images)
    heatmaps = np.asarray(out.heatmaps).transpose(0, 3, 1, 2)
    expected = arrays["heatmaps"]
    assert heatmaps.shape == expected.shape == (1, 17, 16, 16)
    assert _relative_error(heatmaps, expected) < TOLERANCE


@pytest.fixture(scope="module")
def nano():
    arrays, state = _fixture("yolox_nano.npz")
    config, variables = yolox_convert.torch_to_flax(state, source="yolox_nano.npz")
    images = arrays["input"].transpose(0, 2, 3, 1)
    arrays["ours"] = np.asarray(jax.jit(yolox.YOLOX(config).apply)(variables, images))
    arrays["config"] = config
    return arrays


def test_yolox_nano_decoded_output_as_official(nano):
    config = nano["config"]
    assert (config.depth, config.width, config.depthwise, config.num_classes) == (
        0.33, 0.25, True, 80)
    ours, official = nano["ours"], nano["decoded"]
    assert ours.shape == official.shape == (1, 12 * 12 + 6 * 6 + 3 * 3, 85)
    for group in (slice(0, 2), slice(2, 4), slice(4, 5), slice(5, None)):
        assert _relative_error(ours[..., group], official[..., group]) < TOLERANCE


def _person_boxes(decoded: np.ndarray, nano) -> np.ndarray:
    """Our postprocess's person boxes as the official rows: x1, y1, x2, y2, score."""
    found = detect.person_boxes(decoded, np.ones(1, np.float32), float(nano["conf"]),
                                float(nano["nms"]), max_boxes=100)
    boxes = np.asarray(found.boxes[0])[np.asarray(found.valid[0])]
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:4], boxes[:, 4:]], axis=1)


def _official_person_boxes(nano) -> np.ndarray:
    rows = nano["boxes"][nano["boxes"][:, 6] == detect.PERSON_CLASS]
    return np.concatenate([rows[:, :4], rows[:, 4:5] * rows[:, 5:6]], axis=1)


def test_postprocess_on_official_output_as_official(nano):
    """The same decoded output in: the same person boxes out, in the same order."""
    official = _official_person_boxes(nano)
    assert 10 < len(official) < len(nano["boxes"])  # other classes' boxes are left out
    ours = _person_boxes(nano["decoded"], nano)
    assert ours.shape == official.shape
    np.testing.assert_allclose(ours, official, rtol=1e-6, atol=1e-4)


def test_detector_on_official_weights_as_official(nano):
    """Our network and postprocess end to end: the official boxes within the tolerance."""
    official = _official_person_boxes(nano)
    ours = _person_boxes(nano["ours"], nano)
    assert ours.shape == official.shape
    assert _relative_error(ours[:, :4], official[:, :4]) < TOLERANCE
    assert _relative_error(ours[:, 4], official[:, 4]) < TOLERANCE
