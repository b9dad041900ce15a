"""A PyTorch YOLOX with the official module tree, and the official preprocessing and person
postprocess.

Written from the official code (Megvii-BaseDetection/YOLOX: `network_blocks.py`, `darknet.py`,
`yolo_pafpn.py`, `yolo_head.py`, `utils/boxes.py`, `data/data_augment.py`), so that every
state_dict key is the official one: `backbone.backbone.{stem,dark2..dark5}.*`,
`backbone.{lateral_conv0, C3_p4, reduce_conv1, C3_p3, bu_conv2, C3_n3, bu_conv1, C3_n4}.*`,
`head.{stems, cls_convs, reg_convs, cls_preds, reg_preds, obj_preds}.{i}.*`. BatchNorm eps
1e-3, SiLU, eval-mode decoded output (N, A, 5 + C). torchvision is not available here, so
class-aware NMS is plain torch.

Torch, NumPy and OpenCV only (no JAX import), for benchmarks and parity tests (the tests import
it from here, `benchmarks.torch_yolox`).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

BN_EPS = 1e-3
STRIDES = (8, 16, 32)


class BaseConv(nn.Module):
    """Conv (same padding, no bias) → BatchNorm → SiLU."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=0.03)

    def forward(self, x):
        return nn.functional.silu(self.bn(self.conv(x)))


class DWConv(nn.Module):
    """Depthwise k×k BaseConv, then a pointwise 1×1 BaseConv."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1):
        super().__init__()
        self.dconv = BaseConv(cin, cin, k, stride, groups=cin)
        self.pconv = BaseConv(cin, cout, 1)

    def forward(self, x):
        return self.pconv(self.dconv(x))


def _conv(depthwise: bool, cin: int, cout: int, k: int, stride: int = 1) -> nn.Module:
    return DWConv(cin, cout, k, stride) if depthwise else BaseConv(cin, cout, k, stride)


class Bottleneck(nn.Module):
    """1×1 then 3×3, with a residual add when asked and the widths agree."""

    def __init__(self, cin: int, cout: int, shortcut: bool, depthwise: bool):
        super().__init__()
        self.conv1 = BaseConv(cin, cout, 1)
        self.conv2 = _conv(depthwise, cout, cout, 3)
        self.add = shortcut and cin == cout

    def forward(self, x):
        y = self.conv2(self.conv1(x))
        return y + x if self.add else y


class CSPLayer(nn.Module):
    """Two 1×1 branches (one through n Bottlenecks), concatenated, then a 1×1."""

    def __init__(self, cin: int, cout: int, n: int, shortcut: bool, depthwise: bool):
        super().__init__()
        hidden = int(cout * 0.5)
        self.conv1 = BaseConv(cin, hidden, 1)
        self.conv2 = BaseConv(cin, hidden, 1)
        self.conv3 = BaseConv(2 * hidden, cout, 1)
        self.m = nn.Sequential(*[Bottleneck(hidden, hidden, shortcut, depthwise)
                                 for _ in range(n)])

    def forward(self, x):
        return self.conv3(torch.cat([self.m(self.conv1(x)), self.conv2(x)], 1))


class SPPBottleneck(nn.Module):
    """1×1, then the input and its 5/9/13 max-pools concatenated, then 1×1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        hidden = cin // 2
        self.conv1 = BaseConv(cin, hidden, 1)
        self.m = nn.ModuleList([nn.MaxPool2d(k, 1, k // 2) for k in (5, 9, 13)])
        self.conv2 = BaseConv(hidden * 4, cout, 1)

    def forward(self, x):
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.m], 1))


class Focus(nn.Module):
    """Space-to-depth (top-left, bottom-left, top-right, bottom-right), then a 3×3 conv."""

    def __init__(self, cout: int):
        super().__init__()
        self.conv = BaseConv(12, cout, 3)

    def forward(self, x):
        parts = (x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2])
        return self.conv(torch.cat(parts, 1))


class CSPDarknet(nn.Module):
    """Focus stem and dark2..dark5; returns the dark3, dark4, dark5 features."""

    def __init__(self, depth: float, width: float, depthwise: bool):
        super().__init__()
        c = int(width * 64)
        n = max(round(depth * 3), 1)
        self.stem = Focus(c)
        self.dark2 = nn.Sequential(_conv(depthwise, c, 2 * c, 3, 2),
                                   CSPLayer(2 * c, 2 * c, n, True, depthwise))
        self.dark3 = nn.Sequential(_conv(depthwise, 2 * c, 4 * c, 3, 2),
                                   CSPLayer(4 * c, 4 * c, 3 * n, True, depthwise))
        self.dark4 = nn.Sequential(_conv(depthwise, 4 * c, 8 * c, 3, 2),
                                   CSPLayer(8 * c, 8 * c, 3 * n, True, depthwise))
        self.dark5 = nn.Sequential(_conv(depthwise, 8 * c, 16 * c, 3, 2),
                                   SPPBottleneck(16 * c, 16 * c),
                                   CSPLayer(16 * c, 16 * c, n, False, depthwise))

    def forward(self, x):
        x2 = self.dark2(self.stem(x))
        d3 = self.dark3(x2)
        d4 = self.dark4(d3)
        return d3, d4, self.dark5(d4)


