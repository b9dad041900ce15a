"""The pose-dynamics GNN (docs/spec/method.md §3) in Flax linen (its loss: `training.losses`).

Interface: `GnnPose(config).apply(variables, graphs, features)` returns (N, K + 1) logits for
every node of a padded batch from `graphs.batch_graphs` (background last; only candidate rows
mean anything). `features` is (B, n + 1, Hf, Wf, 3W): graph b's HRNet feature maps, slot 0 the
current crop and slot f the crop of frame t - f (`build.py`'s `sample_frame`). B may be smaller
than the graph budget; padding graphs read graph B - 1's maps and are masked downstream.
`features` may be None when the visual cue is off.

Attention comes in two formulations of the same math (`GnnConfig.attention_impl`):
- "segment": per-edge gathers and segment softmax over (receiver, edge type).
- "dense": per-graph blocks (`layout.DenseLayout`) with edge masks: joints against the graph's
  n * K joint slots; candidates against the K slots of the most recent frame and their 8 grid
  neighbours (grid shifts, no gathers). It relies on `build_graph`'s node layout and is the
  faster, so the default (benchmarks/bench_gnn.py: about 3x on CPU at the tiny config).
On accelerators whose default float32 matmul precision is reduced (TF32), the two agree only
to that precision.

`GnnPose(config, dtype=jnp.bfloat16)` runs the dense layers (projections and MLPs) and the
query-key products in bfloat16; the logits, the softmax and the attention-weighted sums of
the values stay float32 (the values carry the sender positions, which bfloat16 would round to
a quarter cell at 32 cells and beyond), as do the LayerNorm statistics and the returned logits.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np

from gnnpose_jax.errors import ConfigError
from gnnpose_jax.graphs.build import NUM_EDGE_TYPES, GraphSpec
from gnnpose_jax.graphs.grid import NEIGHBOUR_OFFSETS
from gnnpose_jax.graphs.layout import (
    DenseLayout,
    SegmentGeometry,
    dense_layout,
    grid_neighbours,
    node_graph_index,
    segment_geometry,
)

ATTENTION_IMPLS = ("segment", "dense")


@dataclasses.dataclass(frozen=True)
class GnnConfig:
    """Architecture switches of the GNN; every [ours] choice of docs/spec/method.md is one.

    Attributes:
      graph: the graph settings (history n, K, candidate grid and stride).
      hidden: D, the node feature width.
      layers: L, the number of attention layers.
      heads: H, attention heads per edge type.
      typed_edges: separate weights and softmax per edge type; off treats all edges as one type.
      relative_position_bias: subtract softplus(w_{e,h}) * |p_i - p_j|^2 from the logits.
      relative_offsets: feed each head's attention-weighted sender offset
        sum_j alpha_ij (p_j - p_i) to the message MLP [ours; `TypedAttention`].
      distance_weight_init: (lowest, highest) initial softplus(w); heads are spaced
        geometrically between them, so heads start at different spatial ranges [ours].
      use_visual: the sampled HRNet feature cue.
      use_position: the (dx, dy, score) cue.
      use_type: the joint-type embedding cue.
      attention_impl: "segment" or "dense" (identical outputs).
    """

    graph: GraphSpec
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    typed_edges: bool = True
    relative_position_bias: bool = True
    relative_offsets: bool = True
    distance_weight_init: tuple[float, float] = (1.0, 1000.0)
    use_visual: bool = True
    use_position: bool = True
    use_type: bool = True
    attention_impl: str = "dense"

    def __post_init__(self):
        """Rejects inconsistent settings with one line naming the field."""
        if self.hidden < 1 or self.heads < 1 or self.hidden % self.heads:
            raise ConfigError(
                f"gnn.hidden {self.hidden} must be a positive multiple of gnn.heads {self.heads}")
        if self.layers < 0:
            raise ConfigError(f"gnn.layers {self.layers} must be >= 0")
        if self.attention_impl not in ATTENTION_IMPLS:
            raise ConfigError(
                f"gnn.attention_impl {self.attention_impl!r} must be one of {ATTENTION_IMPLS}")
        if not (self.use_visual or self.use_position or self.use_type):
            raise ConfigError("gnn.use_visual, use_position and use_type are all off; need one")
        lo, hi = self.distance_weight_init
        if not 0 < lo <= hi:
            raise ConfigError(f"gnn.distance_weight_init {self.distance_weight_init} must be "
                              "0 < lowest <= highest")

    @property
    def num_edge_types(self) -> int:
        """T: 2 with typed edges, else 1."""
        return NUM_EDGE_TYPES if self.typed_edges else 1


class Mlp(nn.Module):
    """Two dense layers with a ReLU between them, computed in `dtype`."""

    hidden: int
    out: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """(..., F) -> (..., out)."""
        hidden = nn.relu(nn.Dense(self.hidden, dtype=self.dtype, name="hidden")(x))
        return nn.Dense(self.out, dtype=self.dtype, name="out")(hidden)


def sample_features(
    features: jnp.ndarray, graph: jnp.ndarray, frame: jnp.ndarray, xy: jnp.ndarray
) -> jnp.ndarray:
    """Bilinearly samples feature maps at node positions, zero outside the map.

    Args:
      features: (B, F, Hf, Wf, C) feature maps, F per graph.
      graph: (N,) graph index of each node, clipped into 0..B-1.
      frame: (N,) which of the graph's F maps the node reads.
      xy: (N, 2) feature-grid (x, y); integer values are cell centres.

    Returns:
      (N, C) sampled features.
    """
    b, f, hf, wf, ch = features.shape
    flat = features.reshape(-1, ch)
    base = (jnp.clip(graph, 0, b - 1) * f + jnp.clip(frame, 0, f - 1)) * hf
    x0, y0 = jnp.floor(xy[:, 0]), jnp.floor(xy[:, 1])
    fx, fy = xy[:, 0] - x0, xy[:, 1] - y0
    x0, y0 = x0.astype(jnp.int32), y0.astype(jnp.int32)
    out = jnp.zeros((xy.shape[0], ch), features.dtype)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi < wf) & (yi >= 0) & (yi < hf)
            idx = (base + jnp.clip(yi, 0, hf - 1)) * wf + jnp.clip(xi, 0, wf - 1)
            out = out + flat[idx] * jnp.where(inside, wx * wy, 0.0)[:, None].astype(out.dtype)
    return out


def segment_attention(
    q: jnp.ndarray,
    k: jnp.ndarray,
    v: jnp.ndarray,
    distance_weight: jnp.ndarray | None,
    geometry: SegmentGeometry,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Typed multi-head attention with segment ops over (receiver, edge type).

    Args:
      q, k: (N, T, H, Dh) per-type projections of every node (any float dtype).
      v: (N, T, H, Dv) values (Dv may differ from Dh).
      distance_weight: (T, H) softplus(w), or None for no distance term.
      geometry: the batch's edges, sorted by (receiver, type).

    Returns:
      (N, T, H, Dv) attention-weighted sums, and (N, T) bool: the node has edges of type t.
      The logits are summed, and the softmax taken, in float32.
    """
    n, t, heads, dh = q.shape
    dv = v.shape[-1]
    seg = geometry.receivers * t + geometry.types
    src = geometry.senders * t + geometry.types
    q, k = (x.reshape(n * t, heads, dh) for x in (q, k))
    v = v.reshape(n * t, heads, dv)
    logits = jnp.sum(q[seg] * k[src], axis=-1, dtype=jnp.float32) / math.sqrt(dh)  # (E, H)
    if distance_weight is not None:
        logits = logits - distance_weight[geometry.types] * geometry.d2[:, None]
    # The softmax is shift-invariant, so the peak needs no gradient.
    peak = jax.lax.stop_gradient(
        jax.ops.segment_max(logits, seg, n * t, indices_are_sorted=True))
    weights = jnp.exp(logits - peak[seg])
    denom = jax.ops.segment_sum(weights, seg, n * t, indices_are_sorted=True)
    total = jax.ops.segment_sum(weights[..., None] * v[src], seg, n * t, indices_are_sorted=True)
    has = denom[:, 0] > 0
    agg = total / jnp.where(has[:, None], denom, 1.0)[..., None]
    return agg.reshape(n, t, heads, dv), has.reshape(n, t)


