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
