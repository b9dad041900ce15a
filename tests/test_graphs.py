"""Graph building, targets, padding budgets, masks and decoding (gnnpose_jax.graphs)."""

import dataclasses
import itertools

import numpy as np
import pytest

from gnnpose_jax.data.transforms import apply_affine
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.graphs import (
    SPATIAL,
    TEMPORAL,
    CandidateGrid,
    GraphSpec,
    batch_graphs,
    build_graph,
    candidate_mask,
    candidate_targets,
    decode_grid,
    decode_poses,
    graph_budget,
    graph_mask,
    grid_to_image_affines,
    max_graph_size,
    node_mask,
)
from gnnpose_jax.graphs.grid import image_to_grid_affine

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


def _candidate_image_xy(grid_shape):
    """Image (x, y) of every candidate under CURRENT, worked out by hand (see above)."""
    rows, cols = np.meshgrid(np.arange(grid_shape[0]), np.arange(grid_shape[1]), indexing="ij")
    return np.stack([16.0 * cols.ravel() + 24.0, 16.0 * rows.ravel() + 44.0], axis=-1)


def _history():
    """t-1: joints 0 and 2; t-2: joint 1 (joint 0 scores low, joint 2 is NaN); t-3: all."""
    hist = np.array([
        [[30.0, 50.0, 0.9], [35.0, 52.0, 0.1], [40.0, 60.0, 0.8]],
        [[31.0, 49.0, 0.2], [36.0, 51.0, 0.7], [np.nan, 61.0, 0.9]],
        [[32.0, 48.0, 0.6], [37.0, 50.0, 0.5], [42.0, 58.0, 0.4]],
    ])
    return hist


def test_nodes_follow_the_layout_and_field_definitions():
    spec = _spec()
    g = build_graph(spec, _history(), HIST_AFFINES, CURRENT, BOX)
    n = g.nodes
    # Joints frame by frame from t-1, then the 6 candidates.
    np.testing.assert_array_equal(n["joint_type"], [0, 2, 1, 0, 1, 2] + [K] * 6)
    np.testing.assert_array_equal(n["frame"], [1, 1, 2, 3, 3, 3] + [0] * 6)
    np.testing.assert_array_equal(n["sample_frame"], n["frame"])
    np.testing.assert_array_equal(n["is_candidate"], [False] * 6 + [True] * 6)
    np.testing.assert_allclose(n["score"], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4] + [0.0] * 6)
    joint_xy = np.array([[30, 50], [40, 60], [36, 51], [32, 48], [37, 50], [42, 58]], float)
    image_xy = np.concatenate([joint_xy, _candidate_image_xy((2, 3))])
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
    """Edge set by the rule of METHOD.md section 2, by brute force over all node pairs."""
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
    spec = _spec(feature_hw=(6, 8))
    hist = _history()
    if scores == "all_present":
        hist[..., 2] = 1.0
        hist[1, 2, 0] = 1.0
    elif scores == "gap_at_t-2":
        hist[1, :, 2] = 0.0
    elif scores == "single_frame":
        hist = hist[:1]
    else:
        hist[..., 2] = 0.0
    g = build_graph(spec, hist, HIST_AFFINES[:len(hist)], CURRENT, BOX)
    got = list(zip(g.senders.tolist(), g.receivers.tolist(), g.edges["edge_type"].tolist(),
                   strict=True))
    assert len(got) == len(set(got)) == g.n_edge[0]
    assert set(got) == _expected_edges(g, spec.grid.shape)
    key = g.receivers.astype(np.int64) * 2 + g.edges["edge_type"]
    assert np.all(np.diff(key) >= 0), "edges must be sorted by (receiver, type)"
    # The ablation drops exactly the temporal edges and keeps the nodes.
    spatial = build_graph(dataclasses.replace(spec, temporal_edges=False), hist,
                          HIST_AFFINES[:len(hist)], CURRENT, BOX)
    assert spatial.n_node[0] == g.n_node[0]
    assert set(zip(spatial.senders.tolist(), spatial.receivers.tolist(),
                   spatial.edges["edge_type"].tolist(), strict=True)) == {
        e for e in _expected_edges(g, spec.grid.shape) if e[2] == SPATIAL}


