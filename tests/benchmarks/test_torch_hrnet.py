"""The PyTorch reference HRNet has the official layout, counts and outputs (docs/spec/hrnet.md)."""

import re

import pytest
import torch
from torch import nn

from benchmarks.torch_hrnet import build_torch_hrnet, randomize_

# The state-dict key patterns of docs/spec/hrnet.md §3, with BN suffixes spelled out.
_BN = r"\.(weight|bias|running_mean|running_var|num_batches_tracked)"
_KEY_PATTERNS = [re.compile(p + "$") for p in (
    r"conv[12]\.weight", r"bn[12]" + _BN,
    r"layer1\.[0-3]\.conv[123]\.weight", r"layer1\.[0-3]\.bn[123]" + _BN,
    r"layer1\.0\.downsample\.0\.weight", r"layer1\.0\.downsample\.1" + _BN,
    r"transition1\.0\.0\.weight", r"transition1\.0\.1" + _BN,
    r"transition1\.1\.0\.0\.weight", r"transition1\.1\.0\.1" + _BN,
    r"transition2\.2\.0\.0\.weight", r"transition2\.2\.0\.1" + _BN,
    r"transition3\.3\.0\.0\.weight", r"transition3\.3\.0\.1" + _BN,
    r"stage[234]\.\d\.branches\.\d\.[0-3]\.conv[12]\.weight",
    r"stage[234]\.\d\.branches\.\d\.[0-3]\.bn[12]" + _BN,
    r"stage[234]\.\d\.fuse_layers\.\d\.\d\.0\.weight",
    r"stage[234]\.\d\.fuse_layers\.\d\.\d\.1" + _BN,
    r"stage[234]\.\d\.fuse_layers\.\d\.\d\.\d\.0\.weight",
    r"stage[234]\.\d\.fuse_layers\.\d\.\d\.\d\.1" + _BN,
    r"final_layer\.(weight|bias)",
)]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run torch single-threaded: on shared CPUs its spinning workers are many times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _meta_model(width, **kwargs):
    """Build on the meta device: shapes and counts without allocating 250 MB."""
    with torch.device("meta"):
        return build_torch_hrnet(width, **kwargs)


def _count(model, kind):
    """Number of submodules of type `kind`."""
    return sum(isinstance(m, kind) for m in model.modules())


@pytest.mark.parametrize(("width", "params"), [(32, 28_536_113), (48, 63_595_745)])
def test_official_counts(width, params):
    model = _meta_model(width)
    assert sum(p.numel() for p in model.parameters()) == params
    assert len(model.state_dict()) == 1754
    assert _count(model, nn.Conv2d) == 293
    assert _count(model, nn.BatchNorm2d) == 292


@pytest.mark.parametrize("width", [32, 48])
def test_key_names_and_shapes(width):
    sd = _meta_model(width).state_dict()
    unmatched = [k for k in sd if not any(p.match(k) for p in _KEY_PATTERNS)]
    assert unmatched == []
    w = width
    expected = {
        "conv1.weight": (64, 3, 3, 3),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "transition1.0.0.weight": (w, 256, 3, 3),
        "transition1.1.0.0.weight": (2 * w, 256, 3, 3),
        "transition2.2.0.0.weight": (4 * w, 2 * w, 3, 3),
        "transition3.3.0.0.weight": (8 * w, 4 * w, 3, 3),
        "stage2.0.fuse_layers.0.1.0.weight": (w, 2 * w, 1, 1),
        "stage4.0.fuse_layers.3.0.0.0.weight": (w, w, 3, 3),
        "stage4.0.fuse_layers.3.0.2.0.weight": (8 * w, w, 3, 3),
        "stage4.2.branches.3.3.conv2.weight": (8 * w, 8 * w, 3, 3),
        "final_layer.weight": (17, w, 1, 1),
        "final_layer.bias": (17,),
    }
    assert {k: tuple(sd[k].shape) for k in expected} == expected
    # Pass-through transitions and the single-output last module carry no keys.
    assert not any(k.startswith(("transition2.0", "transition2.1", "transition3.0",
                                 "transition3.1", "transition3.2", "stage4.2.fuse_layers.1"))
                   for k in sd)
    assert "stage4.1.fuse_layers.3.2.0.0.weight" in sd


