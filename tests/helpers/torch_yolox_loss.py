"""A PyTorch reference of the YOLOX training loss and SimOTA, written from the official
algorithm (Megvii-BaseDetection/YOLOX 0.3.0, `YOLOXHead.get_losses`, `get_assignments`,
`get_in_boxes_info`, `dynamic_k_matching`, `IOUloss`), in its form: one image at a time, GTs
as a variable-length list, candidates selected by boolean indexing, dynamic k by a loop over
GTs. The JAX version (`training/yolox_loss.py`) works on padded fixed shapes instead.

Torch only (no JAX import).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

STRIDES = (8, 16, 32)


def anchors(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, 2) cell x, y and (A,) strides, levels stride 8, 16, 32, each row-major."""
    grids, strides = [], []
    for s in STRIDES:
        ys, xs = torch.meshgrid(torch.arange(height // s), torch.arange(width // s),
                                indexing="ij")
        grids.append(torch.stack([xs, ys], -1).reshape(-1, 2).float())
        strides.append(torch.full((grids[-1].shape[0],), float(s)))
    return torch.cat(grids), torch.cat(strides)


def box_iou_cxcywh(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(len(a), len(b)) IoU of cx, cy, w, h boxes, `bboxes_iou(..., xyxy=False)`'s formula."""
    tl = torch.max(a[:, None, :2] - a[:, None, 2:] / 2, b[:, :2] - b[:, 2:] / 2)
    br = torch.min(a[:, None, :2] + a[:, None, 2:] / 2, b[:, :2] + b[:, 2:] / 2)
    en = (tl < br).type(tl.type()).prod(dim=2)
    inter = torch.prod(br - tl, 2) * en
    return inter / (torch.prod(a[:, 2:], 1)[:, None] + torch.prod(b[:, 2:], 1) - inter)


def iou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per pair 1 − IoU² (`IOUloss`, type "iou")."""
    tl = torch.max(pred[:, :2] - pred[:, 2:] / 2, target[:, :2] - target[:, 2:] / 2)
    br = torch.min(pred[:, :2] + pred[:, 2:] / 2, target[:, :2] + target[:, 2:] / 2)
    en = (tl < br).type(tl.type()).prod(dim=1)
    inter = torch.prod(br - tl, 1) * en
    union = torch.prod(pred[:, 2:], 1) + torch.prod(target[:, 2:], 1) - inter
    return 1 - (inter / (union + 1e-16)) ** 2


@torch.no_grad()
def assign(boxes, obj, cls, gt_boxes, gt_classes, grid, strides):
    """SimOTA for one image with len(gt_boxes) >= 1 GTs.

    Returns:
      (fg_mask (A,) bool, matched GT index per foreground, IoU per foreground).
    """
    num_gt, num_classes = len(gt_boxes), cls.shape[1]
    cx = ((grid[:, 0] + 0.5) * strides)[None, :]
    cy = ((grid[:, 1] + 0.5) * strides)[None, :]
    gx, gy = gt_boxes[:, 0:1], gt_boxes[:, 1:2]
    gw, gh = gt_boxes[:, 2:3], gt_boxes[:, 3:4]
    box_deltas = torch.stack([cx - (gx - 0.5 * gw), cy - (gy - 0.5 * gh),
                              (gx + 0.5 * gw) - cx, (gy + 0.5 * gh) - cy], 2)
    in_boxes = box_deltas.min(dim=-1).values > 0.0
    radius = 2.5 * strides[None, :]
    centre_deltas = torch.stack([cx - (gx - radius), cy - (gy - radius),
                                 (gx + radius) - cx, (gy + radius) - cy], 2)
    in_centres = centre_deltas.min(dim=-1).values > 0.0
    fg_mask = in_boxes.any(0) | in_centres.any(0)
    in_both = in_boxes[:, fg_mask] & in_centres[:, fg_mask]

    cand_boxes, cand_cls, cand_obj = boxes[fg_mask], cls[fg_mask], obj[fg_mask]
    num_cand = cand_boxes.shape[0]
    ious = box_iou_cxcywh(gt_boxes, cand_boxes)
    one_hot = F.one_hot(gt_classes.long(), num_classes).float()
    probs = (cand_cls.sigmoid() * cand_obj.sigmoid()[:, None]).sqrt()
    cls_cost = F.binary_cross_entropy(probs[None].repeat(num_gt, 1, 1),
                                      one_hot[:, None].repeat(1, num_cand, 1),
                                      reduction="none").sum(-1)
    cost = cls_cost + 3.0 * -torch.log(ious + 1e-8) + 100000.0 * (~in_both)

    matching = torch.zeros_like(cost, dtype=torch.uint8)
    top = torch.topk(ious, min(10, num_cand), dim=1).values
    ks = torch.clamp(top.sum(1).int(), min=1).tolist()
    for g in range(num_gt):
        matching[g][torch.topk(cost[g], k=ks[g], largest=False).indices] = 1
    shared = matching.sum(0) > 1
    if shared.any():
        cheapest = cost[:, shared].argmin(0)
        matching[:, shared] = 0
        matching[cheapest, shared] = 1
    chosen = matching.sum(0) > 0
    fg_mask[fg_mask.clone()] = chosen
    matched = matching[:, chosen].argmax(0)
    matched_iou = (matching * ious).sum(0)[chosen]
    return fg_mask, matched, matched_iou


def yolox_loss(raw: torch.Tensor, gts: list[tuple[torch.Tensor, torch.Tensor]],
               input_hw: tuple[int, int], use_l1: bool) -> dict:
    """The summed loss terms of a batch.

    Args:
      raw: (N, A, 5 + C) raw outputs (requires_grad for gradients).
      gts: per image, (boxes (G_i, 4) cx, cy, w, h, classes (G_i,)), G_i may be 0.
      input_hw: (H, W).
      use_l1: include the L1 term.

    Returns:
      `iou`, `obj`, `cls`, `l1` sums, `num_fg`, `total` (= (5 iou + obj + cls + l1) / max(num_fg,
      1)), and per image `fg`, `matched`, `matched_iou`.
    """
    grid, strides = anchors(*input_hw)
    boxes = torch.cat([(raw[..., :2] + grid) * strides[:, None],
                       torch.exp(raw[..., 2:4]) * strides[:, None]], -1)
    num_classes = raw.shape[-1] - 5
    out = {"iou": 0.0, "obj": 0.0, "cls": 0.0, "l1": 0.0, "num_fg": 0, "fg": [], "matched": [],
           "matched_iou": []}
    for i, (gt_boxes, gt_classes) in enumerate(gts):
        if len(gt_boxes) == 0:
            fg = torch.zeros(raw.shape[1], dtype=torch.bool)
            matched = torch.zeros(0, dtype=torch.long)
            matched_iou = torch.zeros(0)
        else:
            fg, matched, matched_iou = assign(boxes[i].detach(), raw[i, :, 4].detach(),
                                              raw[i, :, 5:].detach(), gt_boxes, gt_classes,
                                              grid, strides)
            target = gt_boxes[matched]
            out["iou"] = out["iou"] + iou_loss(boxes[i][fg], target).sum()
            cls_target = F.one_hot(gt_classes[matched].long(), num_classes) * matched_iou[:, None]
            out["cls"] = out["cls"] + F.binary_cross_entropy_with_logits(
                raw[i, fg, 5:], cls_target, reduction="none").sum()
            if use_l1:
                s, g = strides[fg][:, None], grid[fg]
                encoded = torch.cat([target[:, :2] / s - g, torch.log(target[:, 2:] / s + 1e-8)],
                                    1)
                out["l1"] = out["l1"] + (raw[i, fg, :4] - encoded).abs().sum()
        out["obj"] = out["obj"] + F.binary_cross_entropy_with_logits(
            raw[i, :, 4], fg.float(), reduction="none").sum()
        out["num_fg"] += int(fg.sum())
        out["fg"].append(fg)
        out["matched"].append(matched)
        out["matched_iou"].append(matched_iou)
    out["total"] = ((5.0 * out["iou"] + out["obj"] + out["cls"] + out["l1"])
                    / max(out["num_fg"], 1))
    return out