def test_targets_by_hand_single_joint():
    # sigma = 2 cells: g >= 0.5 iff d^2 <= 8 ln 2 = 5.55, so every cell but the corners.
    targets = candidate_targets(np.array([[2.0, 2.0]]), np.array([True]), (5, 5))
    expected = np.zeros((5, 5), int)
    expected[[0, 0, 4, 4], [0, 4, 0, 4]] = 1  # background is class K = 1
    np.testing.assert_array_equal(targets.reshape(5, 5), expected)


def test_targets_by_hand_two_joints_and_a_missing_one():
    gt = np.array([[0.0, 0.0], [3.0, 0.0], [1.0, 1.0]])  # (col, row); joint 2 is missing
    targets = candidate_targets(gt, np.array([True, True, False]), (2, 7))
    np.testing.assert_array_equal(targets.reshape(2, 7), [[0, 0, 1, 1, 1, 1, 3],
                                                          [0, 0, 1, 1, 1, 1, 3]])
    # sigma = 1: g >= 0.5 iff d^2 <= 2 ln 2 = 1.39, the joint's cell and its 4 neighbours.
    targets = candidate_targets(gt, np.array([True, True, False]), (2, 7), sigma=1.0)
    np.testing.assert_array_equal(targets.reshape(2, 7), [[0, 0, 1, 1, 1, 3, 3],
                                                          [0, 3, 3, 1, 3, 3, 3]])


def test_build_graph_targets_use_the_current_crop():
    spec = _spec(feature_hw=(8, 8))
    # GT joint 1 exactly on candidate (row 1, col 2): image (16 * 2 + 24, 16 * 1 + 44).
    gt = np.array([[0.0, 0.0, 0.0], [56.0, 60.0, 1.0], [0.0, 0.0, 0.0]])
    g = build_graph(spec, _history(), HIST_AFFINES, CURRENT, BOX, gt=gt)
    cand = g.nodes["is_candidate"]
    np.testing.assert_array_equal(g.nodes["target"][~cand], -1)
    expected = candidate_targets(np.array([[0, 0], [2.0, 1.0], [0, 0]]),
                                 np.array([False, True, False]), (4, 4))
    np.testing.assert_array_equal(g.nodes["target"][cand], expected)
    assert expected[1 * 4 + 2] == 1 and np.sum(expected == 1) > 1


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


def test_grid_rejects_a_stride_that_does_not_divide():
    with pytest.raises(ConfigError, match="multiple of the candidate stride"):
        CandidateGrid((5, 6), stride=2)
    with pytest.raises(ConfigError, match="target_sigma"):
        _spec(target_sigma=0.0)


def test_decode_one_hot_candidate_maps_to_its_image_point():
    grid = CandidateGrid((8, 10), stride=2)  # candidates (4, 5)
    to_image = grid_to_image_affines(CURRENT[None], grid)
    probs = np.zeros((1, 4, 5, K), np.float32)
    probs[0, 2, 3, 0] = 0.7  # joint 0 at (row 2, col 3)
    probs[0, 0, 0, 1] = 0.4  # joint 1 in a corner (no neighbours on one side: no shift)
    probs[0, 1, 1, 2] = 0.5  # joint 2, with a higher right neighbour: +0.25 cell in x
    probs[0, 1, 2, 2] = 0.3
    probs[0, 1, 0, 2] = 0.1
    out = np.asarray(decode_grid(probs, to_image))
    cand = _candidate_image_xy((4, 5)).reshape(4, 5, 2)
    np.testing.assert_allclose(out[0, 0], [*cand[2, 3], 0.7], atol=1e-4)
    np.testing.assert_allclose(out[0, 1], [*cand[0, 0], 0.4], atol=1e-4)
    # A candidate cell is 16 image pixels wide under CURRENT.
    np.testing.assert_allclose(out[0, 2], [cand[1, 1, 0] + 4.0, cand[1, 1, 1], 0.5], atol=1e-4)


