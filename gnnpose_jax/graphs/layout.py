"""Where nodes and edges sit in a padded batch: masks, indices and attention layouts (jittable).

All functions take a batch from `batch_graphs` (NumPy or traced arrays) with N nodes, E edges
and G graphs (the real ones first, then padding graphs). Real graphs follow `build_graph`'s
layout: their joint nodes first, then exactly C candidates in row-major grid order.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import jraph
import numpy as np

from gnnpose_jax.graphs.build import GraphSpec
from gnnpose_jax.graphs.grid import NEIGHBOUR_OFFSETS


def num_nodes(graphs: jraph.GraphsTuple) -> int:
    """N, the static number of (padded) nodes."""
    return graphs.nodes["pos"].shape[0]


def node_mask(graphs: jraph.GraphsTuple) -> jnp.ndarray:
    """(N,) bool, True for real nodes."""
    return jraph.get_node_padding_mask(graphs)


def graph_mask(graphs: jraph.GraphsTuple) -> jnp.ndarray:
    """(G,) bool, True for real graphs."""
    return jraph.get_graph_padding_mask(graphs)


def candidate_mask(graphs: jraph.GraphsTuple) -> jnp.ndarray:
    """(N,) bool, True for the candidates of real graphs."""
    return node_mask(graphs) & graphs.nodes["is_candidate"]


def node_graph_index(graphs: jraph.GraphsTuple) -> jnp.ndarray:
    """(N,) int32, the graph each node belongs to (padding nodes: the padding graph)."""
    n_graph = graphs.n_node.shape[0]
    return jnp.repeat(jnp.arange(n_graph, dtype=jnp.int32), graphs.n_node,
                      total_repeat_length=num_nodes(graphs))


def graph_offsets(graphs: jraph.GraphsTuple) -> jnp.ndarray:
    """(G,) int32, the index of each graph's first node."""
    n_node = jnp.asarray(graphs.n_node, jnp.int32)
    return jnp.cumsum(n_node) - n_node


def candidate_node_index(graphs: jraph.GraphsTuple, num_candidates: int) -> jnp.ndarray:
    """(G, C) int32 node index of each graph's candidates (clipped, meaningless for padding)."""
    first = graph_offsets(graphs) + jnp.asarray(graphs.n_node, jnp.int32) - num_candidates
    index = first[:, None] + jnp.arange(num_candidates, dtype=jnp.int32)
    return jnp.clip(index, 0, num_nodes(graphs) - 1)


def candidate_grid_values(
    values: jnp.ndarray, graphs: jraph.GraphsTuple, grid_shape: tuple[int, int]
) -> jnp.ndarray:
    """Arranges per-node values (N, ...) of each graph's candidates as (G, Hc, Wc, ...)."""
    hc, wc = grid_shape
    picked = values[candidate_node_index(graphs, hc * wc)]
    return picked.reshape(picked.shape[:1] + (hc, wc) + picked.shape[2:])


def grid_neighbours(x: jnp.ndarray, row_axis: int = 1) -> jnp.ndarray:
    """Stacks the 8 grid neighbours of every cell, zero outside the grid.

    Args:
      x: an array whose axes row_axis and row_axis + 1 are the (Hc, Wc) grid.
      row_axis: the grid's row axis.

    Returns:
      out with a new axis of size 8 after the grid: out[.., r, c, o, ..] = x[.., r + dr, c + dc, ..]
      for (dr, dc) = NEIGHBOUR_OFFSETS[o].
    """
    hc, wc = x.shape[row_axis:row_axis + 2]
    pad = [(0, 0)] * x.ndim
    pad[row_axis] = pad[row_axis + 1] = (1, 1)
    padded = jnp.pad(x, pad)  # once, then 8 static slices
    index = [slice(None)] * x.ndim
    shifted = []
    for dr, dc in NEIGHBOUR_OFFSETS:
        index[row_axis] = slice(1 + dr, 1 + dr + hc)
        index[row_axis + 1] = slice(1 + dc, 1 + dc + wc)
        shifted.append(padded[tuple(index)])
    return jnp.stack(shifted, axis=row_axis + 2)


def _edge_types(graphs: jraph.GraphsTuple, typed: bool) -> jnp.ndarray:
    """(E,) int32 edge types, or all zeros when edge types are off."""
    types = jnp.asarray(graphs.edges["edge_type"], jnp.int32)
    return types if typed else jnp.zeros_like(types)


class SegmentGeometry(NamedTuple):
    """Edge lists for segment-op attention.

    Attributes:
      senders: (E,) int32.
      receivers: (E,) int32, sorted, with types sorted within a receiver.
      types: (E,) int32 edge type (0 everywhere when edge types are off).
      d2: (E,) float32 squared distance between receiver and sender positions.
    """

    senders: jnp.ndarray
    receivers: jnp.ndarray
    types: jnp.ndarray
    d2: jnp.ndarray


def segment_geometry(graphs: jraph.GraphsTuple, typed: bool) -> SegmentGeometry:
    """The edge lists and per-edge squared distances of a batch."""
    pos = graphs.nodes["pos"]
    senders = jnp.asarray(graphs.senders, jnp.int32)
    receivers = jnp.asarray(graphs.receivers, jnp.int32)
    d2 = jnp.sum((pos[receivers] - pos[senders]) ** 2, axis=-1)
    return SegmentGeometry(senders, receivers, _edge_types(graphs, typed), d2)


