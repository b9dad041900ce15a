"""Heatmap peaks and PCKh counts on the device (gnnpose_jax.training.accuracy)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gnnpose_jax.data import transforms
from gnnpose_jax.training import accuracy


def test_heatmap_peaks_match_the_host_decoder_jitted_and_not():
    rng = np.random.default_rng(1)
    heatmaps = rng.random((4, 8, 6, 17)).astype(np.float32)
    identity = np.tile(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (4, 1, 1))
    expected, _ = transforms.decode_heatmaps(heatmaps, identity, input_hw=(8, 6))
    for fn in (accuracy.heatmap_peaks, jax.jit(accuracy.heatmap_peaks)):
        np.testing.assert_allclose(np.asarray(fn(jnp.asarray(heatmaps))), expected, atol=1e-6)


def test_pckh_counts_by_hand():
    joints = np.zeros((2, 17, 3), np.float32)
    joints[0, 1] = (10, 10, 1)  # head_bottom
    joints[0, 2] = (10, 30, 1)  # head_top: head size 20
    joints[0, 5] = (50, 50, 1)
    joints[1, 5] = (50, 50, 1)  # no head joints: this person does not count
    predicted = joints[..., :2].copy()
    predicted[0, 5] += (0, 10)  # 10 <= 0.5 * 20: correct
    predicted[0, 2] += (11, 0)  # 11 > 10: wrong
    sizes = accuracy.head_sizes(jnp.asarray(joints))
    np.testing.assert_allclose(np.asarray(sizes), [20.0, 0.0])
    correct, count = accuracy.pckh_counts(jnp.asarray(predicted), jnp.asarray(joints[..., :2]),
                                          jnp.asarray(joints[..., 2] > 0), sizes)
    assert (float(correct), float(count)) == (2.0, 3.0)


def test_gnn_eval_step_splits_pckh_by_visibility():
    """`steps.gnn_eval_step`'s PCKh counts over all, visible and hidden joints against NumPy,
    on four of the distributed tests' graphs, the GT placed around the decoded poses."""
    import functools

    import optax

    from gnnpose_jax.graphs.decode import decode_poses, grid_to_image_affines
    from gnnpose_jax.training import distributed, steps
    from tests.training.test_distributed import _gnn_device_batches, _gnn_spec, _gnn_state

    spec = _gnn_spec()
    state = _gnn_state(optax.sgd(0.01))
    batch = _gnn_device_batches(np.arange(4), 1)
    crop = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]])
    batch["grid_to_image"] = grid_to_image_affines(np.repeat(crop[None], 4, 0),
                                                   spec.grid)[None].astype(np.float32)
    device = jax.tree.map(lambda x: x[0], batch)
    logits = state.apply_fn({"params": state.params}, device["graphs"],
                            steps.crop_features(state, device["crops"]))
    poses = np.asarray(decode_poses(logits, device["graphs"], device["grid_to_image"],
                                    spec.grid))[..., :2]
    rng = np.random.default_rng(3)
    gt = np.zeros((4, 17, 4), np.float32)
    # Head size 10 everywhere; every joint 0-10 px from its decoded position: about half
    # within PCKh@0.5's 5 px.
    angle = rng.uniform(0, 2 * np.pi, (4, 17))
    gt[..., :2] = poses + rng.uniform(0, 10, (4, 17, 1)) * np.stack(
        [np.cos(angle), np.sin(angle)], -1)
    gt[:, accuracy.HEAD_TOP, :2] = gt[:, accuracy.HEAD_BOTTOM, :2] + (0.0, 10.0)
    gt[..., 2] = rng.random((4, 17)) > 0.2
    gt[:, [accuracy.HEAD_BOTTOM, accuracy.HEAD_TOP], 2] = 1.0
    gt[..., 3] = gt[..., 2] * (rng.random((4, 17)) > 0.4)
    batch["gt"] = gt[None]
    batch["mask"] = np.array([[True, True, True, False]])  # the last example is padding
    eval_step = jax.pmap(functools.partial(steps.gnn_eval_step, grid=spec.grid),
                         axis_name=distributed.AXIS)
    out = jax.tree.map(lambda x: float(x[0]), eval_step(distributed.replicate(state), batch))

    head = np.linalg.norm(gt[:, accuracy.HEAD_TOP, :2] - gt[:, accuracy.HEAD_BOTTOM, :2], axis=1)
    right = np.linalg.norm(poses - gt[..., :2], axis=-1) <= 0.5 * head[:, None]
    annotated = (gt[..., 2] > 0) & batch["mask"][0][:, None]
    visible = annotated & (gt[..., 3] > 0)
    for name, scored in (("pckh", annotated), ("pckh_visible", visible),
                         ("pckh_hidden", annotated & ~visible)):
        assert out[f"{name}_count"] == scored.sum() > 5
        assert 0 < out[f"{name}_correct"] == (right & scored).sum() < scored.sum()
    assert out["pckh_visible_count"] + out["pckh_hidden_count"] == out["pckh_count"]
