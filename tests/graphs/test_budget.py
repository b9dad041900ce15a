"""Padding budgets and batching (gnnpose_jax.graphs.budget), with the masks of
gnnpose_jax.graphs.layout."""

import numpy as np
import pytest

from gnnpose_jax.graphs import (
    batch_graphs,
    build_graph,
    candidate_mask,
    graph_budget,
    graph_mask,
    max_graph_size,
    node_mask,
)
from tests.helpers import graph_cases as cases


def test_budget_is_the_largest_graph_and_batches_have_one_shape():
    spec = cases.spec(feature_hw=(6, 8))
    full = cases.history()
    full[..., 2] = 1.0
    full[1, 2, 0] = 1.0
    g_full = build_graph(spec, full, cases.HIST_AFFINES, cases.CURRENT, cases.BOX)
    assert max_graph_size(spec) == (g_full.n_node[0], g_full.n_edge[0])

    budget = graph_budget(spec, batch_size=3, round_to=16)
    assert budget.n_graph == 4 and budget.n_node % 16 == 0 and budget.n_edge % 16 == 0
    assert budget.n_node > 3 * g_full.n_node[0] and budget.n_edge >= 3 * g_full.n_edge[0]
    rng = np.random.default_rng(0)
    shapes = set()
    for num in (3, 1, 2):
        graphs = [g_full]  # the largest graph must always fit
        for _ in range(num - 1):
            hist = cases.history()
            hist[..., 2] = rng.uniform(0.0, 1.0, hist.shape[:2])
            graphs.append(build_graph(spec, hist, cases.HIST_AFFINES, cases.CURRENT, cases.BOX))
        batch = batch_graphs(graphs, budget)
        shapes.add((batch.nodes["pos"].shape, batch.senders.shape, batch.n_node.shape))
        real_nodes = sum(int(x.n_node[0]) for x in graphs)
        assert int(np.sum(node_mask(batch))) == real_nodes
        assert int(np.sum(graph_mask(batch))) == num
        assert int(np.sum(candidate_mask(batch))) == num * spec.grid.size
    assert shapes == {((budget.n_node, 2), (budget.n_edge,), (budget.n_graph,))}
    with pytest.raises(ValueError, match="do not fit"):
        batch_graphs([g_full] * 4, budget)
