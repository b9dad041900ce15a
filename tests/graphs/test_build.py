"""Graph building (gnnpose_jax.graphs.build): nodes, edges and targets of one window's graph."""

import dataclasses
import itertools

import numpy as np
import pytest

from gnnpose_jax.graphs import (
    SPATIAL,
    TEMPORAL,
    build_graph,
    candidate_targets,
)
from tests.helpers import graph_cases as cases


def test_nodes_follow_the_layout_and_field_definitions():
    spec = cases.spec()
    g = build_graph(spec, cases.history(), cases.HIST_AFFINES, cases.CURRENT, cases.BOX)
    n = g.nodes
    # Joints frame by frame from t-1, then the 6 candidates.
    np.testing.assert_array_equal(n["joint_type"], [0, 2, 1, 0, 1, 2] + [cases.K] * 6)
    np.testing.assert_array_equal(n["frame"], [1, 1, 2, 3, 3, 3] + [0] * 6)
    np.testing.assert_array_equal(n["sample_frame"], n["frame"])
    np.testing.assert_array_equal(n["is_candidate"], [False] * 6 + [True] * 6)
    np.testing.assert_allclose(n["score"], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4] + [0.0] * 6)
    joint_xy = np.array([[30, 50], [40, 60], [36, 51], [32, 48], [37, 50], [42, 58]], float)
    image_xy = np.concatenate([joint_xy, cases.candidate_image_xy((2, 3))])
    np.testing.assert_allclose(n["pos"], (image_xy - [40.0, 55.0]) / 40.0, atol=1e-6)
    # History joints sample their own frame's crop: affine, then / feature stride 4.
    expected_sample = [[(0.5 * 30 - 12) / 4, (0.5 * 50 - 18) / 4],
                       [(0.5 * 40 - 12) / 4, (0.5 * 60 - 18) / 4],
                       [0.25 * 36 / 4, (0.25 * 51 + 2) / 4],
                       [(32 - 30) / 4, (48 - 40) / 4], [(37 - 30) / 4, (50 - 40) / 4],
                       [(42 - 30) / 4, (58 - 40) / 4]]
    np.testing.assert_allclose(n["sample_xy"][:6], expected_sample, atol=1e-6)
    np.testing.assert_allclose(n["sample_xy"][6:], [[0.5, 0.5], [2.5, 0.5], [4.5, 0.5],
                                                    [0.5, 2.5], [2.5, 2.5], [4.5, 2.5]])
    np.testing.assert_array_equal(n["target"], -1)  # no GT given


def _expected_edges(graph, grid_shape):
    """Edge set by the rule of docs/spec/method.md §2, by brute force over all node pairs."""
    n = graph.nodes
    joint = ~n["is_candidate"]
    frames = sorted(set(n["frame"][joint]))
    consecutive = {(a, b) for a, b in itertools.pairwise(frames)}
    consecutive |= {(b, a) for a, b in consecutive}
    last = frames[0] if frames else None
    first_cand = int(np.argmax(n["is_candidate"]))
    wc = grid_shape[1]
    edges = set()
    for i, j in itertools.permutations(range(n["frame"].size), 2):  # i sends, j receives
        if joint[i] and joint[j]:
            if n["frame"][i] == n["frame"][j]:
                edges.add((i, j, SPATIAL))
            elif (n["frame"][i], n["frame"][j]) in consecutive:
                edges.add((i, j, TEMPORAL))
        elif joint[i] and n["frame"][i] == last:
            edges.add((i, j, TEMPORAL))
        elif not joint[i] and not joint[j]:
            ri, ci = divmod(i - first_cand, wc)
            rj, cj = divmod(j - first_cand, wc)
            if max(abs(ri - rj), abs(ci - cj)) == 1:
                edges.add((i, j, SPATIAL))
    return edges


@pytest.mark.parametrize("scores", [
    "all_present",
    "gap_at_t-2",  # t-1 and t-3 become consecutive
    "single_frame",
    "no_joints",
])
def test_edges_follow_the_rule(scores):
    spec = cases.spec(feature_hw=(6, 8))
    hist = cases.history()
    if scores == "all_present":
        hist[..., 2] = 1.0
        hist[1, 2, 0] = 1.0
    elif scores == "gap_at_t-2":
        hist[1, :, 2] = 0.0
    elif scores == "single_frame":
        hist = hist[:1]
    else:
        hist[..., 2] = 0.0
    g = build_graph(spec, hist, cases.HIST_AFFINES[:len(hist)], cases.CURRENT, cases.BOX)
    got = list(zip(g.senders.tolist(), g.receivers.tolist(), g.edges["edge_type"].tolist(),
                   strict=True))
    assert len(got) == len(set(got)) == g.n_edge[0]
    assert set(got) == _expected_edges(g, spec.grid.shape)
    key = g.receivers.astype(np.int64) * 2 + g.edges["edge_type"]
    assert np.all(np.diff(key) >= 0), "edges must be sorted by (receiver, type)"
    # The ablation drops exactly the temporal edges and keeps the nodes.
    spatial = build_graph(dataclasses.replace(spec, temporal_edges=False), hist,
                          cases.HIST_AFFINES[:len(hist)], cases.CURRENT, cases.BOX)
    assert spatial.n_node[0] == g.n_node[0]
    assert set(zip(spatial.senders.tolist(), spatial.receivers.tolist(),
                   spatial.edges["edge_type"].tolist(), strict=True)) == {
        e for e in _expected_edges(g, spec.grid.shape) if e[2] == SPATIAL}


def test_build_graph_targets_use_the_current_crop():
    spec = cases.spec(feature_hw=(8, 8))
    # GT joint 1 exactly on candidate (row 1, col 2): image (16 * 2 + 24, 16 * 1 + 44).
    gt = np.array([[0.0, 0.0, 0.0], [56.0, 60.0, 1.0], [0.0, 0.0, 0.0]])
    g = build_graph(spec, cases.history(), cases.HIST_AFFINES, cases.CURRENT, cases.BOX, gt=gt)
    cand = g.nodes["is_candidate"]
    np.testing.assert_array_equal(g.nodes["target"][~cand], -1)
    expected = candidate_targets(np.array([[0, 0], [2.0, 1.0], [0, 0]]),
                                 np.array([False, True, False]), (4, 4))
    np.testing.assert_array_equal(g.nodes["target"][cand], expected)
    assert expected[1 * 4 + 2] == 1 and np.sum(expected == 1) > 1
