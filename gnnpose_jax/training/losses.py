"""Training losses (HRNet heatmaps, GNN candidates) as (sum, count) pairs.

Data-parallel steps divide global totals: a per-device mean of per-device means weighs devices
equally whatever they hold (padding, visible joints, candidates); dividing the psum of the sums
by the psum of the counts gives the loss of the global batch exactly. Only training calls them:
the models' inference never does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph

from gnnpose_jax.errors import ConfigError
from gnnpose_jax.graphs.layout import candidate_mask, node_graph_index

#: The official JointsMSELoss halves the squared error.
MSE_FACTOR = 0.5
#: The GNN's candidate losses (`gnn.loss`).
LOSSES = ("weighted_ce", "focal")


def heatmap_loss(predicted: jnp.ndarray, target: jnp.ndarray, weight: jnp.ndarray,
                 mask: jnp.ndarray | None = None) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The official HRNet JointsMSELoss with target weights, as an unnormalised sum.

    Official: `mean_k 0.5 * mean_{n, pixels} (w_nk * pred - w_nk * gt)^2`, i.e. the sum below
    divided by the count below.

    Args:
      predicted: (N, h, w, K) network heatmaps.
      target: (N, h, w, K) target Gaussians.
      weight: (N, K) joint weights (visibility, 0 for absent joints).
      mask: optional (N,) bool, False for padding examples (they count for nothing).

    Returns:
      (sum, count): the summed `0.5 * w^2 * (pred - gt)^2` over examples, pixels and joints,
      and `real examples * K * h * w` (absent joints count in the denominator, as officially).
    """
    n, h, w, k = predicted.shape
    weight = weight.astype(jnp.float32)
    if mask is not None:
        weight = weight * mask[:, None].astype(jnp.float32)
    squared = jnp.square(predicted.astype(jnp.float32) - target.astype(jnp.float32))
    per_joint = jnp.sum(squared, axis=(1, 2))  # (N, K)
    total = MSE_FACTOR * jnp.sum(jnp.square(weight) * per_joint)
    examples = n if mask is None else jnp.sum(mask)
    return total, jnp.asarray(examples, jnp.float32) * (k * h * w)


def _balanced_weights(
    valid: jnp.ndarray, background: jnp.ndarray, graph: jnp.ndarray, n_graph: int
) -> jnp.ndarray:
    """Per-candidate weights giving foreground and background equal weight in each graph.

    In a graph with n_fg foreground and n_bg background candidates (n = n_fg + n_bg), they
    weigh n / (2 n_fg) and n / (2 n_bg), so each class sums to n / 2; a graph with only one
    class weighs 1 per candidate. Either way a graph's weights sum to n.
    """
    fg, bg = valid & ~background, valid & background
    n_fg = jax.ops.segment_sum(fg.astype(jnp.float32), graph, n_graph)
    n_bg = jax.ops.segment_sum(bg.astype(jnp.float32), graph, n_graph)
    both = (n_fg > 0) & (n_bg > 0)
    total = n_fg + n_bg
    w_fg = jnp.where(both, total / (2.0 * jnp.maximum(n_fg, 1.0)), 1.0)
    w_bg = jnp.where(both, total / (2.0 * jnp.maximum(n_bg, 1.0)), 1.0)
    return jnp.where(fg, w_fg[graph], 0.0) + jnp.where(bg, w_bg[graph], 0.0)


def candidate_loss(
    logits: jnp.ndarray,
    graphs: jraph.GraphsTuple,
    kind: str = "weighted_ce",
    focal_gamma: float = 2.0,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The candidate classification loss of a batch (docs/spec/method.md §3), unnormalised.

    Only candidates of real graphs with a target (>= 0) count.

    Args:
      logits: (N, K + 1) from `GnnPose`.
      graphs: the padded batch, with `target` in its nodes.
      kind: "weighted_ce" (class-balanced per graph) or "focal" (unweighted focal loss).
      focal_gamma: the focal exponent.

    Returns:
      (loss sum, count): the summed per-candidate losses and the number of counted candidates,
      which is also the sum of the weighted-CE weights. Divide the global sums.
    """
    if kind not in LOSSES:
        raise ConfigError(f"gnn.loss {kind!r} must be one of {LOSSES}")
    target = graphs.nodes["target"]
    valid = candidate_mask(graphs) & (target >= 0)
    log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    log_p = jnp.take_along_axis(log_p, jnp.clip(target, 0)[:, None], axis=-1)[:, 0]
    if kind == "weighted_ce":
        weight = _balanced_weights(valid, target == logits.shape[-1] - 1,
                                   node_graph_index(graphs), graphs.n_node.shape[0])
        per = -weight * log_p
    else:
        per = -((1.0 - jnp.exp(log_p)) ** focal_gamma) * log_p
    return jnp.sum(jnp.where(valid, per, 0.0)), jnp.sum(valid).astype(jnp.float32)