class DenseLayout(NamedTuple):
    """Per-graph dense blocks for masked attention.

    Each graph gets R = S + C receiver slots: S = n * K joint slots (in node order, unused
    slots empty), then its C candidates. Joint receivers attend over the S joint slots.
    Candidate receivers attend over the first K joint slots (where `build_graph` puts the most
    recent history frame, the only one linked to candidates), then their 8 grid neighbours in
    `grid.NEIGHBOUR_OFFSETS` order.

    Attributes:
      slot_node: (G, R) int32 node of each slot; N marks an empty slot.
      joint_mask: (G, T, S, S) bool, an edge of type t from joint slot s to joint slot r.
      candidate_mask: (G, T, C, K + 8) bool, an edge of type t into candidate c.
      joint_d2: (G, S, S) squared position distances (receiver minus sender) of joint_mask.
      candidate_d2: (G, C, K + 8) squared position distances of candidate_mask.
    """

    slot_node: jnp.ndarray
    joint_mask: jnp.ndarray
    candidate_mask: jnp.ndarray
    joint_d2: jnp.ndarray
    candidate_d2: jnp.ndarray


def _neighbour_table() -> np.ndarray:
    """(3, 3) int32: index into NEIGHBOUR_OFFSETS of (d_row + 1, d_col + 1), -1 for the centre."""
    table = np.full((3, 3), -1, dtype=np.int32)
    for o, (dr, dc) in enumerate(NEIGHBOUR_OFFSETS):
        table[dr + 1, dc + 1] = o
    return table


def dense_layout(graphs: jraph.GraphsTuple, spec: GraphSpec, typed: bool) -> DenseLayout:
    """Builds the dense blocks of a batch from its padded edges.

    Edges outside the blocks (into a joint from a candidate, into a candidate from a joint
    slot past the first K, or between candidates that are not grid neighbours) never come from
    `build_graph` and are dropped here.

    Args:
      graphs: a padded batch.
      spec: the graph settings the batch was built with.
      typed: whether edge types are told apart (T = 2) or merged (T = 1).

    Returns:
      The layout.
    """
    n = num_nodes(graphs)
    n_graph = graphs.n_node.shape[0]
    s, c, k = spec.max_joint_nodes, spec.grid.size, spec.num_joints
    hc, wc = spec.grid.shape
    num_types = 2 if typed else 1
    offsets = graph_offsets(graphs)
    real = graph_mask(graphs)
    n_joint = jnp.asarray(graphs.n_node, jnp.int32) - c

    joint_slot = offsets[:, None] + jnp.arange(s)
    joint_ok = real[:, None] & (jnp.arange(s) < n_joint[:, None])
    cand_slot = (offsets + n_joint)[:, None] + jnp.arange(c)
    slot_node = jnp.concatenate(
        [jnp.where(joint_ok, joint_slot, n), jnp.where(real[:, None], cand_slot, n)], axis=1)

    senders = jnp.asarray(graphs.senders, jnp.int32)
    receivers = jnp.asarray(graphs.receivers, jnp.int32)
    g = node_graph_index(graphs)[receivers]
    local_r, local_s, nj = receivers - offsets[g], senders - offsets[g], n_joint[g]
    recv_joint, send_joint = local_r < nj, local_s < nj
    types = _edge_types(graphs, typed)
    dropped = n_graph  # an out-of-range graph index: mode="drop" skips the edge

    keep = real[g] & recv_joint & send_joint
    joint_mask = jnp.zeros((n_graph, num_types, s, s), bool).at[
        jnp.where(keep, g, dropped), types, local_r, local_s].set(True, mode="drop")

    cand_r = local_r - nj
    (row_r, col_r), (row_s, col_s) = jnp.divmod(cand_r, wc), jnp.divmod(local_s - nj, wc)
    d_row, d_col = row_s - row_r, col_s - col_r
    near = (jnp.abs(d_row) <= 1) & (jnp.abs(d_col) <= 1)
    direction = jnp.asarray(_neighbour_table())[jnp.clip(d_row + 1, 0, 2),
                                                 jnp.clip(d_col + 1, 0, 2)]
    from_recent = send_joint & (local_s < k)
    from_near = ~send_joint & near & (direction >= 0)
    keep = real[g] & ~recv_joint & (from_recent | from_near)
    column = jnp.where(send_joint, local_s, k + direction)
    candidate_mask = jnp.zeros((n_graph, num_types, c, k + len(NEIGHBOUR_OFFSETS)), bool).at[
        jnp.where(keep, g, dropped), types, cand_r, column].set(True, mode="drop")

    pos = graphs.nodes["pos"][jnp.clip(slot_node, 0, n - 1)]  # (G, R, 2)
    joint_pos, cand_pos = pos[:, :s], pos[:, s:]
    joint_d2 = jnp.sum((joint_pos[:, :, None] - joint_pos[:, None]) ** 2, axis=-1)
    recent_d2 = jnp.sum((cand_pos[:, :, None] - joint_pos[:, None, :k]) ** 2, axis=-1)
    cand_grid = cand_pos.reshape(n_graph, hc, wc, 2)
    near_d2 = jnp.sum((cand_grid[:, :, :, None] - grid_neighbours(cand_grid)) ** 2, axis=-1)
    near_d2 = near_d2.reshape(n_graph, c, len(NEIGHBOUR_OFFSETS))
    return DenseLayout(slot_node, joint_mask, candidate_mask, joint_d2,
                       jnp.concatenate([recent_d2, near_d2], axis=-1))