def _masked_softmax(
    logits: jnp.ndarray, mask: jnp.ndarray, axis: int
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Softmax over `axis` restricted to `mask`; all-masked rows give zeros (and False)."""
    masked = jnp.where(mask, logits, -jnp.inf)
    peak = jax.lax.stop_gradient(jnp.max(masked, axis=axis, keepdims=True))
    weights = jnp.exp(masked - jnp.where(jnp.isfinite(peak), peak, 0.0))
    denom = jnp.sum(weights, axis=axis, keepdims=True)
    has = denom > 0
    return weights / jnp.where(has, denom, 1.0), jnp.squeeze(has, axis)


def dense_attention(
    q: jnp.ndarray,
    k: jnp.ndarray,
    v: jnp.ndarray,
    distance_weight: jnp.ndarray | None,
    layout: DenseLayout,
    grid_shape: tuple[int, int],
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The same attention as `segment_attention`, computed in per-graph dense blocks.

    Args:
      q, k: (N, T, H, Dh) per-type projections of every node (any float dtype).
      v: (N, T, H, Dv) values (Dv may differ from Dh).
      distance_weight: (T, H) softplus(w), or None for no distance term.
      layout: the batch's dense blocks.
      grid_shape: (Hc, Wc), the candidate grid.

    Returns:
      (N, T, H, Dv) attention-weighted sums, and (N, T) bool: the node has edges of type t.
      The logits are accumulated, and the softmax taken, in float32.
    """
    n, t, heads, dh = q.shape
    g = layout.slot_node.shape[0]
    s = layout.joint_mask.shape[-1]
    recent = layout.candidate_mask.shape[-1] - len(NEIGHBOUR_OFFSETS)
    hc, wc = grid_shape
    c = hc * wc
    slots = jnp.clip(layout.slot_node, 0, n - 1)
    # (G, T, H, R, Dh): slots on the minor axes, so the blocks are plain batched matmuls.
    q, k, v = (x[slots].transpose(0, 2, 3, 1, 4) for x in (q, k, v))
    scale = 1.0 / math.sqrt(dh)

    def neighbours(x):
        """Candidate values x (G, T, H, C, d) -> their grid neighbours (G, T, H, C, 8, d)."""
        d = x.shape[-1]
        x = grid_neighbours(x.reshape(g, t, heads, hc, wc, d), row_axis=3)
        return x.reshape(g, t, heads, c, len(NEIGHBOUR_OFFSETS), d)

    kj, vj, qc = k[..., :s, :], v[..., :s, :], q[..., s:, :]
    logits = functools.partial(jnp.einsum, preferred_element_type=jnp.float32)
    joint_logits = logits("gthrd,gthsd->gthrs", q[..., :s, :], kj) * scale
    recent_logits = logits("gthcd,gthsd->gthcs", qc, kj[..., :recent, :]) * scale
    near_logits = logits("gthcd,gthcod->gthco", qc, neighbours(k[..., s:, :])) * scale
    cand_logits = jnp.concatenate([recent_logits, near_logits], axis=-1)
    if distance_weight is not None:
        w = distance_weight[None, :, :, None, None]
        joint_logits = joint_logits - w * layout.joint_d2[:, None, None]
        cand_logits = cand_logits - w * layout.candidate_d2[:, None, None]
    joint_alpha, joint_has = _masked_softmax(joint_logits, layout.joint_mask[:, :, None], -1)
    cand_alpha, cand_has = _masked_softmax(cand_logits, layout.candidate_mask[:, :, None], -1)
    joint_out = jnp.einsum("gthrs,gthsd->gthrd", joint_alpha, vj)
    cand_out = jnp.einsum("gthcs,gthsd->gthcd", cand_alpha[..., :recent], vj[..., :recent, :])
    cand_out = cand_out + jnp.einsum("gthco,gthcod->gthcd", cand_alpha[..., recent:],
                                     neighbours(v[..., s:, :]))
    out = jnp.concatenate([joint_out, cand_out], axis=3).transpose(0, 3, 1, 2, 4)
    has = jnp.concatenate([joint_has, cand_has], axis=-1)[:, :, 0].transpose(0, 2, 1)
    agg = jnp.zeros((n, t, heads, v.shape[-1]), out.dtype).at[layout.slot_node].set(
        out, mode="drop")
    has = jnp.zeros((n, t), bool).at[layout.slot_node].set(has, mode="drop")
    return agg, has


def _distance_weight_init(lowest: float, highest: float):
    """Initialiser of w (T, H) with softplus(w) spaced geometrically over heads."""

    def init(key, shape, dtype=jnp.float32):
        """Deterministic: the key is unused."""
        del key
        target = np.geomspace(lowest, highest, shape[-1])
        w = target + np.log(-np.expm1(-target))  # inverse softplus, stable for large targets
        return jnp.broadcast_to(jnp.asarray(w, dtype), shape)

    return init


#: Relative offsets reach the message MLP in units of a tenth of the last pose box's longer
#: side, so that they are of order one.
OFFSET_SCALE = 10.0


class TypedAttention(nn.Module):
    """One GNN layer: typed multi-head attention, per-type message MLPs, residual update.

    With `relative_offsets`, each head also averages its senders' positions with its attention
    weights; the offset of that mean from the receiver, sum_j alpha_ij (p_j - p_i), joins the
    head's message. After the softmax a message no longer says how far its senders are, so
    without the offset a candidate cannot tell "at joint k" from "one cell beside joint k".
    """

    config: GnnConfig
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, h: jnp.ndarray, geometry: SegmentGeometry | DenseLayout,
                 pos: jnp.ndarray) -> jnp.ndarray:
        """(N, D) node features and (N, 2) positions -> (N, D) updated features."""
        cfg = self.config
        t, heads = cfg.num_edge_types, cfg.heads
        dh = cfg.hidden // heads
        q, k, v = (nn.DenseGeneral((t, heads, dh), dtype=self.dtype, name=name)(h)
                   for name in ("query", "key", "value"))
        # The weighted sums of the values run in float32 (module docstring).
        v = v.astype(jnp.float32)
        n = h.shape[0]
        if cfg.relative_offsets:
            # Positions ride along as two extra value channels, so both attention
            # formulations return the weighted mean position with no extra code.
            v = jnp.concatenate(
                [v, jnp.broadcast_to(pos[:, None, None].astype(v.dtype), (n, t, heads, 2))], -1)
        weight = None
        if cfg.relative_position_bias:
            w = self.param("distance_weight", _distance_weight_init(*cfg.distance_weight_init),
                           (t, heads))
            weight = jax.nn.softplus(w)
        if cfg.attention_impl == "dense":
            agg, has = dense_attention(q, k, v, weight, geometry, cfg.graph.grid.shape)
        else:
            agg, has = segment_attention(q, k, v, weight, geometry)
        inputs = agg[..., :dh].reshape(n, t, cfg.hidden)
        if cfg.relative_offsets:
            offsets = (agg[..., dh:] - pos[:, None, None]) * OFFSET_SCALE
            inputs = jnp.concatenate([inputs, offsets.reshape(n, t, 2 * heads)], -1)
        message = sum(
            Mlp(cfg.hidden, cfg.hidden, self.dtype, name=f"message_{e}")(inputs[:, e])
            * has[:, e, None] for e in range(t))
        update = Mlp(cfg.hidden, cfg.hidden, self.dtype, name="update")(
            jnp.concatenate([h, message], -1))
        # Flax computes the LayerNorm statistics in float32 whatever `dtype` is.
        return nn.LayerNorm(dtype=self.dtype, name="norm")(h + update)


