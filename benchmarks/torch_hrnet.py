"""A compact PyTorch pose HRNet with the official module tree, for parity tests and benchmarks.

The module structure, and therefore every state_dict key, is that of the official
`pose_hrnet.py` (Sun et al., CVPR 2019; docs/spec/hrnet.md §1): `conv1`/`bn1`/`conv2`/`bn2`,
`layer1.{b}` Bottlenecks (block 0 with `downsample`), `transition{1,2,3}` (None where a branch
passes through), `stage{2,3,4}.{m}.branches.{b}.{k}` BasicBlocks and
`stage{s}.{m}.fuse_layers.{i}.{j}` (None for i == j), and `final_layer` with a bias. The depth
is configurable with the same field names as `gnnpose_jax.models.hrnet.HRNetConfig`.

`forward` returns `(heatmaps, features)`, both NCHW: heatmaps (N, K, H/4, W/4) and features
(N, 3·W, H/4, W/4), the stage-2, stage-3 and stage-4 branch-0 outputs concatenated in that order.

Torch only (no JAX import). The tests import it from here too (`benchmarks.torch_hrnet`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

BN_MOMENTUM = 0.1
BOTTLENECK_EXPANSION = 4
NUM_STAGE_BRANCHES = (2, 3, 4)


def _conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """3×3 convolution, padding 1, no bias."""
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(in_ch: int, out_ch: int) -> nn.Conv2d:
    """1×1 convolution, no bias."""
    return nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=1, padding=0, bias=False)


class BasicBlock(nn.Module):
    """conv3×3-BN-ReLU-conv3×3-BN, + identity, ReLU (no downsample in pose HRNet branches)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.bn1 = nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual BasicBlock."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class Bottleneck(nn.Module):
    """1×1-3×3-1×1 Bottleneck with expansion 4 and an optional 1×1 conv + BN downsample."""

    def __init__(self, in_ch: int, planes: int):
        super().__init__()
        out_ch = planes * BOTTLENECK_EXPANSION
        self.conv1 = _conv1x1(in_ch, planes)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = _conv1x1(planes, out_ch)
        self.bn3 = nn.BatchNorm2d(out_ch, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU()
        self.downsample = None
        if in_ch != out_ch:
            self.downsample = nn.Sequential(
                _conv1x1(in_ch, out_ch), nn.BatchNorm2d(out_ch, momentum=BN_MOMENTUM)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual Bottleneck."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


def _fuse_layer(channels: Sequence[int], i: int, j: int) -> nn.Module | None:
    """The official f_ij: identity (None), 1×1 conv + BN + nearest upsampling, or 3×3/2 chain."""
    if j == i:
        return None
    if j > i:
        return nn.Sequential(
            _conv1x1(channels[j], channels[i]),
            nn.BatchNorm2d(channels[i]),
            nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
        )
    steps = []
    for k in range(i - j):
        if k == i - j - 1:
            steps.append(nn.Sequential(_conv3x3(channels[j], channels[i], 2),
                                       nn.BatchNorm2d(channels[i])))
        else:
            steps.append(nn.Sequential(_conv3x3(channels[j], channels[j], 2),
                                       nn.BatchNorm2d(channels[j]), nn.ReLU()))
    return nn.Sequential(*steps)


class HighResolutionModule(nn.Module):
    """Parallel BasicBlock branches followed by the all-to-all fuse (to branch 0 only if asked)."""

    def __init__(self, channels: Sequence[int], num_blocks: int, multi_scale_output: bool = True):
        super().__init__()
        self.num_branches = len(channels)
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(c) for _ in range(num_blocks)]) for c in channels
        )
        num_outputs = self.num_branches if multi_scale_output else 1
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(_fuse_layer(channels, i, j) for j in range(self.num_branches))
            for i in range(num_outputs)
        )
        self.relu = nn.ReLU()

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Branches, then output i = ReLU(Σ_j f_ij(x_j)), summed in the official order."""
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        outputs = []
        for i, fuse in enumerate(self.fuse_layers):
            y = xs[0] if i == 0 else fuse[0](xs[0])
            for j in range(1, self.num_branches):
                y = y + (xs[j] if i == j else fuse[j](xs[j]))
            outputs.append(self.relu(y))
        return outputs


def _transition(pre: Sequence[int], cur: Sequence[int]) -> nn.ModuleList:
    """The official transition: a 3×3 conv where channels change, 3×3/2 chains for new branches."""
    layers: list[nn.Module | None] = []
    for i, out_ch in enumerate(cur):
        if i < len(pre):
            layers.append(None if pre[i] == out_ch else nn.Sequential(
                _conv3x3(pre[i], out_ch), nn.BatchNorm2d(out_ch), nn.ReLU()))
            continue
        steps = []
        for k in range(i + 1 - len(pre)):
            step_out = out_ch if k == i - len(pre) else pre[-1]
            steps.append(nn.Sequential(_conv3x3(pre[-1], step_out, 2),
                                       nn.BatchNorm2d(step_out), nn.ReLU()))
        layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


class PoseHighResolutionNet(nn.Module):
    """The official pose HRNet, returning (heatmaps, features) in NCHW."""

    def __init__(self, width: int, num_joints: int = 17, stem_channels: int = 64,
                 layer1_blocks: int = 4, layer1_planes: int = 64,
                 stage_modules: Sequence[int] = (1, 4, 3),
                 stage_blocks: Sequence[int] = (4, 4, 4)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem_channels, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_channels, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(stem_channels, stem_channels, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(stem_channels, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU()
        layer1_out = layer1_planes * BOTTLENECK_EXPANSION
        self.layer1 = nn.Sequential(*[
            Bottleneck(stem_channels if b == 0 else layer1_out, layer1_planes)
            for b in range(layer1_blocks)
        ])
        pre = [layer1_out]
        for s, (branches, modules, blocks) in enumerate(
                zip(NUM_STAGE_BRANCHES, stage_modules, stage_blocks, strict=True), start=2):
            cur = [width * 2**b for b in range(branches)]
            setattr(self, f"transition{s - 1}", _transition(pre, cur))
            last_stage = s == NUM_STAGE_BRANCHES[-1]
            setattr(self, f"stage{s}", nn.Sequential(*[
                HighResolutionModule(cur, blocks, not (last_stage and m == modules - 1))
                for m in range(modules)
            ]))
            pre = cur
        self.final_layer = nn.Conv2d(width, num_joints, kernel_size=1, stride=1, padding=0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, 3, H, W) -> heatmaps (N, K, H/4, W/4), features (N, 3·W, H/4, W/4)."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        ys = [self.layer1(x)]
        features = []
        for s in range(2, 2 + len(NUM_STAGE_BRANCHES)):
            transition = getattr(self, f"transition{s - 1}")
            # New branches grow from the previous stage's lowest-resolution output.
            xs = [ys[i] if t is None else t(ys[min(i, len(ys) - 1)])
                  for i, t in enumerate(transition)]
            ys = getattr(self, f"stage{s}")(xs)
            features.append(ys[0])
        return self.final_layer(ys[0]), torch.cat(features, dim=1)


def build_torch_hrnet(width: int, num_joints: int = 17, **depth_kwargs) -> PoseHighResolutionNet:
    """Build the official-layout pose HRNet in eval mode.

    Args:
      width: W, the channels of the highest-resolution branch.
      num_joints: K, the number of heatmaps.
      **depth_kwargs: `stem_channels`, `layer1_blocks`, `layer1_planes`, `stage_modules`,
        `stage_blocks` (HRNetConfig's names; the defaults are the official full depth).

    Returns:
      The module, in eval mode, with PyTorch's default initialisation.
    """
    return PoseHighResolutionNet(width, num_joints, **depth_kwargs).eval()


def randomize_(model: nn.Module, seed: int, conv_gain: float = 0.6,
               var_range: tuple[float, float] = (0.5, 2.0)) -> nn.Module:
    """Fill every conv and BatchNorm tensor with seeded random values, in place.

    Conv weights are He-normal times `conv_gain` (final_layer gets a random bias too); BN
    running_var is uniform in `var_range`, running_mean, weight and bias are random, so that an
    eval-mode forward exercises every BN term. The gain keeps activations O(1) through the full
    depth, where the fuse sums would otherwise compound.

    Args:
      model: any module; its Conv2d and BatchNorm2d submodules are filled.
      seed: seeds a private generator (the global torch RNG is untouched).
      conv_gain: multiplier on the He standard deviation sqrt(2 / fan_in).
      var_range: (low, high) of the uniform running_var.

    Returns:
      `model`, for chaining.
    """
    gen = torch.Generator().manual_seed(seed)

    def uniform(t: torch.Tensor, low: float, high: float) -> torch.Tensor:
        """Seeded uniform values shaped like `t`."""
        return torch.rand(t.shape, generator=gen, dtype=t.dtype) * (high - low) + low

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                std = conv_gain * math.sqrt(2.0 / fan_in)
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * std)
                if module.bias is not None:
                    module.bias.copy_(uniform(module.bias, -0.1, 0.1))
            elif isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(uniform(module.running_mean, -0.2, 0.2))
                module.running_var.copy_(uniform(module.running_var, *var_range))
                module.weight.copy_(uniform(module.weight, 0.5, 1.0))
                module.bias.copy_(uniform(module.bias, -0.2, 0.2))
    return model
