"""The YOLOX training loss with SimOTA label assignment, jittable with fixed shapes.

The algorithm of the official `YOLOXHead.get_losses` (release 0.3.0, the one the COCO weights
were trained with), per image:

- anchor points: every cell of the three levels, centre ((x, y) + 0.5) · stride; predicted boxes
  decoded as in inference, cx, cy = (out + grid) · stride, w, h = exp(out) · stride;
- centre prior: an anchor is a candidate when its centre lies inside any GT box or within
  2.5 · stride of any GT centre (strictly); a (GT, anchor) pair in both the GT's box and its
  centre region is "in box and centre";
- cost (GT, candidate) = BCE(√(σ(cls) · σ(obj)), one-hot class) summed over classes
  + 3 · (−log(IoU + 1e-8)) + 1e5 · (not in box and centre);
- dynamic k per GT = max(1, ⌊Σ of its 10 largest candidate IoUs⌋); each GT takes its k
  lowest-cost candidates; an anchor taken by several GTs keeps the one of lowest cost;
- losses: IoU loss 1 − IoU² on foreground anchors ("iou" type), objectness BCE over every anchor
  (target: foreground), class BCE on foregrounds with target one-hot · IoU of the matched
  prediction, and (in the last epochs only) L1 between the raw box outputs and the encoded GT
  box; total = 5 · IoU + obj + cls + L1, divided by the number of foreground anchors.

Here the number of GTs per image is fixed (G, padded, with a mask), every candidate set is the
full anchor set with masks, and the loss comes back as (sum, foreground count) so that the
train step divides by the count over all devices (the official code divides per GPU).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gnnpose_jax.models.yolox import anchor_grid

CENTER_RADIUS = 2.5
TOP_CANDIDATES = 10
IOU_COST_WEIGHT = 3.0
OUTSIDE_COST = 1e5
IOU_LOSS_WEIGHT = 5.0


class Assignment(NamedTuple):
    """SimOTA's result for a batch (A anchors)."""

    foreground: jax.Array  # (N, A) bool
    matched_gt: jax.Array  # (N, A) int32 GT slot of each foreground anchor (0 elsewhere)
    matched_iou: jax.Array  # (N, A) IoU of the prediction with its GT (0 elsewhere)


class LossTerms(NamedTuple):
    """Summed loss terms of a batch and its foreground count (the normaliser)."""

    iou: jax.Array  # Σ (1 - IoU²) over foregrounds, unweighted
    obj: jax.Array
    cls: jax.Array
    l1: jax.Array
    num_fg: jax.Array

    @property
    def total(self) -> jax.Array:
        """5 · iou + obj + cls + l1, still to be divided by the foreground count."""
        return IOU_LOSS_WEIGHT * self.iou + self.obj + self.cls + self.l1


def decode_boxes(raw: jax.Array, grid: jax.Array, strides: jax.Array) -> jax.Array:
    """(..., A, 4) raw box outputs -> (..., A, 4) cx, cy, w, h in input pixels."""
    return jnp.concatenate([(raw[..., :2] + grid) * strides, jnp.exp(raw[..., 2:4]) * strides],
                           axis=-1)


def pairwise_iou(a: jax.Array, b: jax.Array) -> jax.Array:
    """(G, A) IoU of cx, cy, w, h boxes a (G, 4) and b (A, 4), as the official `bboxes_iou`."""
    tl = jnp.maximum(a[:, None, :2] - a[:, None, 2:] / 2, b[:, :2] - b[:, 2:] / 2)
    br = jnp.minimum(a[:, None, :2] + a[:, None, 2:] / 2, b[:, :2] + b[:, 2:] / 2)
    overlap = jnp.prod((tl < br).astype(a.dtype), axis=-1)
    inter = jnp.prod(br - tl, axis=-1) * overlap
    return inter / (jnp.prod(a[:, 2:], -1)[:, None] + jnp.prod(b[:, 2:], -1) - inter)


