"""Pure, module-level train and eval steps of every mode, meant to be `jax.pmap`-ed over `AXIS`.

The driver wraps each step once, `jax.pmap(functools.partial(step, **static), axis_name=AXIS,
donate_argnums=(0,))` for training. Inside a step:
- the loss is the global batch's: each device divides its loss sum by the psum of the counts,
  so the global gradient is the psum of the per-device gradients;
- BatchNorm statistics (HRNet mode) are computed per device, as in the official code, and their
  running averages are pmean-ed so that every device keeps the same copy;
- the per-device key is `fold_in(fold_in(rng, step), axis_index)`;
- the networks compute in the run's `compute_dtype` but return float32, so losses, metrics and
  gradients (of the float32 parameters) are float32 (docs/training.md, Mixed precision).

Batch contracts (one device's share; N examples, K joints, F = n + 1 crops per GNN sample):
- HRNet train: `image` (N, H, W, 3) float32 normalised, `heatmaps` (N, h, w, K),
  `target_weight` (N, K), `mask` (N,) bool (False for padding examples).
- HRNet eval: the same plus `joints` (N, K, 4) [x, y, annotated, visible] in input (crop) pixels.
- GNN train: `crops` (N, F, H, W, 3) float32 normalised and `graphs`, a padded
  `jraph.GraphsTuple` of N real graphs (`graphs.batch_graphs`).
- GNN eval: the same plus `grid_to_image` (N, 2, 3) candidate grid -> image (or window frame),
  `gt` (N, K, 4) [x, y, annotated, visible] in that frame and `mask` (N,).
- Detector (train and eval): `image` (N, H, W, 3) float32 BGR 0..255 letterboxed, `boxes`
  (N, G, 4) cx, cy, w, h input pixels, `classes` (N, G) int32, `box_mask` (N, G) bool and
  `mask` (N,) bool (False for padding examples, whose boxes are masked too).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from gnnpose_jax.graphs.decode import decode_poses
from gnnpose_jax.graphs.grid import CandidateGrid
from gnnpose_jax.graphs.layout import candidate_mask
from gnnpose_jax.models.detect import person_boxes
from gnnpose_jax.models.yolox import anchor_grid
from gnnpose_jax.training.accuracy import head_sizes, heatmap_peaks, pckh_counts
from gnnpose_jax.training.distributed import AXIS
from gnnpose_jax.training.losses import candidate_loss, heatmap_loss
from gnnpose_jax.training.state import TrainState, step_rng
from gnnpose_jax.training.yolox_loss import decode_boxes, yolox_loss

Batch = dict[str, Any]
Metrics = dict[str, jax.Array]


def _global_total(count: jax.Array) -> jax.Array:
    """The psum of a count over devices, at least 1 (a batch may hold nothing to count)."""
    return jnp.maximum(jax.lax.psum(jax.lax.stop_gradient(count), AXIS), 1.0)


def _apply_update(state: TrainState, grads: Any, loss_sum: jax.Array, count: jax.Array,
                  **replace: Any) -> tuple[TrainState, Metrics]:
    """Sums per-device gradients, applies them and reports the global loss and norms."""
    # Each device's loss is its share of the global mean, so gradients add up over devices.
    grads = jax.lax.psum(grads, AXIS)
    new_state = state.apply_gradients(grads=grads, **replace)
    metrics = {
        "loss": jax.lax.psum(loss_sum, AXIS) / _global_total(count),
        "grad_norm": optax.tree.norm(grads),
        "param_norm": optax.tree.norm(new_state.params),
    }
    return new_state, metrics


def hrnet_train_step(state: TrainState, batch: Batch, rng: jax.Array
                     ) -> tuple[TrainState, Metrics]:
    """One HRNet update on the heatmap MSE, BatchNorm in train mode.

    Args:
      state: this device's replica of the state.
      batch: this device's HRNet train batch (module docstring).
      rng: the run's base key (replicated).

    Returns:
      The updated state and the global-batch metrics `loss`, `grad_norm`, `param_norm`.
    """
    key = step_rng(rng, state.step, AXIS)

    def loss_fn(params):
        """This device's share of the global loss, with its sum, count and BN statistics."""
        out, updates = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats}, batch["image"], train=True,
            mutable=["batch_stats"], rngs={"dropout": key})
        loss_sum, count = heatmap_loss(out.heatmaps, batch["heatmaps"], batch["target_weight"],
                                       batch["mask"])
        return loss_sum / _global_total(count), (loss_sum, count, updates["batch_stats"])

    grads, (loss_sum, count, batch_stats) = jax.grad(loss_fn, has_aux=True)(state.params)
    batch_stats = jax.lax.pmean(batch_stats, AXIS)
    return _apply_update(state, grads, loss_sum, count, batch_stats=batch_stats)


