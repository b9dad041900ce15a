"""One spatio-temporal graph per (track, frame t), built on the host (docs/spec/method.md §2).

Node layout of every graph: the history joints first, frame by frame from t-1 back to t-n and
by joint slot within a frame, then the C candidates of the current crop in row-major grid order.
Edges are sorted by (receiver, edge type); the models rely on that order.

Node fields (`graph.nodes`, a dict of arrays with leading axis N):
  pos           float32 (N, 2)  ((x - cx) / s, (y - cy) / s): image position relative to the
                                centre (cx, cy) and longer side s of the track's last pose box.
  score         float32 (N,)    joint score; 0 for candidates.
  joint_type    int32 (N,)      joint slot 0..K-1; K for candidates.
  frame         int32 (N,)      history frame offset f (the node is at t - f); 0 for candidates.
  is_candidate  bool (N,)
  sample_xy     float32 (N, 2)  where to sample visual features: the node's (x, y) in the feature
                                grid of its own frame's crop (grid.py conventions).
  sample_frame  int32 (N,)      which of the n + 1 feature maps of the sample holds the node:
                                0 is the current crop, f the crop of frame t - f.
  target        int32 (N,)      candidate class 0..K (K = background); -1 for joints and when
                                no GT pose was given.
Edge fields (`graph.edges`): edge_type int32 (E,), SPATIAL or TEMPORAL.
"""

from __future__ import annotations

import dataclasses

import jraph
import numpy as np

from gnnpose_jax.data.joints import NUM_JOINTS
from gnnpose_jax.data.transforms import apply_affine, invert_affine
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.graphs.grid import (
    NEIGHBOUR_OFFSETS,
    CandidateGrid,
    candidate_targets,
    image_to_grid_affine,
)

SPATIAL = 0
TEMPORAL = 1
NUM_EDGE_TYPES = 2


@dataclasses.dataclass(frozen=True)
class GraphSpec:
    """Everything that fixes a graph's shape and contents, read from the config.

    Attributes:
      grid: the candidate grid of the current crop.
      history: n, the number of history frames.
      num_joints: K, joint slots per pose.
      joint_threshold: tau_joint; history joints scoring below it get no node [ours].
      target_sigma: Gaussian sigma of the candidate targets, in candidate cells.
      target_threshold: minimum Gaussian value for a foreground target.
      decode_radius: sub-cell refinement of the decoded joints: 0 for the 0.25-cell shift,
        r > 0 for the local centroid over (2r + 1)^2 cells (`decode.decode_grid`).
      temporal_edges: link history frames to each other and the last one to the candidates;
        False leaves only spatial edges, so the candidates never hear of the history (the
        ablation of the temporal edges).
    """

    grid: CandidateGrid
    history: int = 3
    num_joints: int = NUM_JOINTS
    joint_threshold: float = 0.2
    target_sigma: float = 2.0
    target_threshold: float = 0.5
    decode_radius: int = 0
    temporal_edges: bool = True

    def __post_init__(self):
        """Rejects sizes no graph can have."""
        if self.history < 1 or self.num_joints < 1:
            raise ConfigError(
                f"GraphSpec: history {self.history} and num_joints {self.num_joints} must be >= 1")
        if self.decode_radius < 0:
            raise ConfigError(f"GraphSpec: decode_radius {self.decode_radius} must be >= 0")
        if self.target_sigma <= 0 or not 0 < self.target_threshold <= 1:
            raise ConfigError(
                f"GraphSpec: target_sigma {self.target_sigma} must be > 0 and target_threshold "
                f"{self.target_threshold} in (0, 1]")

    @property
    def max_joint_nodes(self) -> int:
        """n * K, the most history-joint nodes a graph can have."""
        return self.history * self.num_joints