def iou_loss(pred: jax.Array, target: jax.Array) -> jax.Array:
    """(A,) 1 − IoU² of paired cx, cy, w, h boxes, as the official `IOUloss` ("iou")."""
    tl = jnp.maximum(pred[:, :2] - pred[:, 2:] / 2, target[:, :2] - target[:, 2:] / 2)
    br = jnp.minimum(pred[:, :2] + pred[:, 2:] / 2, target[:, :2] + target[:, 2:] / 2)
    overlap = jnp.prod((tl < br).astype(pred.dtype), axis=-1)
    inter = jnp.prod(br - tl, axis=-1) * overlap
    union = jnp.prod(pred[:, 2:], -1) + jnp.prod(target[:, 2:], -1) - inter
    return 1.0 - (inter / (union + 1e-16)) ** 2


def bce_with_logits(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Elementwise BCE on logits, as torch's `BCEWithLogitsLoss`."""
    return (jnp.maximum(logits, 0.0) - logits * targets
            + jnp.log1p(jnp.exp(-jnp.abs(logits))))


def _bce_probs(probs: jax.Array, targets: jax.Array) -> jax.Array:
    """Elementwise BCE on probabilities, logs clamped at −100 as torch's `binary_cross_entropy`."""
    log_p = jnp.maximum(jnp.log(probs), -100.0)
    log_q = jnp.maximum(jnp.log(1.0 - probs), -100.0)
    return (targets - 1.0) * log_q - targets * log_p


def _assign_image(boxes, obj, cls, gt_boxes, gt_classes, gt_mask, grid, strides):
    """SimOTA for one image: (A, 4) decoded boxes, (A,) obj and (A, C) class logits, G GTs."""
    stride = strides[:, 0]
    centres = (grid + 0.5) * strides  # (A, 2)
    gt_lo, gt_hi = gt_boxes[:, None, :2] - gt_boxes[:, None, 2:] / 2, \
        gt_boxes[:, None, :2] + gt_boxes[:, None, 2:] / 2
    in_box = jnp.all((centres - gt_lo > 0) & (gt_hi - centres > 0), -1)
    radius = (CENTER_RADIUS * stride)[:, None]
    in_centre = jnp.all((centres - (gt_boxes[:, None, :2] - radius) > 0)
                        & ((gt_boxes[:, None, :2] + radius) - centres > 0), -1)
    in_box &= gt_mask[:, None]
    in_centre &= gt_mask[:, None]
    candidate = in_box.any(0) | in_centre.any(0)  # (A,)
    usable = candidate[None, :] & gt_mask[:, None]  # (G, A)

    ious = pairwise_iou(gt_boxes, boxes)
    one_hot = jax.nn.one_hot(gt_classes, cls.shape[-1], dtype=boxes.dtype)  # (G, C)
    probs = jnp.sqrt(jax.nn.sigmoid(cls) * jax.nn.sigmoid(obj)[:, None])  # (A, C)
    cls_cost = _bce_probs(probs[None], one_hot[:, None]).sum(-1)  # (G, A)
    cost = (cls_cost + IOU_COST_WEIGHT * -jnp.log(ious + 1e-8)
            + OUTSIDE_COST * (~(in_box & in_centre)).astype(boxes.dtype))
    cost = jnp.where(usable, cost, jnp.inf)

    k = min(TOP_CANDIDATES, boxes.shape[0])
    top_ious = jax.lax.top_k(jnp.where(usable, ious, 0.0), k)[0]
    dynamic_k = jnp.maximum(jnp.floor(top_ious.sum(-1)).astype(jnp.int32), 1)  # (G,)
    order = jax.lax.top_k(-cost, k)[1]  # (G, k) lowest costs first
    take = jnp.arange(k)[None, :] < dynamic_k[:, None]
    rows = jnp.broadcast_to(jnp.arange(gt_boxes.shape[0])[:, None], order.shape)
    matching = jnp.zeros(cost.shape, bool).at[rows, order].set(take) & usable

    shared = matching.sum(0) > 1
    cheapest = jax.nn.one_hot(jnp.argmin(cost, 0), cost.shape[0], dtype=bool).T
    matching = jnp.where(shared[None, :], cheapest, matching)
    foreground = matching.any(0)
    matched_gt = jnp.argmax(matching, 0).astype(jnp.int32)
    matched_iou = jnp.sum(jnp.where(matching, ious, 0.0), 0)
    return foreground, matched_gt, matched_iou


def simota_assign(raw: jax.Array, gt_boxes: jax.Array, gt_classes: jax.Array,
                  gt_mask: jax.Array, input_hw: tuple[int, int]) -> Assignment:
    """SimOTA label assignment of a batch (no gradient).

    Args:
      raw: (N, A, 5 + C) raw head outputs (`YOLOX(...)(images, train=True)`).
      gt_boxes: (N, G, 4) GT boxes cx, cy, w, h in input pixels (padding slots anything).
      gt_classes: (N, G) int class indices.
      gt_mask: (N, G) bool, True for real GTs.
      input_hw: the network input (H, W), for the anchor grid.

    Returns:
      The assignment.
    """
    grid, strides = anchor_grid(*input_hw)
    raw = jax.lax.stop_gradient(raw)
    boxes = decode_boxes(raw[..., :4], grid, strides)
    assign = jax.vmap(_assign_image, in_axes=(0, 0, 0, 0, 0, 0, None, None))
    return Assignment(*assign(boxes, raw[..., 4], raw[..., 5:], gt_boxes.astype(raw.dtype),
                              gt_classes, gt_mask, grid, strides))


def yolox_loss(raw: jax.Array, gt_boxes: jax.Array, gt_classes: jax.Array, gt_mask: jax.Array,
               input_hw: tuple[int, int], use_l1: bool = False,
               image_mask: jax.Array | None = None) -> tuple[LossTerms, Assignment]:
    """The YOLOX loss terms of a batch (sums) and the assignment behind them.

    Args:
      raw: (N, A, 5 + C) raw head outputs; whatever their dtype, the assignment costs, IoUs
        and losses are computed in float32.
      gt_boxes: (N, G, 4) GT boxes cx, cy, w, h in input pixels.
      gt_classes: (N, G) int class indices.
      gt_mask: (N, G) bool, True for real GTs (an image with none only trains objectness).
      input_hw: the network input (H, W).
      use_l1: add the L1 loss on raw box outputs (the official last 15 epochs).
      image_mask: (N,) bool, False for padding images (no loss at all; their GTs must be
        masked too); None = all real.

    Returns:
      (`LossTerms` summed over the batch, `Assignment`); the loss is `terms.total /
      max(num_fg, 1)`.
    """
    raw = raw.astype(jnp.float32)
    grid, strides = anchor_grid(*input_hw)
    assignment = simota_assign(raw, gt_boxes, gt_classes, gt_mask, input_hw)
    fg = assignment.foreground.astype(raw.dtype)
    target = jnp.take_along_axis(gt_boxes.astype(raw.dtype), assignment.matched_gt[..., None],
                                 axis=1)  # (N, A, 4)
    boxes = decode_boxes(raw[..., :4], grid, strides)
    per_iou = jax.vmap(iou_loss)(boxes, target)
    classes = jnp.take_along_axis(gt_classes, assignment.matched_gt, axis=1)
    cls_target = (jax.nn.one_hot(classes, raw.shape[-1] - 5, dtype=raw.dtype)
                  * assignment.matched_iou[..., None])
    per_cls = bce_with_logits(raw[..., 5:], cls_target).sum(-1)
    per_obj = bce_with_logits(raw[..., 4], fg).sum(-1)
    obj = jnp.sum(per_obj if image_mask is None else per_obj * image_mask)
    l1 = jnp.zeros((), raw.dtype)
    if use_l1:
        encoded = jnp.concatenate([target[..., :2] / strides - grid,
                                   jnp.log(target[..., 2:] / strides + 1e-8)], axis=-1)
        l1 = jnp.sum(jnp.abs(raw[..., :4] - encoded).sum(-1) * fg)
    terms = LossTerms(iou=jnp.sum(per_iou * fg), obj=obj, cls=jnp.sum(per_cls * fg), l1=l1,
                      num_fg=jnp.sum(fg))
    return terms, assignment