class YOLOPAFPN(nn.Module):
    """CSPDarknet plus the top-down and bottom-up path aggregation."""

    def __init__(self, depth: float, width: float, depthwise: bool):
        super().__init__()
        c0, c1, c2 = (int(c * width) for c in (256, 512, 1024))
        n = round(3 * depth)
        self.backbone = CSPDarknet(depth, width, depthwise)
        self.lateral_conv0 = BaseConv(c2, c1, 1)
        self.C3_p4 = CSPLayer(2 * c1, c1, n, False, depthwise)
        self.reduce_conv1 = BaseConv(c1, c0, 1)
        self.C3_p3 = CSPLayer(2 * c0, c0, n, False, depthwise)
        self.bu_conv2 = _conv(depthwise, c0, c0, 3, 2)
        self.C3_n3 = CSPLayer(2 * c0, c1, n, False, depthwise)
        self.bu_conv1 = _conv(depthwise, c1, c1, 3, 2)
        self.C3_n4 = CSPLayer(2 * c1, c2, n, False, depthwise)

    def forward(self, x):
        d3, d4, d5 = self.backbone(x)
        up = nn.functional.interpolate
        lateral = self.lateral_conv0(d5)
        p4 = self.C3_p4(torch.cat([up(lateral, scale_factor=2, mode="nearest"), d4], 1))
        reduced = self.reduce_conv1(p4)
        out3 = self.C3_p3(torch.cat([up(reduced, scale_factor=2, mode="nearest"), d3], 1))
        out4 = self.C3_n3(torch.cat([self.bu_conv2(out3), reduced], 1))
        out5 = self.C3_n4(torch.cat([self.bu_conv1(out4), lateral], 1))
        return out3, out4, out5


class YOLOXHead(nn.Module):
    """Decoupled head; eval mode returns the decoded (N, A, 5 + C) output."""

    def __init__(self, num_classes: int, width: float, depthwise: bool):
        super().__init__()
        hidden = int(256 * width)
        self.stems = nn.ModuleList()
        self.cls_convs, self.reg_convs = nn.ModuleList(), nn.ModuleList()
        self.cls_preds, self.reg_preds, self.obj_preds = (nn.ModuleList() for _ in range(3))
        for cin in (256, 512, 1024):
            self.stems.append(BaseConv(int(cin * width), hidden, 1))
            for convs in (self.cls_convs, self.reg_convs):
                convs.append(nn.Sequential(_conv(depthwise, hidden, hidden, 3),
                                           _conv(depthwise, hidden, hidden, 3)))
            self.cls_preds.append(nn.Conv2d(hidden, num_classes, 1))
            self.reg_preds.append(nn.Conv2d(hidden, 4, 1))
            self.obj_preds.append(nn.Conv2d(hidden, 1, 1))

    def forward(self, features):
        outputs, grids, strides = [], [], []
        for k, (x, stride) in enumerate(zip(features, STRIDES, strict=True)):
            x = self.stems[k](x)
            cls = self.cls_preds[k](self.cls_convs[k](x))
            reg_feat = self.reg_convs[k](x)
            out = torch.cat([self.reg_preds[k](reg_feat), self.obj_preds[k](reg_feat).sigmoid(),
                             cls.sigmoid()], 1)
            n, c, h, w = out.shape
            outputs.append(out.reshape(n, c, h * w).permute(0, 2, 1))
            ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
            grids.append(torch.stack([xs, ys], -1).reshape(1, h * w, 2).float())
            strides.append(torch.full((1, h * w, 1), float(stride)))
        out, grid, stride = (torch.cat(t, 1) for t in (outputs, grids, strides))
        return torch.cat([(out[..., :2] + grid) * stride, torch.exp(out[..., 2:4]) * stride,
                          out[..., 4:]], -1)


class YOLOX(nn.Module):
    """`backbone` (YOLOPAFPN) and `head` (YOLOXHead), as the official checkpoints name them."""

    def __init__(self, depth: float, width: float, depthwise: bool = False,
                 num_classes: int = 80):
        super().__init__()
        self.backbone = YOLOPAFPN(depth, width, depthwise)
        self.head = YOLOXHead(num_classes, width, depthwise)

    def forward(self, x):
        return self.head(self.backbone(x))