def hrnet_eval_step(state: TrainState, batch: Batch) -> Metrics:
    """Global sums of the validation loss and PCKh@0.5 of one HRNet eval batch.

    Args:
      state: this device's replica.
      batch: this device's HRNet eval batch (module docstring).

    Returns:
      `loss_sum`, `loss_count` and the correct and counted joints of PCKh@0.5 over all annotated
      joints (`pckh_*`), the visible ones (`pckh_visible_*`) and the hidden ones
      (`pckh_hidden_*`), summed over devices.
    """
    out = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats},
                         batch["image"], train=False)
    loss_sum, loss_count = heatmap_loss(out.heatmaps, batch["heatmaps"], batch["target_weight"],
                                        batch["mask"])
    joints = batch["joints"]
    _, h, w, _ = out.heatmaps.shape
    in_h, in_w = batch["image"].shape[1:3]
    # Heatmap cell (u, v) is input pixel (u * in_w / w, v * in_h / h), as in decoding.
    predicted = heatmap_peaks(out.heatmaps) * jnp.array([in_w / w, in_h / h])
    present = (joints[..., 2] > 0) & batch["mask"][:, None]
    visible = present & (joints[..., 3] > 0)
    sums = {"loss_sum": loss_sum, "loss_count": loss_count}
    for name, scored in (("pckh", present), ("pckh_visible", visible),
                         ("pckh_hidden", present & ~visible)):
        sums[f"{name}_correct"], sums[f"{name}_count"] = pckh_counts(
            predicted, joints[..., :2], scored, head_sizes(joints))
    return jax.lax.psum(sums, AXIS)


def crop_features(state: TrainState, crops: jax.Array) -> jax.Array:
    """The frozen HRNet's features of every sample's n + 1 crops.

    Args:
      state: holds the frozen HRNet in `frozen` / `frozen_apply_fn`.
      crops: (N, F, H, W, 3) normalised crops.

    Returns:
      (N, F, H/4, W/4, 3W) features, without gradient.
    """
    n, f = crops.shape[:2]
    out = state.frozen_apply_fn(state.frozen, crops.reshape(n * f, *crops.shape[2:]),
                                train=False)
    features = out.features.reshape(n, f, *out.features.shape[1:])
    return jax.lax.stop_gradient(features)


def gnn_train_step(state: TrainState, batch: Batch, rng: jax.Array, loss: str = "weighted_ce",
                   focal_gamma: float = 2.0) -> tuple[TrainState, Metrics]:
    """One GNN update on the candidate loss, with the frozen HRNet run on the crops.

    Args:
      state: this device's replica (GNN params; frozen HRNet).
      batch: this device's GNN train batch (module docstring).
      rng: the run's base key (replicated).
      loss: `candidate_loss` kind, "weighted_ce" or "focal".
      focal_gamma: the focal exponent.

    Returns:
      The updated state and the global-batch metrics `loss`, `grad_norm`, `param_norm`.
    """
    key = step_rng(rng, state.step, AXIS)
    features = crop_features(state, batch["crops"])

    def loss_fn(params):
        """This device's share of the global loss, with its sum and count."""
        logits = state.apply_fn({"params": params}, batch["graphs"], features,
                                rngs={"dropout": key})
        loss_sum, count = candidate_loss(logits, batch["graphs"], loss, focal_gamma)
        return loss_sum / _global_total(count), (loss_sum, count)

    grads, (loss_sum, count) = jax.grad(loss_fn, has_aux=True)(state.params)
    return _apply_update(state, grads, loss_sum, count)


