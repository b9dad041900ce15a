"""Box AP (gnnpose_jax.evaluation.box_ap) against pycocotools' COCOeval on random detections,
and a hand-computed case."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from gnnpose_jax.evaluation import box_ap


def _coco_ap(detections, ground_truth):
    """COCOeval's bbox AP@[.5:.95] and AP@0.5 of one category."""
    coco_mod = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    gt = coco_mod.COCO()
    boxes = [(i, b) for i, image_boxes in enumerate(ground_truth) for b in image_boxes]
    anns = [{"id": k + 1, "image_id": i, "category_id": 1, "bbox": list(map(float, b)),
             "area": float(b[2] * b[3]), "iscrowd": 0} for k, (i, b) in enumerate(boxes)]
    gt.dataset = {"images": [{"id": i} for i in range(len(ground_truth))], "annotations": anns,
                  "categories": [{"id": 1, "name": "person"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes([{"image_id": i, "category_id": 1, "bbox": list(map(float, d[:4])),
                          "score": float(d[4])} for i, dets in enumerate(detections)
                         for d in dets])
        ev = cocoeval.COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[0], ev.stats[1]


def _random_case(seed: int):
    """Eight images: 0-5 GTs each, detections near them (some duplicates) and far off; odd
    seeds draw scores from three values, so that ties in score are exercised."""
    rng = np.random.default_rng(seed)
    detections, ground_truth = [], []
    for _ in range(8):
        n = int(rng.integers(0, 6))
        gts = np.concatenate([rng.uniform(0, 200, (n, 2)), rng.uniform(10, 80, (n, 2))], axis=1)
        near = gts[rng.integers(0, n, int(rng.integers(0, 8)))] if n else np.zeros((0, 4))
        near = near + rng.normal(0, 6, near.shape)
        near[:, 2:] = np.abs(near[:, 2:]) + 1
        noise = np.concatenate([rng.uniform(0, 200, (3, 2)), rng.uniform(10, 80, (3, 2))], 1)
        boxes = np.concatenate([near, noise])
        scores = rng.choice([0.3, 0.5, 0.9], len(boxes)) if seed % 2 else rng.random(len(boxes))
        detections.append(np.concatenate([boxes, scores[:, None]], axis=1).round(2))
        ground_truth.append(gts.round(2))
    return detections, ground_truth


@pytest.mark.parametrize("seed", range(6))
def test_matches_pycocotools(seed):
    detections, ground_truth = _random_case(seed)
    ours = box_ap.box_ap(detections, ground_truth)
    coco, coco50 = _coco_ap(detections, ground_truth)
    assert ours["box_ap"] == pytest.approx(coco, abs=1e-12)
    assert ours["box_ap50"] == pytest.approx(coco50, abs=1e-12)


def test_hand_computed_case():
    # Two GTs; detections by score: hit, miss, hit. Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1;
    # made non-increasing: 1 up to recall 0.5, then 2/3. 101 points: 51 at 1, 50 at 2/3.
    gts = [np.array([[0, 0, 10, 10]]), np.array([[50, 50, 10, 10]])]
    dets = [np.array([[0, 0, 10, 10, 0.9], [30, 30, 10, 10, 0.8]]),
            np.array([[50, 50, 10, 10, 0.7]])]
    expected = (51 + 50 * 2 / 3) / 101
    assert box_ap.box_ap(dets, gts)["box_ap50"] == pytest.approx(expected)
    assert np.isnan(box_ap.box_ap(dets, [np.zeros((0, 4))] * 2)["box_ap"])


def test_detections_centred_in_ignore_regions_do_not_count():
    # One GT; a confident false positive (precision 1/2 at the only recall, AP 0.5) whose
    # centre (105, 105) is inside the square region is removed, so the hit alone gives AP 1.
    # A detection centred on the region's edge stays.
    gts = [np.array([[0, 0, 10, 10]])]
    region = [np.array([[100, 100], [120, 100], [120, 120], [100, 120]], np.float64)]
    dets = [np.array([[100, 100, 10, 10, 0.95], [0, 0, 10, 10, 0.9]])]
    assert box_ap.box_ap(dets, gts)["box_ap50"] == pytest.approx(0.5)
    assert box_ap.box_ap(dets, gts, [region])["box_ap50"] == pytest.approx(1.0)
    on_edge = [np.array([[95, 95, 10, 10, 0.95], [0, 0, 10, 10, 0.9]])]
    assert box_ap.box_ap(on_edge, gts, [region])["box_ap50"] == pytest.approx(0.5)
    # No regions at all is the same as an empty list per image.
    assert box_ap.box_ap(dets, gts, [[]]) == box_ap.box_ap(dets, gts)
