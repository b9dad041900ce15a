"""The Flax YOLOX and its person boxes against the PyTorch reference of the official code:
parity, converted folders and files, the whole detector pipeline (its parts alone:
test_detect.py; conversion's refusals: test_yolox_convert.py).

Two tiny variants keep compilation short: `dense` (depth 0.33, width 0.125) takes every
non-depthwise path and `nano` is the official nano (depthwise convs). Parity runs on a 96×128
input, so that a swap of height and width anywhere shows; detection on a 96×96 letterbox.
"""

import copy
import sys

import jax
import numpy as np
import pytest
import torch

from benchmarks.torch_yolox import YOLOX, postprocess_persons, preproc, randomize_
from gnnpose_jax.errors import CheckpointError
from gnnpose_jax.models import detect, yolox, yolox_convert
from gnnpose_jax.models.torch_files import load_state_dict

INPUT = 96  # the letterbox size S
PARITY_HW = (96, 128)
VARIANTS = {"dense": dict(depth=0.33, width=0.125, depthwise=False),
            "nano": dict(depth=0.33, width=0.25, depthwise=True)}
PERSON_BIAS = 3.0  # added to the person logit, so that many anchors are persons
TOLERANCE = 1e-4  # max abs error / max magnitude, per output group


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Max abs error over max magnitude, the worst of the groups cx/cy, w/h, obj, classes."""
    groups = (slice(0, 2), slice(2, 4), slice(4, 5), slice(5, None))
    return max(float(np.abs(actual[..., g] - expected[..., g]).max()
                     / np.abs(expected[..., g]).max()) for g in groups)


def _nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


@pytest.fixture(scope="module", params=list(VARIANTS))
def reference(request, tmp_path_factory):
    """A seeded torch YOLOX, its official-style checkpoint, inputs and eval output (float32,
    and float64 as the exact function)."""
    images = np.random.default_rng(0).uniform(0, 255, (2, *PARITY_HW, 3)).astype(np.float32)
    model = randomize_(YOLOX(**VARIANTS[request.param]), seed=1, images=_nchw(images))
    with torch.no_grad():
        for bias in (pred.bias for pred in model.head.cls_preds):
            bias[0] += PERSON_BIAS
        output = model(_nchw(images)).numpy()
        exact = copy.deepcopy(model).double()(_nchw(images).double()).numpy()
    path = tmp_path_factory.mktemp(request.param) / f"yolox_{request.param}.pth"
    torch.save({"model": model.state_dict(), "start_epoch": 300}, path)
    return {"name": request.param, "model": model, "images": images, "output": output,
            "exact": exact, "path": path, "state": model.state_dict()}


@pytest.fixture(scope="module")
def converted(reference, tmp_path_factory):
    """The reference checkpoint converted to a directory by the library."""
    dst = tmp_path_factory.mktemp("converted") / reference["name"]
    yolox_convert.convert_checkpoint(reference["path"], dst)
    return dst


@pytest.mark.parametrize("fold_bn", [False, True], ids=["plain", "folded"])
def test_raw_output_matches_torch(reference, converted, fold_bn):
    module, variables = yolox.load_yolox(converted, fold_bn=fold_bn)
    out = np.asarray(jax.jit(module.apply)(variables, reference["images"]))
    assert out.shape == reference["output"].shape == (2, 12 * 16 + 6 * 8 + 3 * 4, 85)
    error = _relative_error(out, reference["output"])
    exact_error = _relative_error(out, reference["exact"])
    print(f"{reference['name']} fold_bn={fold_bn}: relative error {error:.1e} "
          f"(to the float64 forward: {exact_error:.1e})")
    assert error < TOLERANCE and exact_error < TOLERANCE


def test_variant_is_inferred(reference):
    config = yolox_convert.infer_config(yolox_convert.normalise_keys(
        load_state_dict(reference["path"])))
    if reference["name"] == "nano":
        assert config == yolox.NANO  # official multipliers and input size, not 1/3
    else:
        assert (config.stem_channels, config.backbone_blocks, config.fpn_blocks,
                config.depthwise, config.num_classes) == (8, 1, 1, False, 80)


def test_presets_have_the_official_parameter_counts():
    """The YOLOX README's parameter counts (millions), from the shapes alone."""
    official = {"nano": 0.91, "tiny": 5.06, "s": 9.0, "m": 25.3, "l": 54.2, "x": 99.1}
    for name, config in yolox.PRESETS.items():
        _, abstract = yolox.init_yolox_abstract(config)
        count = sum(leaf.size for leaf in jax.tree.leaves(abstract["params"]))
        assert round(count / 1e6, 2 if name in ("nano", "tiny") else 1) == official[name], name