def gnn_eval_step(state: TrainState, batch: Batch, grid: CandidateGrid, decode_radius: int = 0,
                  loss: str = "weighted_ce", focal_gamma: float = 2.0) -> Metrics:
    """Global sums of the validation loss, candidate accuracy and decoded-pose PCKh@0.5.

    Args:
      state: this device's replica.
      batch: this device's GNN eval batch (module docstring).
      grid: the candidate grid (static).
      decode_radius: the decoder's sub-cell refinement (`decode_grid`).
      loss: `candidate_loss` kind.
      focal_gamma: the focal exponent.

    Returns:
      `loss_sum`, `loss_count`, `candidate_correct`, `candidate_count` (foreground candidates
      whose argmax class is their target) and the correct and counted joints of PCKh@0.5 over
      all annotated joints (`pckh_*`), the visible ones (`pckh_visible_*`) and the hidden ones
      (`pckh_hidden_*`), as `hrnet_eval_step`, summed over devices.
    """
    graphs = batch["graphs"]
    logits = state.apply_fn({"params": state.params}, graphs,
                            crop_features(state, batch["crops"]))
    loss_sum, loss_count = candidate_loss(logits, graphs, loss, focal_gamma)
    target = graphs.nodes["target"]
    foreground = candidate_mask(graphs) & (target >= 0) & (target < logits.shape[-1] - 1)
    hit = foreground & (jnp.argmax(logits, axis=-1) == target)
    poses = decode_poses(logits, graphs, batch["grid_to_image"], grid, radius=decode_radius)
    gt = batch["gt"]
    present = (gt[..., 2] > 0) & batch["mask"][:, None]
    visible = present & (gt[..., 3] > 0)
    sums = {"loss_sum": loss_sum, "loss_count": loss_count,
            "candidate_correct": jnp.sum(hit).astype(jnp.float32),
            "candidate_count": jnp.sum(foreground).astype(jnp.float32)}
    for name, scored in (("pckh", present), ("pckh_visible", visible),
                         ("pckh_hidden", present & ~visible)):
        sums[f"{name}_correct"], sums[f"{name}_count"] = pckh_counts(
            poses[..., :2], gt[..., :2], scored, head_sizes(gt))
    return jax.lax.psum(sums, AXIS)


def detector_train_step(state: TrainState, batch: Batch, rng: jax.Array, l1_from_step: int = 0
                        ) -> tuple[TrainState, Metrics]:
    """One YOLOX update on the SimOTA loss, BatchNorm in train mode.

    Args:
      state: this device's replica.
      batch: this device's detector batch (module docstring).
      rng: the run's base key (unused: YOLOX draws nothing; kept for the common signature).
      l1_from_step: updates from this step on add the L1 box loss (the last epochs).

    Returns:
      The updated state and the global-batch metrics `loss` (per foreground anchor),
      `grad_norm`, `param_norm`.
    """
    del rng
    images = batch["image"]
    use_l1 = (state.step >= l1_from_step).astype(jnp.float32)

    def loss_fn(params):
        """This device's share of the global loss, with its sum, count and BN statistics."""
        raw, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats},
                                      images, train=True, mutable=["batch_stats"])
        terms, _ = yolox_loss(raw, batch["boxes"], batch["classes"], batch["box_mask"],
                              images.shape[1:3], use_l1=True, image_mask=batch["mask"])
        terms = terms._replace(l1=terms.l1 * use_l1)
        return terms.total / _global_total(terms.num_fg), (terms.total, terms.num_fg,
                                                           updates["batch_stats"])

    grads, (loss_sum, count, batch_stats) = jax.grad(loss_fn, has_aux=True)(state.params)
    batch_stats = jax.lax.pmean(batch_stats, AXIS)
    return _apply_update(state, grads, loss_sum, count, batch_stats=batch_stats)


def detector_eval_step(state: TrainState, batch: Batch, conf: float = 0.001, nms: float = 0.65,
                       max_boxes: int = 100) -> Metrics:
    """The validation loss sums and every image's person boxes of one detector eval batch.

    Args:
      state: this device's replica.
      batch: this device's detector batch (module docstring).
      conf, nms, max_boxes: `person_boxes`' thresholds (COCO evaluation's by default).

    Returns:
      `loss_sum`, `loss_count` (foreground anchors), summed over devices, and this device's
      `boxes` (N, M, 5) [x, y, w, h, score] in input pixels with `box_valid` (N, M).
    """
    images = batch["image"]
    raw = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, images,
                         train=True)
    terms, _ = yolox_loss(raw, batch["boxes"], batch["classes"], batch["box_mask"],
                          images.shape[1:3], image_mask=batch["mask"])
    grid, strides = anchor_grid(*images.shape[1:3])
    decoded = jnp.concatenate([decode_boxes(raw[..., :4], grid, strides),
                               jax.nn.sigmoid(raw[..., 4:])], axis=-1)
    found = person_boxes(decoded, jnp.ones(images.shape[0]), conf, nms, max_boxes)
    sums = jax.lax.psum({"loss_sum": terms.total, "loss_count": terms.num_fg}, AXIS)
    return {**sums, "boxes": found.boxes, "box_valid": found.valid}
