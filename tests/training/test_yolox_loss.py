"""The YOLOX loss and SimOTA (gnnpose_jax.training.yolox_loss) against the PyTorch reference of
the official algorithm (tests/helpers/torch_yolox_loss.py) on random small batches: the same
foreground anchors, matched GTs and IoUs, loss terms and gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from gnnpose_jax.training import yolox_loss
from tests.helpers import torch_yolox_loss

INPUT_HW = (64, 96)
NUM_ANCHORS = 8 * 12 + 4 * 6 + 2 * 3
SLOTS = 6


def _case(seed: int, counts=(3, 0, 5), num_classes: int = 2):
    """Random raw outputs and GTs (some overlapping pairs, so that anchors are contested)."""
    rng = np.random.default_rng(seed)
    n = len(counts)
    raw = np.concatenate([rng.normal(0, 0.5, (n, NUM_ANCHORS, 2)),
                          rng.normal(1.5, 0.6, (n, NUM_ANCHORS, 2)),
                          rng.normal(0, 2.0, (n, NUM_ANCHORS, 1 + num_classes))], -1)
    boxes = np.zeros((n, SLOTS, 4))
    classes = np.zeros((n, SLOTS), np.int64)
    mask = np.zeros((n, SLOTS), bool)
    for i, count in enumerate(counts):
        centres = rng.uniform([4, 4], [INPUT_HW[1] - 4, INPUT_HW[0] - 4], (count, 2))
        if count > 1:  # a near twin of the first GT
            centres[1] = centres[0] + rng.normal(0, 3, 2)
        sizes = rng.uniform(6, 48, (count, 2))
        boxes[i, :count] = np.concatenate([centres, sizes], -1)
        classes[i, :count] = rng.integers(0, num_classes, count)
        mask[i, :count] = True
    return raw.astype(np.float32), boxes.astype(np.float32), classes, mask


def _reference(raw, boxes, classes, mask, use_l1):
    """The torch loss (and its gradient w.r.t. the raw outputs) of a case."""
    raw_t = torch.tensor(raw, requires_grad=True)
    gts = [(torch.tensor(b[m]), torch.tensor(c[m])) for b, c, m in zip(boxes, classes, mask,
                                                                     strict=True)]
    out = torch_yolox_loss.yolox_loss(raw_t, gts, INPUT_HW, use_l1)
    out["total"].backward()
    out["grad"] = raw_t.grad.numpy()
    return out


def _loss(raw, boxes, classes, mask, use_l1):
    terms, assignment = yolox_loss.yolox_loss(raw, boxes, classes, mask, INPUT_HW, use_l1)
    return terms.total / jnp.maximum(terms.num_fg, 1.0), (terms, assignment)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("use_l1", [False, True])
def test_matches_the_official_algorithm(seed, use_l1):
    raw, boxes, classes, mask = _case(seed)
    ref = _reference(raw, boxes, classes, mask, use_l1)
    grad_fn = jax.jit(jax.grad(_loss, has_aux=True), static_argnums=4)
    grad, (terms, assignment) = grad_fn(raw, boxes, classes, mask, use_l1)
    fg = np.asarray(assignment.foreground)
    for i in range(len(raw)):
        np.testing.assert_array_equal(fg[i], ref["fg"][i].numpy(), err_msg=f"image {i}")
        np.testing.assert_array_equal(np.asarray(assignment.matched_gt)[i][fg[i]],
                                      ref["matched"][i].numpy())
        np.testing.assert_allclose(np.asarray(assignment.matched_iou)[i][fg[i]],
                                   ref["matched_iou"][i].numpy(), rtol=1e-5)
    assert int(terms.num_fg) == ref["num_fg"] > 0
    for name in ("iou", "obj", "cls") + (("l1",) if use_l1 else ()):
        np.testing.assert_allclose(float(getattr(terms, name)), float(ref[name].detach()),
                                   rtol=1e-5, err_msg=name)
    if not use_l1:
        assert float(terms.l1) == 0.0
    total = float(terms.total) / int(terms.num_fg)
    np.testing.assert_allclose(total, float(ref["total"].detach()), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), ref["grad"], rtol=1e-4,
                               atol=1e-6 * np.abs(ref["grad"]).max())


def test_contested_anchors_keep_their_cheapest_gt():
    """Two identical GTs want the same anchors: each anchor goes to exactly one of them, and
    the shared ones to the lower cost (the first GT, on a tie, as torch's argmin)."""
    raw, boxes, classes, mask = _case(0, counts=(2,), num_classes=1)
    boxes[0, 1] = boxes[0, 0]
    ref = _reference(raw, boxes, classes, mask, False)
    _, (terms, assignment) = _loss(raw, boxes, classes, mask, False)
    fg = np.asarray(assignment.foreground)[0]
    np.testing.assert_array_equal(fg, ref["fg"][0].numpy())
    np.testing.assert_array_equal(np.asarray(assignment.matched_gt)[0][fg],
                                  ref["matched"][0].numpy())
    assert (np.asarray(assignment.matched_gt)[0][fg] == 0).all()


def test_an_image_without_gts_only_trains_objectness():
    raw, boxes, classes, mask = _case(1, counts=(0,))
    terms, assignment = yolox_loss.yolox_loss(raw, boxes, classes, mask, INPUT_HW, True)
    assert not np.asarray(assignment.foreground).any()
    assert float(terms.num_fg) == float(terms.iou) == float(terms.cls) == float(terms.l1) == 0
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(raw[0, :, 4]), torch.zeros(NUM_ANCHORS), reduction="sum")
    np.testing.assert_allclose(float(terms.obj), float(expected), rtol=1e-5)
