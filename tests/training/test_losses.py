"""The HRNet heatmap loss (gnnpose_jax.training.losses; the GNN's candidate loss is tested with
the model in tests/models/test_gnn.py)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from gnnpose_jax.training.losses import heatmap_loss


def test_heatmap_loss_is_the_official_joints_mse_as_sum_and_count():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(3, 4, 6, 17)), rng.random((3, 4, 6, 17))
    weight = (rng.random((3, 17)) > 0.3).astype(np.float32)
    # Official JointsMSELoss(use_target_weight): mean over joints of
    # 0.5 * MSE(pred * w, gt * w) over batch and pixels.
    per_joint = [0.5 * np.mean((pred[..., k] * weight[:, None, None, k]
                                - target[..., k] * weight[:, None, None, k]) ** 2)
                 for k in range(17)]
    total, count = heatmap_loss(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(weight))
    # A float32 sum of 1224 terms against float64: 1e-4 holds for any summation order.
    np.testing.assert_allclose(float(total / count), np.mean(per_joint), rtol=1e-4)
    assert float(count) == 3 * 17 * 4 * 6
    mask = np.array([True, False, True])
    total_m, count_m = heatmap_loss(jnp.asarray(pred), jnp.asarray(target),
                                    jnp.asarray(weight), jnp.asarray(mask))
    kept = heatmap_loss(jnp.asarray(pred[mask]), jnp.asarray(target[mask]),
                        jnp.asarray(weight[mask]))
    np.testing.assert_allclose([float(total_m), float(count_m)],
                               [float(kept[0]), float(kept[1])], rtol=1e-5)