def test_decode_poses_reads_candidates_out_of_a_padded_batch():
    spec = _spec(feature_hw=(6, 8))
    graphs = [build_graph(spec, _history()[:n], HIST_AFFINES[:n], CURRENT, BOX) for n in (3, 1)]
    batch = batch_graphs(graphs, graph_budget(spec, batch_size=3))
    logits = np.zeros((batch.nodes["pos"].shape[0], K + 1), np.float32)
    cand_nodes = [int(graphs[0].n_node[0]) - 12 + 7,  # graph 0, candidate 7 = (row 1, col 3)
                  int(graphs[0].n_node[0] + graphs[1].n_node[0]) - 12 + 4]  # graph 1, (1, 0)
    for node in cand_nodes:
        logits[node, 1] = 10.0
    out = np.asarray(decode_poses(logits, batch, grid_to_image_affines(
        np.stack([CURRENT, CURRENT]), spec.grid), spec.grid))
    image_xy = batch.nodes["pos"][cand_nodes] * 40.0 + [40.0, 55.0]
    np.testing.assert_allclose(out[:, 1, :2], image_xy, atol=1e-3)
    assert np.all(out[:, 1, 2] > 0.99)


def test_gaussian_round_trip_is_sub_cell():
    # Encode a GT point as its Gaussian on the grid, decode: error within the 0.25-cell rule.
    grid = CandidateGrid((16, 12), stride=2)  # candidates (8, 6)
    affine = np.array([[0.8, 0.1, -30.0], [-0.1, 0.8, 5.0]])  # rotation and scale
    to_grid = image_to_grid_affine(affine, grid)
    rng = np.random.default_rng(1)
    for _ in range(5):
        gt_grid = rng.uniform([1.0, 1.0], [4.0, 6.0])
        rows, cols = np.mgrid[:8, :6]
        heat = np.exp(-((cols - gt_grid[0]) ** 2 + (rows - gt_grid[1]) ** 2) / 8.0)
        out = np.asarray(decode_grid(heat[None, :, :, None].astype(np.float32),
                                     grid_to_image_affines(affine[None], grid)))
        back = apply_affine(out[0, :1, :2], to_grid)[0]
        assert np.all(np.abs(back - gt_grid) <= 0.25 + 1e-4), (back, gt_grid)


def test_centroid_decode_by_hand_and_on_a_target_plateau():
    grid = CandidateGrid((8, 10), stride=2)  # candidates (4, 5)
    to_image = grid_to_image_affines(CURRENT[None], grid)
    cand = _candidate_image_xy((4, 5)).reshape(4, 5, 2)
    cell = cand[0, 1] - cand[0, 0]  # one column step in image pixels
    probs = np.zeros((1, 4, 5, K), np.float32)
    # Joint 0: argmax (1, 1) = 0.6, right neighbour 0.2, a cell two columns away ignored at r=1.
    probs[0, 1, 1, 0], probs[0, 1, 2, 0], probs[0, 1, 3, 0] = 0.6, 0.2, 0.5
    # Joint 1 in the corner: the window is clipped to the grid.
    probs[0, 0, 0, 1], probs[0, 1, 0, 1] = 0.3, 0.1
    out = np.asarray(decode_grid(probs, to_image, radius=1))
    np.testing.assert_allclose(out[0, 0], [*(cand[1, 1] + 0.25 * cell), 0.6], atol=1e-4)
    down = cand[1, 0] - cand[0, 0]
    np.testing.assert_allclose(out[0, 1], [*(cand[0, 0] + 0.25 * down), 0.3], atol=1e-4)
    # The targets' plateau (every cell within the radius marked alike) decodes to its centre,
    # which the shift rule cannot reach.
    plateau = candidate_targets(np.array([[2.5, 1.5]]), np.array([True]), (4, 5), 0.75, 0.5)
    probs = (plateau == 0).reshape(1, 4, 5, 1).astype(np.float32) * 0.5
    probs[0, 1, 2, 0] = 0.51  # the argmax is one of the four plateau cells
    out = np.asarray(decode_grid(probs, to_image, radius=2))
    centre = (cand[1, 2] + cand[2, 3]) / 2
    np.testing.assert_allclose(out[0, 0, :2], centre, atol=0.02 * np.abs(cell).max())
