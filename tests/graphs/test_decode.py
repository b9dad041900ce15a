"""Decoding candidate probabilities into image poses (gnnpose_jax.graphs.decode)."""

import numpy as np

from gnnpose_jax.data.transforms import apply_affine
from gnnpose_jax.graphs import (
    CandidateGrid,
    batch_graphs,
    build_graph,
    candidate_targets,
    decode_grid,
    decode_poses,
    graph_budget,
    grid_to_image_affines,
)
from gnnpose_jax.graphs.grid import image_to_grid_affine
from tests.helpers import graph_cases as cases


def test_decode_one_hot_candidate_maps_to_its_image_point():
    grid = CandidateGrid((8, 10), stride=2)  # candidates (4, 5)
    to_image = grid_to_image_affines(cases.CURRENT[None], grid)
    probs = np.zeros((1, 4, 5, cases.K), np.float32)
    probs[0, 2, 3, 0] = 0.7  # joint 0 at (row 2, col 3)
    probs[0, 0, 0, 1] = 0.4  # joint 1 in a corner (no neighbours on one side: no shift)
    probs[0, 1, 1, 2] = 0.5  # joint 2, with a higher right neighbour: +0.25 cell in x
    probs[0, 1, 2, 2] = 0.3
    probs[0, 1, 0, 2] = 0.1
    out = np.asarray(decode_grid(probs, to_image))
    cand = cases.candidate_image_xy((4, 5)).reshape(4, 5, 2)
    np.testing.assert_allclose(out[0, 0], [*cand[2, 3], 0.7], atol=1e-4)
    np.testing.assert_allclose(out[0, 1], [*cand[0, 0], 0.4], atol=1e-4)
    # A candidate cell is 16 image pixels wide under cases.CURRENT.
    np.testing.assert_allclose(out[0, 2], [cand[1, 1, 0] + 4.0, cand[1, 1, 1], 0.5], atol=1e-4)


def test_decode_poses_reads_candidates_out_of_a_padded_batch():
    spec = cases.spec(feature_hw=(6, 8))
    graphs = [build_graph(spec, cases.history()[:n], cases.HIST_AFFINES[:n], cases.CURRENT,
                          cases.BOX) for n in (3, 1)]
    batch = batch_graphs(graphs, graph_budget(spec, batch_size=3))
    logits = np.zeros((batch.nodes["pos"].shape[0], cases.K + 1), np.float32)
    cand_nodes = [int(graphs[0].n_node[0]) - 12 + 7,  # graph 0, candidate 7 = (row 1, col 3)
                  int(graphs[0].n_node[0] + graphs[1].n_node[0]) - 12 + 4]  # graph 1, (1, 0)
    for node in cand_nodes:
        logits[node, 1] = 10.0
    out = np.asarray(decode_poses(logits, batch, grid_to_image_affines(
        np.stack([cases.CURRENT, cases.CURRENT]), spec.grid), spec.grid))
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
    to_image = grid_to_image_affines(cases.CURRENT[None], grid)
    cand = cases.candidate_image_xy((4, 5)).reshape(4, 5, 2)
    cell = cand[0, 1] - cand[0, 0]  # one column step in image pixels
    probs = np.zeros((1, 4, 5, cases.K), np.float32)
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