def build_graph(
    spec: GraphSpec,
    history: np.ndarray,
    history_affines: np.ndarray,
    current_affine: np.ndarray,
    box: np.ndarray,
    gt: np.ndarray | None = None,
) -> jraph.GraphsTuple:
    """Builds the graph of one track at frame t.

    Args:
      spec: the graph settings.
      history: (n', K, 3) image (x, y, score) of the track's poses at t-1, ..., t-n', n' <= n.
        A joint with score below spec.joint_threshold or non-finite x, y is missing; a frame
        the track has no pose in has all scores 0. Temporal edges link frames that have nodes
        and are next to each other once empty frames are skipped [ours].
      history_affines: (n', 2, 3) image -> crop matrices of the crops of frames t-1, ..., t-n'.
      current_affine: (2, 3) image -> crop matrix of the current crop (frame t).
      box: (4,) [x, y, w, h] image box of the track's last pose; it sets the position frame.
      gt: optional (K, 3) image (x, y, present) GT pose at t; present > 0 marks annotated joints.

    Returns:
      A single-graph `jraph.GraphsTuple` with the fields in this module's docstring.
    """
    num_joints, grid = spec.num_joints, spec.grid
    history = np.asarray(history, dtype=np.float64)
    history_affines = np.asarray(history_affines, dtype=np.float64)
    if (history.ndim != 3 or history.shape[0] > spec.history or history.shape[1:] != (num_joints, 3)
            or history_affines.shape != (history.shape[0], 2, 3)):
        raise ValueError(
            f"history {history.shape} must be (n' <= {spec.history}, {num_joints}, 3) with "
            f"affines (n', 2, 3), got affines {history_affines.shape}")
    x, y, w, h = np.asarray(box, dtype=np.float64)
    centre, side = np.array([x + w / 2.0, y + h / 2.0]), max(w, h)
    if not side > 0:
        raise ValueError(f"box {box} must have a positive width or height")

    present = (history[..., 2] >= spec.joint_threshold) & np.all(
        np.isfinite(history[..., :2]), axis=-1)
    offsets, slots = np.nonzero(present)  # frame index (0 = t-1) and joint slot, frame-major
    joint_xy = history[offsets, slots, :2]
    joint_sample = apply_affine(joint_xy[:, None], history_affines[offsets])[:, 0]
    joint_sample = joint_sample / grid.feature_stride

    grid_to_image = invert_affine(image_to_grid_affine(current_affine, grid))
    cand_grid_xy = grid.candidate_xy()
    cand_xy = apply_affine(cand_grid_xy, grid_to_image)
    cand_sample = cand_grid_xy * grid.stride + grid.offset

    num_cand = grid.size
    n_j = offsets.size
    target = np.full(n_j + num_cand, -1, dtype=np.int32)
    if gt is not None:
        gt = np.asarray(gt, dtype=np.float64)
        gt_grid = apply_affine(gt[:, :2], image_to_grid_affine(current_affine, grid))
        target[n_j:] = candidate_targets(
            gt_grid, gt[:, 2] > 0, grid.shape, spec.target_sigma, spec.target_threshold)

    nodes = {
        "pos": ((np.concatenate([joint_xy, cand_xy]) - centre) / side).astype(np.float32),
        "score": np.concatenate([history[offsets, slots, 2], np.zeros(num_cand)]).astype(
            np.float32),
        "joint_type": np.concatenate([slots, np.full(num_cand, num_joints)]).astype(np.int32),
        "frame": np.concatenate([offsets + 1, np.zeros(num_cand)]).astype(np.int32),
        "is_candidate": np.concatenate([np.zeros(n_j, bool), np.ones(num_cand, bool)]),
        "sample_xy": np.concatenate([joint_sample, cand_sample]).astype(np.float32),
        "sample_frame": np.concatenate([offsets + 1, np.zeros(num_cand)]).astype(np.int32),
        "target": target,
    }
    senders, receivers, types = _edges(offsets, grid.shape, n_j, spec.temporal_edges)
    return jraph.GraphsTuple(
        nodes=nodes,
        edges={"edge_type": types},
        senders=senders,
        receivers=receivers,
        globals=None,
        n_node=np.array([n_j + num_cand], dtype=np.int32),
        n_edge=np.array([senders.size], dtype=np.int32),
    )


def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (sender in a, receiver in b) pair, excluding self-pairs."""
    s, r = np.repeat(a, b.size), np.tile(b, a.size)
    keep = s != r
    return s[keep], r[keep]


def _edges(
    frame_of_joint: np.ndarray, grid_shape: tuple[int, int], num_joint_nodes: int,
    temporal: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Senders, receivers and types of a graph's edges, sorted by (receiver, type)."""
    parts = []  # (senders, receivers, type)
    frames = [np.flatnonzero(frame_of_joint == f) for f in np.unique(frame_of_joint)]
    for nodes in frames:
        parts.append((*_pairs(nodes, nodes), SPATIAL))
    hc, wc = grid_shape
    cand = num_joint_nodes + np.arange(hc * wc)
    if temporal:
        for newer, older in zip(frames[:-1], frames[1:], strict=True):
            parts.append((*_pairs(newer, older), TEMPORAL))
            parts.append((*_pairs(older, newer), TEMPORAL))
        if frames:
            parts.append((*_pairs(frames[0], cand), TEMPORAL))
    rows, cols = np.divmod(np.arange(hc * wc), wc)
    for dr, dc in NEIGHBOUR_OFFSETS:
        r, c = rows + dr, cols + dc
        ok = (r >= 0) & (r < hc) & (c >= 0) & (c < wc)
        parts.append((cand[r[ok] * wc + c[ok]], cand[ok], SPATIAL))
    senders = np.concatenate([p[0] for p in parts]).astype(np.int32)
    receivers = np.concatenate([p[1] for p in parts]).astype(np.int32)
    types = np.concatenate([np.full(p[0].size, p[2]) for p in parts]).astype(np.int32)
    order = np.lexsort((types, receivers))
    return senders[order], receivers[order], types[order]
