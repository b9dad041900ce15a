"""Fixed padding budgets and host-side batching, so a jitted step compiles once.

Graph sizes vary with missing joints and short tracks; every batch is padded to one budget
computed from the config alone (the largest graph the spec allows, times the batch size).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jraph

from gnnpose_jax.graphs.build import GraphSpec
from gnnpose_jax.graphs.grid import NEIGHBOUR_OFFSETS


class GraphBudget(NamedTuple):
    """Padded sizes of a batch: total nodes, edges and graphs (one padding graph included)."""

    n_node: int
    n_edge: int
    n_graph: int


def max_graph_size(spec: GraphSpec) -> tuple[int, int]:
    """(nodes, edges) of the largest graph: every joint present in all n history frames."""
    n, k = spec.history, spec.num_joints
    hc, wc = spec.grid.shape
    neighbour_edges = sum(
        max(hc - abs(dr), 0) * max(wc - abs(dc), 0) for dr, dc in NEIGHBOUR_OFFSETS)
    edges = n * k * (k - 1) + 2 * (n - 1) * k * k + k * spec.grid.size + neighbour_edges
    return n * k + spec.grid.size, edges


def _round_up(x: int, multiple: int) -> int:
    """The smallest multiple of `multiple` that is >= x."""
    return -(-x // multiple) * multiple


def graph_budget(spec: GraphSpec, batch_size: int, round_to: int = 64) -> GraphBudget:
    """The padding budget for batches of up to `batch_size` graphs.

    Args:
      spec: the graph settings.
      batch_size: the most real graphs per batch.
      round_to: node and edge totals are rounded up to a multiple of this.

    Returns:
      The budget; it leaves room for at least one padding node and the padding graph.
    """
    nodes, edges = max_graph_size(spec)
    return GraphBudget(
        n_node=_round_up(batch_size * nodes + 1, round_to),
        n_edge=_round_up(batch_size * edges, round_to),
        n_graph=batch_size + 1,
    )


def batch_graphs(graphs: Sequence[jraph.GraphsTuple], budget: GraphBudget) -> jraph.GraphsTuple:
    """Batches graphs on the host and pads them to the budget.

    Args:
      graphs: 1 .. budget.n_graph - 1 graphs from `build_graph`.
      budget: the padded sizes.

    Returns:
      One padded `GraphsTuple` of NumPy arrays: the real graphs first, then the padding graph
      (all padding nodes and edges) and empty graphs.
    """
    if not 0 < len(graphs) < budget.n_graph:
        raise ValueError(f"{len(graphs)} graphs do not fit a budget of {budget.n_graph - 1}")
    return jraph.pad_with_graphs(jraph.batch_np(graphs), *budget)

