"""Tracklet windows -> padded jraph.GraphsTuple (docs/spec/method.md §2), and their helpers.

Host side: `build_graph`, `graph_budget`, `batch_graphs`. Jittable: masks, layouts (layout.py)
and decoding (decode.py), which the models, the trainer and the tracker read.
"""

from gnnpose_jax.graphs.budget import GraphBudget, batch_graphs, graph_budget, max_graph_size
from gnnpose_jax.graphs.build import NUM_EDGE_TYPES, SPATIAL, TEMPORAL, GraphSpec, build_graph
from gnnpose_jax.graphs.decode import (
    candidate_probabilities,
    decode_grid,
    decode_poses,
    grid_to_image_affines,
)
from gnnpose_jax.graphs.grid import CandidateGrid, candidate_targets
from gnnpose_jax.graphs.layout import candidate_mask, graph_mask, node_mask

__all__ = [
    "NUM_EDGE_TYPES",
    "SPATIAL",
    "TEMPORAL",
    "CandidateGrid",
    "GraphBudget",
    "GraphSpec",
    "batch_graphs",
    "build_graph",
    "candidate_mask",
    "candidate_probabilities",
    "candidate_targets",
    "decode_grid",
    "decode_poses",
    "graph_budget",
    "graph_mask",
    "grid_to_image_affines",
    "max_graph_size",
    "node_mask",
]
