"""Learning-rate schedules and the optimizer (gnnpose_jax.training.schedules)."""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gnnpose_jax.errors import ConfigError, DataError
from gnnpose_jax.training import config as config_lib
from gnnpose_jax.training import schedules
from tests.helpers.micro_config import ROOT


def test_epoch_boundaries_come_from_dataset_size_and_global_batch():
    spe = schedules.steps_per_epoch(1000, 32)
    assert spe == 31  # 1000 // 32: the remainder of each epoch is dropped
    assert schedules.decay_boundaries((5, 8), 0.1, spe) == {155: 0.1, 248: 0.1}
    rate = schedules.learning_rate_schedule(1e-4, (5, 8), 0.1, spe)
    np.testing.assert_allclose([rate(0), rate(154), rate(155), rate(247), rate(248), rate(309)],
                               [1e-4, 1e-4, 1e-5, 1e-5, 1e-6, 1e-6], rtol=1e-6)
    # HRNet fine-tuning: 20 epochs, x0.1 at 10 and 15; 4 devices x 16 make the global batch.
    spe = schedules.steps_per_epoch(6400, 4 * 16)
    assert spe == 100
    assert schedules.decay_boundaries((10, 15), 0.1, spe) == {1000: 0.1, 1500: 0.1}


def test_optimizer_applies_the_schedule_and_clipping():
    config = ml_collections.ConfigDict({"name": "sgd", "learning_rate": 0.5,
                                        "decay_epochs": (1.0,), "decay_factor": 0.1,
                                        "warmup_steps": 0, "grad_clip_norm": 0.0,
                                        "momentum": 0.0})
    tx = schedules.make_optimizer(config, num_steps_per_epoch=2)
    params = jnp.zeros(())
    opt_state = tx.init(params)
    moves = []
    for _ in range(4):
        updates, opt_state = tx.update(jnp.ones(()), opt_state, params)
        moves.append(float(updates))
    np.testing.assert_allclose(moves, [-0.5, -0.5, -0.05, -0.05], rtol=1e-6)
    config.grad_clip_norm = 0.1
    clipped = schedules.make_optimizer(config, 2)
    updates, _ = clipped.update(jnp.full((), 3.0), clipped.init(params), params)
    np.testing.assert_allclose(float(updates), -0.05, rtol=1e-6)


def test_warmup_ramps_without_moving_the_decay():
    rate = schedules.learning_rate_schedule(1.0, (2,), 0.1, 10, warmup_steps=4)
    np.testing.assert_allclose([rate(0), rate(1), rate(3), rate(19), rate(20)],
                               [0.25, 0.5, 1.0, 1.0, 0.1], rtol=1e-6)


def test_split_smaller_than_one_global_batch_is_refused():
    with pytest.raises(DataError, match="fewer than one global batch of 64"):
        schedules.steps_per_epoch(63, 64)


# The schedules docs/training.md gives for the PoseTrack configs: (learning rate, decay epochs,
# epochs); every one decays x0.1 at each listed epoch and does not warm up.
DOCUMENTED = {"posetrack18_hrnet_w48": (1e-4, (10, 15), 20),
              "posetrack17_hrnet_w48": (1e-4, (10, 15), 20),
              "posetrack18_gnn_w48": (1e-4, (5, 8), 10),
              "posetrack17_gnn_w48": (1e-4, (5, 8), 10)}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_schedules_at_their_epoch_boundaries(name):
    config = config_lib.load_config_file(str(ROOT / "configs" / f"{name}.py")).optimizer
    base, (first, second), epochs = DOCUMENTED[name]
    assert (config.name, config.decay_factor, config.warmup_steps) == ("adam", 0.1, 0)
    spe = 100
    rate = schedules.learning_rate_schedule(config.learning_rate, tuple(config.decay_epochs),
                                            config.decay_factor, spe, config.warmup_steps)
    steps = [0, first * spe - 1, first * spe, second * spe - 1, second * spe, epochs * spe - 1]
    np.testing.assert_allclose([float(rate(s)) for s in steps],
                               [base, base, base / 10, base / 10, base / 100, base / 100],
                               rtol=1e-6)


def test_adam_from_a_config_steps_by_the_scheduled_rate():
    # With a constant gradient Adam's normalised step is 1, so each update is -rate(count).
    config = config_lib.load_config_file(str(ROOT / "configs" / "posetrack18_gnn_w48.py"))
    tx = schedules.make_optimizer(config.optimizer, num_steps_per_epoch=2)
    params = jnp.zeros(())
    opt_state = tx.init(params)
    moves = []
    for _ in range(2 * config.num_epochs):
        updates, opt_state = tx.update(jnp.ones(()), opt_state, params)
        moves.append(-float(updates))
    # Epochs 0-4 at 1e-4, 5-7 at 1e-5, 8-9 at 1e-6: two steps each.
    np.testing.assert_allclose(moves, [1e-4] * 10 + [1e-5] * 6 + [1e-6] * 4, rtol=1e-4)


def test_warmup_scales_a_decay_that_falls_inside_it():
    # Decay at step 5 (epoch 0.5 of 10 steps) while the 10-step warm-up still ramps.
    rate = schedules.learning_rate_schedule(1.0, (0.5,), 0.1, 10, warmup_steps=10)
    np.testing.assert_allclose([float(rate(s)) for s in (0, 4, 5, 9, 10)],
                               [0.1, 0.5, 0.06, 0.1, 0.1], rtol=1e-6)


def test_decays_on_one_step_multiply_and_bad_settings_are_refused():
    assert schedules.decay_boundaries((1.0, 1.02), 0.1, 10) == pytest.approx({10: 0.01})
    with pytest.raises(ConfigError, match=r"decay_epochs \(0.0,\) must be > 0"):
        schedules.decay_boundaries((0.0,), 0.1, 10)
    config = ml_collections.ConfigDict({"name": "rmsprop", "learning_rate": 0.1,
                                        "decay_epochs": (1.0,), "decay_factor": 0.1,
                                        "warmup_steps": 0, "grad_clip_norm": 0.0,
                                        "momentum": 0.0})
    with pytest.raises(ConfigError, match="optimizer.name 'rmsprop' must be one of"):
        schedules.make_optimizer(config, 10)
    with pytest.raises(ConfigError, match="batch_size 0 must be >= 1"):
        schedules.steps_per_epoch(10, 0)