def test_cli_round_trip_is_bitwise(reference, tmp_path, monkeypatch):
    """pth → Flax directory → safetensors gives back every official key, bit for bit, and
    loads strictly into the official module tree."""
    from convert_weights.__main__ import main

    for argv in ((reference["path"], tmp_path / "flax"),
                 (tmp_path / "flax", tmp_path / "back.safetensors")):
        monkeypatch.setattr(sys, "argv", ["convert_weights", *map(str, argv)])
        main()
    back = load_state_dict(tmp_path / "back.safetensors")
    assert set(back) == set(reference["state"])
    for key, value in reference["state"].items():
        if key.endswith("num_batches_tracked"):  # not converted: written as 0
            assert back[key].dtype == np.int64 and back[key].size == 1 and not back[key].any()
        else:
            assert back[key].dtype == np.float32, key
            np.testing.assert_array_equal(back[key], value.numpy(), err_msg=key)
    model = YOLOX(**VARIANTS[reference["name"]]).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in back.items()}, strict=True)


def test_cli_refuses_in_one_line_and_writes_nothing(reference, tmp_path, monkeypatch, capsys):
    from convert_weights.__main__ import main
    from gnnpose_jax.cli import run_cli

    state = dict(reference["state"])
    state["head.cls_preds.1.bias"] = torch.full_like(state["head.cls_preds.1.bias"], torch.inf)
    torch.save({"model": state}, tmp_path / "bad.pth")
    for argv in (["bad.pth", "out"], [reference["path"], "out", "--input-size", "640x480"]):
        monkeypatch.setattr(sys, "argv", ["convert_weights", *map(str, argv)])
        monkeypatch.chdir(tmp_path)
        with pytest.raises(SystemExit) as exit_info:
            run_cli(main)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.count("\n") == 1, err
        assert ("head.cls_preds.1.bias" in err) if argv[0] == "bad.pth" else ("square" in err)
        assert not (tmp_path / "out").exists()


def test_load_refuses_a_non_yolox_directory(tmp_path):
    with pytest.raises(CheckpointError, match="not a converted YOLOX checkpoint"):
        yolox.load_yolox(tmp_path)


@pytest.mark.parametrize("reference", ["dense"], indirect=True)  # one variant is enough
def test_detector_matches_the_torch_pipeline_and_compiles_once(reference, converted):
    """RGB frames of several sizes → the same person boxes as official preproc + torch model +
    official postprocess, in one compilation."""
    conf, nms = 0.55, 0.45
    module, variables = yolox.load_yolox(converted)
    detector = detect.PersonDetector(module, variables, conf=conf, nms=nms, batch_size=2,
                                     input_size=INPUT)
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8)
              for shape in ((72, 120, 3), (150, 90, 3), (96, 96, 3))]
    found = detector.detect(frames)
    assert detector._forward._cache_size() == 1
    assert len(found) == len(frames)
    for frame, boxes in zip(frames, found, strict=True):
        image, ratio = preproc(np.ascontiguousarray(frame[..., ::-1]), INPUT)
        with torch.no_grad():
            raw = reference["model"](torch.from_numpy(image[None]))[0]
        expected = postprocess_persons(raw, 80, conf, nms, ratio).numpy()
        _assert_no_decision_near_a_threshold(raw.numpy(), conf, nms)
        assert 0 < len(expected) == len(boxes)
        scale = np.abs(expected).max(0)
        assert (np.abs(boxes - expected) / scale).max() < TOLERANCE
    np.testing.assert_array_equal(detector(frames[2]), found[2])


def _assert_no_decision_near_a_threshold(raw: np.ndarray, conf: float, nms: float) -> None:
    """Float32 differences between two networks flip no score or IoU decision of this input."""
    score = raw[:, 4] * raw[:, 5:].max(1)
    assert np.abs(score - conf).min() > 1e-4
    person = (score >= conf) & (raw[:, 5:].argmax(1) == 0)
    cx, cy, w, h = raw[person, :4].T.astype(np.float64)
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    iw = np.clip(np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1), 0, None)
    ih = np.clip(np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1), 0, None)
    inter = iw * ih
    iou = inter / (w * h + (w * h)[:, None] - inter)
    assert np.abs(iou - nms).min() > 1e-4