def randomize_(model: nn.Module, seed: int, images: torch.Tensor) -> nn.Module:
    """Seeded weights and non-trivial BatchNorm statistics; returns `model` in eval mode.

    Each BatchNorm's statistics are those of its input when the eval-mode model runs on
    `images` (N, 3, S, S, 0..255), perturbed (means shifted by 0.1 σ, variances scaled by
    0.5..1.5), with γ in [0.4, 1] and β near 0.5: activations stay O(1) through the depth and
    float32 rounding is not amplified much, yet no BN is an identity and a wrong input layout
    still changes the output by O(1).
    """
    g = torch.Generator().manual_seed(seed)
    preds = {m for name, m in model.named_modules()
             if name.split(".")[-2:-1] in (["cls_preds"], ["reg_preds"], ["obj_preds"])}

    def calibrate(bn, inputs):
        (x,) = inputs
        shape = bn.running_mean.shape
        # A floor keeps BN from amplifying near-constant channels (the SPP pools of a tiny
        # input are constant over space), which would amplify float32 rounding too.
        var = x.var(dim=(0, 2, 3))
        var = torch.maximum(var, 0.5 * var.mean())
        bn.running_mean.copy_(x.mean(dim=(0, 2, 3))
                              + 0.1 * var.sqrt() * torch.randn(shape, generator=g))
        bn.running_var.copy_(var * (0.5 + torch.rand(shape, generator=g)))
        bn.num_batches_tracked.fill_(int(torch.randint(1, 1000, (), generator=g)))

    hooks = []
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                gain = 0.3 if m in preds else 1.5
                std = (gain / m.weight[0].numel()) ** 0.5
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * std)
                if m.bias is not None:
                    m.bias.copy_(0.5 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.4 + 0.6 * torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.5 + 0.2 * torch.randn(m.bias.shape, generator=g))
                hooks.append(m.register_forward_pre_hook(calibrate))
        model.eval()(images)
    for hook in hooks:
        hook.remove()
    return model


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """torchvision.ops.nms semantics: descending score (ties: lower index first), a box is
    dropped when its IoU with a kept box is > threshold (float32 IoU, compared in double)."""
    order = torch.sort(scores, descending=True, stable=True).indices.tolist()
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    suppressed, keep = set(), []
    for rank, i in enumerate(order):
        if i in suppressed:
            continue
        keep.append(i)
        for j in order[rank + 1:]:
            if j in suppressed:
                continue
            w = torch.clamp(torch.minimum(x2[i], x2[j]) - torch.maximum(x1[i], x1[j]), min=0)
            h = torch.clamp(torch.minimum(y2[i], y2[j]) - torch.maximum(y1[i], y1[j]), min=0)
            inter = w * h
            if float(inter / (areas[i] + areas[j] - inter)) > threshold:
                suppressed.add(j)
    return torch.tensor(keep, dtype=torch.int64)


def postprocess_persons(prediction: torch.Tensor, num_classes: int, conf: float, nms: float,
                        ratio: float) -> torch.Tensor:
    """The official `postprocess` for one image, then its person rows as (K, 5) frame-pixel
    [x, y, w, h, score] in output order (class-aware NMS: classes never suppress each other)."""
    p = prediction.clone()
    corners = torch.stack([p[:, 0] - p[:, 2] / 2, p[:, 1] - p[:, 3] / 2,
                           p[:, 0] + p[:, 2] / 2, p[:, 1] + p[:, 3] / 2], 1)
    class_conf, class_pred = torch.max(p[:, 5:5 + num_classes], 1)
    keep = p[:, 4] * class_conf >= conf
    boxes, scores, classes = corners[keep], (p[:, 4] * class_conf)[keep], class_pred[keep]
    kept = []
    for c in classes.unique().tolist():
        members = torch.where(classes == c)[0]
        kept.append(members[nms_reference(boxes[members], scores[members], nms)])
    kept = torch.cat(kept) if kept else torch.zeros(0, dtype=torch.int64)
    kept = kept[torch.sort(scores[kept], descending=True, stable=True).indices]
    kept = kept[classes[kept] == 0]
    xyxy = boxes[kept] / ratio
    xywh = torch.cat([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], 1)
    return torch.cat([xywh, scores[kept, None]], 1)


def preproc(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """The official `preproc`: (H, W, 3) uint8 → ((3, S, S) float32 letterboxed, ratio)."""
    r = min(size / image.shape[0], size / image.shape[1])
    new_w, new_h = int(image.shape[1] * r), int(image.shape[0] * r)
    padded = np.ones((size, size, 3), np.uint8) * 114
    padded[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(padded.transpose(2, 0, 1), dtype=np.float32), r
