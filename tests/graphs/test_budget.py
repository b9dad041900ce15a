"""Padding budgets and batching (gnnpose_jax.graphs.budget), with the masks of
gnnpose_jax.graphs.layout."""

import numpy as np
import pytest

from gnnpose_jax.graphs import (
    CandidateGrid,
    GraphSpec,
    batch_graphs,
    build_graph,
    candidate_mask,
    graph_budget,
    graph_mask,
    max_graph_size,
    node_mask,
)

K = 3
# Current crop: crop = 0.5 * image - (10, 20). With feature stride 4 and candidate stride 2,
# candidate (row r, col c) sits at feature (2c + 0.5, 2r + 0.5), crop (8c + 2, 8r + 2) and
# image (16c + 24, 16r + 44).
CURRENT = np.array([[0.5, 0.0, -10.0], [0.0, 0.5, -20.0]])
HIST_AFFINES = np.array([[[0.5, 0.0, -12.0], [0.0, 0.5, -18.0]],
                         [[0.25, 0.0, 0.0], [0.0, 0.25, 2.0]],
                         [[1.0, 0.0, -30.0], [0.0, 1.0, -40.0]]])
BOX = np.array([20.0, 40.0, 40.0, 30.0])  # centre (40, 55), longer side 40


def _spec(history=3, feature_hw=(4, 6), **kw):
    """A small spec: K = 3 joints, candidate grid (2, 3) by default."""
    return GraphSpec(grid=CandidateGrid(feature_hw, stride=2), history=history, num_joints=K,
                     joint_threshold=0.3, **kw)


def _history():
    """t-1: joints 0 and 2; t-2: joint 1 (joint 0 scores low, joint 2 is NaN); t-3: all."""
    hist = np.array([
        [[30.0, 50.0, 0.9], [35.0, 52.0, 0.1], [40.0, 60.0, 0.8]],
        [[31.0, 49.0, 0.2], [36.0, 51.0, 0.7], [np.nan, 61.0, 0.9]],
        [[32.0, 48.0, 0.6], [37.0, 50.0, 0.5], [42.0, 58.0, 0.4]],
    ])
    return hist


def test_budget_is_the_largest_graph_and_batches_have_one_shape():
    spec = _spec(feature_hw=(6, 8))
    full = _history()
    full[..., 2] = 1.0
    full[1, 2, 0] = 1.0
    g_full = build_graph(spec, full, HIST_AFFINES, CURRENT, BOX)
    assert max_graph_size(spec) == (g_full.n_node[0], g_full.n_edge[0])

    budget = graph_budget(spec, batch_size=3, round_to=16)
    assert budget.n_graph == 4 and budget.n_node % 16 == 0 and budget.n_edge % 16 == 0
    assert budget.n_node > 3 * g_full.n_node[0] and budget.n_edge >= 3 * g_full.n_edge[0]
    rng = np.random.default_rng(0)
    shapes = set()
    for num in (3, 1, 2):
        graphs = [g_full]  # the largest graph must always fit
        for _ in range(num - 1):
            hist = _history()
            hist[..., 2] = rng.uniform(0.0, 1.0, hist.shape[:2])
            graphs.append(build_graph(spec, hist, HIST_AFFINES, CURRENT, BOX))
        batch = batch_graphs(graphs, budget)
        shapes.add((batch.nodes["pos"].shape, batch.senders.shape, batch.n_node.shape))
        real_nodes = sum(int(x.n_node[0]) for x in graphs)
        assert int(np.sum(node_mask(batch))) == real_nodes
        assert int(np.sum(graph_mask(batch))) == num
        assert int(np.sum(candidate_mask(batch))) == num * spec.grid.size
    assert shapes == {((budget.n_node, 2), (budget.n_edge,), (budget.n_graph,))}
    with pytest.raises(ValueError, match="do not fit"):
        batch_graphs([g_full] * 4, budget)
