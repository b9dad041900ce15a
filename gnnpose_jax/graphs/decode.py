"""Decoding candidate probabilities into image poses (docs/spec/method.md §3 decoding; jittable).

For joint k, P_k is the class-k probability of every candidate on the grid. The joint is at the
argmax, refined below the cell, then mapped from candidate-grid units back to the image through
the crop's inverse affine. Its score is P_k at the argmax. Refinement, by `radius`:

- 0 (docs/spec/method.md §3): 0.25 cell towards the higher neighbour along each axis that has both;
- r > 0 [ours]: the P_k-weighted mean position over the (2r + 1)^2 cells around the argmax
  (clipped to the grid). The targets mark every cell near a joint, so P_k is a plateau there
  and its local centroid finds the joint better than its argmax (docs/method.md).

`grid.candidate_targets` is the matching encoder.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from gnnpose_jax.data.transforms import invert_affine
from gnnpose_jax.graphs.grid import CandidateGrid, image_to_grid_affine
from gnnpose_jax.graphs.layout import candidate_grid_values


def grid_to_image_affines(affines: np.ndarray, grid: CandidateGrid) -> np.ndarray:
    """Host side: (B, 2, 3) image -> crop affines to (B, 2, 3) candidate-grid -> image affines."""
    return np.stack([invert_affine(image_to_grid_affine(a, grid)) for a in np.asarray(affines)])


def decode_grid(
    probs: jnp.ndarray, grid_to_image: jnp.ndarray, shift: float = 0.25, radius: int = 0
) -> jnp.ndarray:
    """Decodes per-joint probability grids into image joints.

    Args:
      probs: (B, Hc, Wc, K) class probabilities P_k on the candidate grid.
      grid_to_image: (B, 2, 3) candidate-grid -> image affines (`grid_to_image_affines`).
      shift: the sub-cell refinement step of radius 0, in cells.
      radius: 0 for the shift rule, r > 0 for the local centroid over (2r + 1)^2 cells.

    Returns:
      (B, K, 3) image (x, y, score).
    """
    b, hc, wc, k = probs.shape
    grid_to_image = jnp.asarray(grid_to_image, jnp.float32)
    flat = probs.reshape(b, hc * wc, k)
    best = jnp.argmax(flat, axis=1)  # (B, K)
    row, col = best // wc, best % wc
    score = jnp.take_along_axis(flat, best[:, None, :], axis=1)[:, 0]

    def value(r, c):
        """P_k at (r, c) per (B, K), clipped into the grid."""
        idx = jnp.clip(r, 0, hc - 1) * wc + jnp.clip(c, 0, wc - 1)
        return jnp.take_along_axis(flat, idx[:, None, :], axis=1)[:, 0]

    if radius > 0:
        xy = _local_centroid(value, row, col, (hc, wc), radius)
    else:
        dx = jnp.where((col > 0) & (col < wc - 1),
                       jnp.sign(value(row, col + 1) - value(row, col - 1)), 0.0)
        dy = jnp.where((row > 0) & (row < hc - 1),
                       jnp.sign(value(row + 1, col) - value(row - 1, col)), 0.0)
        xy = jnp.stack([col + shift * dx, row + shift * dy], axis=-1).astype(jnp.float32)
    image = jnp.einsum("bij,bkj->bki", grid_to_image[:, :, :2], xy) + grid_to_image[:, None, :, 2]
    return jnp.concatenate([image, score[..., None].astype(image.dtype)], axis=-1)


def _local_centroid(value, row: jnp.ndarray, col: jnp.ndarray, shape: tuple[int, int],
                    radius: int) -> jnp.ndarray:
    """(B, K, 2) P-weighted mean (x, y) over the in-grid cells within `radius` of (row, col)."""
    hc, wc = shape
    total = jnp.zeros(row.shape, jnp.float32)
    xy = jnp.zeros((*row.shape, 2), jnp.float32)
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            r, c = row + dr, col + dc
            inside = (r >= 0) & (r < hc) & (c >= 0) & (c < wc)
            w = jnp.where(inside, value(r, c), 0.0).astype(jnp.float32)
            total = total + w
            xy = xy + w[..., None] * jnp.stack([c, r], axis=-1).astype(jnp.float32)
    # The argmax cell itself is inside, so total > 0 unless every probability is 0.
    centre = jnp.stack([col, row], axis=-1).astype(jnp.float32)
    return jnp.where(total[..., None] > 0, xy / jnp.maximum(total, 1e-30)[..., None], centre)


def decode_poses(
    logits: jnp.ndarray,
    graphs: jraph.GraphsTuple,
    grid_to_image: jnp.ndarray,
    grid: CandidateGrid,
    shift: float = 0.25,
    radius: int = 0,
) -> jnp.ndarray:
    """Decodes the GNN's candidate logits of a batch into one pose per graph.

    Args:
      logits: (N, K + 1) per-node logits (background last).
      graphs: the padded batch the logits came from.
      grid_to_image: (B, 2, 3) candidate-grid -> image affines of the first B graphs' crops.
      grid: the candidate grid.
      shift: the sub-cell refinement step of radius 0, in cells.
      radius: the refinement (`decode_grid`).

    Returns:
      (B, K, 3) image (x, y, score) of the first B (real) graphs.
    """
    return decode_grid(candidate_probabilities(logits, graphs, grid, grid_to_image.shape[0]),
                       grid_to_image, shift, radius)


def candidate_probabilities(logits: jnp.ndarray, graphs: jraph.GraphsTuple, grid: CandidateGrid,
                            count: int) -> jnp.ndarray:
    """(count, Hc, Wc, K) class probabilities P_k on the candidate grid of the first `count`
    graphs of a batch, from per-node logits (N, K + 1) (background last)."""
    probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)[:, :-1]
    return candidate_grid_values(probs, graphs, grid.shape)[:count]