def test_depth_kwargs_shrink_the_tree():
    sd = _meta_model(8, num_joints=5, stem_channels=16, layer1_blocks=1, layer1_planes=8,
                     stage_modules=(1, 2, 1), stage_blocks=(2, 1, 3)).state_dict()
    assert tuple(sd["conv2.weight"].shape) == (16, 16, 3, 3)
    assert tuple(sd["layer1.0.downsample.0.weight"].shape) == (32, 16, 1, 1)
    assert tuple(sd["transition1.0.0.weight"].shape) == (8, 32, 3, 3)
    assert tuple(sd["final_layer.weight"].shape) == (5, 8, 1, 1)
    assert "layer1.1.conv1.weight" not in sd
    assert "stage3.1.branches.2.0.conv1.weight" in sd
    assert "stage3.2.fuse_layers.0.1.0.weight" not in sd
    assert "stage2.0.branches.1.1.conv1.weight" in sd
    assert "stage2.0.branches.1.2.bn1.weight" not in sd
    assert "stage4.0.branches.3.2.conv1.weight" in sd
    assert "stage4.0.fuse_layers.1.0.0.0.weight" not in sd  # one module: it is the last


def _stage_outputs(model, x):
    """Run the model, capturing every stage's output list."""
    captured = {}
    hooks = [getattr(model, f"stage{s}").register_forward_hook(
        lambda _m, _i, out, s=s: captured.__setitem__(s, out)) for s in (2, 3, 4)]
    with torch.no_grad():
        heatmaps, features = model(x)
    for h in hooks:
        h.remove()
    return heatmaps, features, captured


def test_forward_returns_heatmaps_and_branch0_features():
    width = 8
    model = randomize_(build_torch_hrnet(width, num_joints=5), seed=1)
    # The input must divide by 32, the lowest branch's stride, as in the official model.
    x = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    heatmaps, features, stages = _stage_outputs(model, x)
    assert heatmaps.shape == (2, 5, 32, 24)
    assert features.shape == (2, 3 * width, 32, 24)
    assert [len(stages[s]) for s in (2, 3, 4)] == [2, 3, 1]
    torch.testing.assert_close(features, torch.cat([stages[s][0] for s in (2, 3, 4)], dim=1),
                               rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(heatmaps, model.final_layer(features[:, 2 * width:]),
                                   rtol=0, atol=0)


def test_fuse_upsampling_is_nearest():
    model = randomize_(build_torch_hrnet(4, stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1)), 2)
    f03 = model.stage4[0].fuse_layers[0][3]
    x = torch.randn(1, 32, 3, 2, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        low = f03[1](f03[0](x))
        expected = low.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)
        torch.testing.assert_close(f03(x), expected, rtol=0, atol=0)


def test_randomize_is_seeded_and_fills_bn_statistics():
    a = randomize_(build_torch_hrnet(4, stage_modules=(1, 1, 1)), seed=7).state_dict()
    b = randomize_(build_torch_hrnet(4, stage_modules=(1, 1, 1)), seed=7).state_dict()
    c = randomize_(build_torch_hrnet(4, stage_modules=(1, 1, 1)), seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["stage4.0.branches.0.0.conv1.weight"],
                           c["stage4.0.branches.0.0.conv1.weight"])
    variances = torch.cat([v for k, v in a.items() if k.endswith("running_var")])
    assert variances.min() >= 0.5 and variances.max() <= 2.0 and variances.std() > 0.2
    means = torch.cat([v for k, v in a.items() if k.endswith("running_mean")])
    assert means.abs().min() > 0


def test_randomized_full_depth_activations_stay_sane():
    model = randomize_(build_torch_hrnet(32), seed=0)
    x = torch.randn(1, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        heatmaps, features = model(x)
    assert torch.isfinite(heatmaps).all() and torch.isfinite(features).all()
    assert 1.0 < heatmaps.abs().max() < 100.0 and heatmaps.std() > 0.1
    assert 1.0 < features.abs().max() < 100.0
