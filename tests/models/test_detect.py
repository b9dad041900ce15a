"""Person boxes as the official YOLOX demo finds them (gnnpose_jax.models.detect): postprocess,
NMS and the letterbox against the official code (benchmarks/torch_yolox.py)."""

import jax
import numpy as np
import pytest
import torch

from benchmarks.torch_yolox import postprocess_persons, preproc
from gnnpose_jax.models import detect

INPUT = 96  # the letterbox size S


def _synthetic_predictions(seed: int, frames: int = 3, anchors: int = 400) -> np.ndarray:
    """Decoded-output-like rows: clustered overlapping boxes, some off the image's left and top
    edges, many person argmaxes, a few exactly tied scores."""
    rng = np.random.default_rng(seed)
    pred = np.zeros((frames, anchors, 85), np.float32)
    centres = rng.uniform(-10, 200, (frames, 12, 2))
    pred[..., :2] = (centres[:, rng.integers(0, 12, anchors)]
                     + rng.normal(0, 6, (frames, anchors, 2)))
    pred[..., 2:4] = rng.uniform(8, 60, (frames, anchors, 2))
    pred[..., 4] = rng.uniform(0, 1, (frames, anchors))
    pred[..., 5:] = rng.uniform(0, 1, (frames, anchors, 80)) ** 3
    person = rng.uniform(size=(frames, anchors)) < 0.7
    pred[..., 5] = np.where(person, rng.uniform(0.5, 1, (frames, anchors)), pred[..., 5])
    pred[:, 1::50] = pred[:, 0:1]  # identical rows: equal scores, IoU 1
    return pred


@pytest.mark.parametrize("conf, nms", [(0.25, 0.45), (0.001, 0.65), (0.3, 0.3)],
                         ids=["demo", "coco-eval", "threshold-rounds-up"])
def test_person_boxes_identical_to_official_postprocess(conf, nms):
    pred = _synthetic_predictions(seed=int(conf * 1000))
    ratios = np.float32([0.5, 1.0, 640 / 1917])
    find = jax.jit(lambda p, r: detect.person_boxes(p, r, conf, nms, max_boxes=300))
    boxes, valid = jax.device_get(find(pred, ratios))
    for frame in range(len(pred)):
        expected = postprocess_persons(torch.from_numpy(pred[frame]), 80, conf, nms,
                                       float(ratios[frame])).numpy()
        assert 0 < len(expected) < 300
        np.testing.assert_array_equal(boxes[frame][valid[frame]], expected)
        assert not boxes[frame][~valid[frame]].any()


def test_person_boxes_fewer_candidates_and_boxes_give_the_official_prefix():
    pred = _synthetic_predictions(seed=5)
    ratios = np.ones(3, np.float32)
    find = jax.jit(lambda p, r: detect.person_boxes(p, r, 0.25, 0.45, max_boxes=4, candidates=40))
    boxes, valid = jax.device_get(find(pred, ratios))
    for frame in range(len(pred)):
        expected = postprocess_persons(torch.from_numpy(pred[frame]), 80, 0.25, 0.45, 1.0)
        assert valid[frame].all()
        np.testing.assert_array_equal(boxes[frame], expected[:4].numpy())


def test_nms_threshold_is_strict_and_compared_in_double():
    """IoU exactly 0.5 at threshold 0.5 keeps both boxes; IoU float32(0.3), just above 0.3,
    suppresses at threshold 0.3 (torchvision compares the float32 IoU in double)."""
    pred = np.zeros((1, 2, 85), np.float32)
    pred[0, :, 4], pred[0, :, 5] = (0.9, 0.8), 1.0
    for (small_w, thr, kept) in ((5.0, 0.5, 2), (3.0, 0.3, 1)):
        # Boxes [0, 0, 10, 1] and [0, 0, w, 1]: IoU = w / 10.
        pred[0, :, :4] = [[5.0, 0.5, 10.0, 1.0], [small_w / 2, 0.5, small_w, 1.0]]
        find = jax.jit(lambda p, r, thr=thr: detect.person_boxes(p, r, 0.25, thr, max_boxes=5))
        _, valid = find(pred, np.ones(1, np.float32))
        expected = postprocess_persons(torch.from_numpy(pred[0]), 80, 0.25, thr, 1.0)
        assert int(valid.sum()) == len(expected) == kept


def test_letterbox_is_the_official_preproc():
    rng = np.random.default_rng(3)
    for h, w in ((50, 77), (123, 40), (96, 96)):
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        image, ratio = detect.letterbox(frame, INPUT)
        expected, expected_ratio = preproc(frame, INPUT)
        assert ratio == expected_ratio
        np.testing.assert_array_equal(image, expected.transpose(1, 2, 0))
