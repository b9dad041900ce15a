"""Training losses as (sum, count) pairs, so that data-parallel steps divide global totals.

A per-device mean of per-device means weighs devices equally whatever they hold (padding,
visible joints, candidates); dividing the psum of the sums by the psum of the counts gives the
loss of the global batch exactly.
"""

from __future__ import annotations

import jax.numpy as jnp

#: The official JointsMSELoss halves the squared error.
MSE_FACTOR = 0.5


def heatmap_loss(predicted: jnp.ndarray, target: jnp.ndarray, weight: jnp.ndarray,
                 mask: jnp.ndarray | None = None) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The official HRNet JointsMSELoss with target weights, as an unnormalised sum.

    Official: `mean_k 0.5 * mean_{n, pixels} (w_nk * pred - w_nk * gt)^2`, i.e. the sum below
    divided by the count below.

    Args:
      predicted: (N, h, w, K) network heatmaps.
      target: (N, h, w, K) target Gaussians.
      weight: (N, K) joint weights (visibility, 0 for absent joints).
      mask: optional (N,) bool, False for padding examples (they count for nothing).

    Returns:
      (sum, count): the summed `0.5 * w^2 * (pred - gt)^2` over examples, pixels and joints,
      and `real examples * K * h * w` (absent joints count in the denominator, as officially).
    """
    n, h, w, k = predicted.shape
    weight = weight.astype(jnp.float32)
    if mask is not None:
        weight = weight * mask[:, None].astype(jnp.float32)
    squared = jnp.square(predicted.astype(jnp.float32) - target.astype(jnp.float32))
    per_joint = jnp.sum(squared, axis=(1, 2))  # (N, K)
    total = MSE_FACTOR * jnp.sum(jnp.square(weight) * per_joint)
    examples = n if mask is None else jnp.sum(mask)
    return total, jnp.asarray(examples, jnp.float32) * (k * h * w)