class GnnPose(nn.Module):
    """Cue MLPs, L typed attention layers and the K + 1-class head (module docstring).

    Attributes:
      config: the architecture.
      dtype: compute dtype (params stay float32; the logits are float32).
    """

    config: GnnConfig
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(
        self, graphs: jraph.GraphsTuple, features: jnp.ndarray | None = None
    ) -> jnp.ndarray:
        """Padded batch (N nodes) and (B, n + 1, Hf, Wf, C) features -> (N, K + 1) logits."""
        cfg = self.config
        nodes = graphs.nodes
        cues = []
        if cfg.use_visual:
            if features is None:
                raise ValueError("GnnPose: use_visual is on but no features were given")
            visual = sample_features(features, node_graph_index(graphs), nodes["sample_frame"],
                                     nodes["sample_xy"])
            cues.append(Mlp(cfg.hidden, cfg.hidden, self.dtype, name="visual_mlp")(visual))
        if cfg.use_type:
            embedded = nn.Embed(cfg.graph.num_joints + 1, cfg.hidden, dtype=self.dtype,
                                name="type_embed")(nodes["joint_type"])
            cues.append(Mlp(cfg.hidden, cfg.hidden, self.dtype, name="type_mlp")(embedded))
        if cfg.use_position:
            position = jnp.concatenate([nodes["pos"], nodes["score"][:, None]], axis=-1)
            cues.append(Mlp(cfg.hidden, cfg.hidden, self.dtype, name="position_mlp")(position))
        h = sum(cues) / len(cues)
        if cfg.attention_impl == "dense":
            geometry = dense_layout(graphs, cfg.graph, cfg.typed_edges)
        else:
            geometry = segment_geometry(graphs, cfg.typed_edges)
        for i in range(cfg.layers):
            h = TypedAttention(cfg, self.dtype, name=f"layer_{i}")(h, geometry, nodes["pos"])
        logits = Mlp(cfg.hidden, cfg.graph.num_joints + 1, self.dtype, name="head")(h)
        return logits.astype(jnp.float32)
