"""Mixed-precision training (`config.compute_dtype`): bfloat16 training follows float32 training,
keeps every stored number float32, and the key is checked and pinned like any other.

The step is `steps.hrnet_train_step` as the loop runs it, here under `jax.vmap` over a one-device
axis (the same collectives as `jax.pmap`), compiled without backend optimisation: the programs
are tiny, and compiling them is most of the cost.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gnnpose_jax.errors import CheckpointError, ConfigError
from gnnpose_jax.models.hrnet import HRNet, HRNetConfig
from gnnpose_jax.training import config as config_lib
from gnnpose_jax.training import distributed, loop, steps
from gnnpose_jax.training.state import RUN_ONCE_COMPILER_OPTIONS, create_state
from tests.helpers.micro_config import micro_config
from tests.helpers.tiny_runs import random_like

ARCH = HRNetConfig(width=4, stem_channels=8, layer1_blocks=1, layer1_planes=4,
                   stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1))
INPUT_HW = (64, 32)
BATCH = 8
STEPS = 30
#: Largest relative gap between the bfloat16 and the float32 loss at any of the 30 steps.
LOSS_GAP_BOUND = 0.05


def _batch() -> dict:
    """Noise images whose targets are one Gaussian per joint at a random place (seeded)."""
    rng = np.random.default_rng(0)
    h, w = INPUT_HW[0] // 4, INPUT_HW[1] // 4
    ys, xs = np.mgrid[:h, :w]
    cy, cx = rng.uniform(0, h, (BATCH, 17)), rng.uniform(0, w, (BATCH, 17))
    d2 = ((ys[None, :, :, None] - cy[:, None, None]) ** 2
          + (xs[None, :, :, None] - cx[:, None, None]) ** 2)
    return {"image": rng.normal(size=(BATCH, *INPUT_HW, 3)).astype(np.float32),
            "heatmaps": np.exp(-d2 / (2 * 1.5 ** 2)).astype(np.float32),
            "target_weight": np.ones((BATCH, 17), np.float32), "mask": np.ones(BATCH, bool)}


def _train(dtype, variables):
    """STEPS Adam steps (the configs' optimiser) on one batch; the losses and the final state."""
    state = create_state(HRNet(ARCH, dtype=dtype).apply, variables, optax.adam(1e-3))
    state, batch = jax.tree.map(lambda x: x[None], (state, _batch()))
    rng = jax.random.key(0)
    step = jax.jit(jax.vmap(steps.hrnet_train_step, axis_name=distributed.AXIS,
                            in_axes=(0, 0, None)))
    step = step.lower(state, batch, rng).compile(compiler_options=RUN_ONCE_COMPILER_OPTIONS)
    losses = []
    for _ in range(STEPS):
        state, metrics = step(state, batch, rng)
        losses.append(float(metrics["loss"][0]))
    return np.array(losses), jax.tree.map(lambda x: x[0], state)


@pytest.fixture(scope="module")
def runs():
    abstract = jax.eval_shape(lambda: HRNet(ARCH).init(jax.random.key(0),
                                                         jnp.zeros((1, *INPUT_HW, 3))))
    variables = random_like(abstract, seed=0)
    return {dtype: _train(dtype, variables) for dtype in (jnp.float32, jnp.bfloat16)}


def test_bfloat16_loss_follows_float32(runs):
    """bfloat16 rounds each op's output by up to 2^-9 (about 0.2%) relative: the first loss,
    a forward pass through the network's 10 or so layers of depth, differs by 0.1-0.2%. The
    parameters then take slightly different Adam steps, and the curves drift apart: measured
    0.8-1.2% at most over the 30 steps (the compiled programs round at different places), while
    the loss itself falls from 2.4 to 0.45. The bound is four times the largest measured gap;
    a bfloat16 run that did not learn, or diverged, would leave it at once."""
    f32, bf16 = runs[jnp.float32][0], runs[jnp.bfloat16][0]
    gap = np.abs(bf16 - f32) / f32
    assert gap.max() <= LOSS_GAP_BOUND, np.round(gap, 4)
    # bfloat16 did run: float32 reruns agree to about 1e-6.
    assert gap.max() > 1e-3
    assert bf16[-1] < 0.3 * bf16[0]


def test_bfloat16_keeps_parameters_optimizer_and_statistics_float32(runs):
    state = runs[jnp.bfloat16][1]
    for name, tree in (("params", state.params), ("opt_state", state.opt_state),
                       ("batch_stats", state.batch_stats)):
        dtypes = {jnp.dtype(x.dtype).name for x in jax.tree.leaves(tree)
                  if jnp.issubdtype(x.dtype, jnp.floating)}
        assert dtypes == {"float32"}, (name, dtypes)
    assert state.batch_stats and int(state.step) == STEPS


def test_compute_dtype_is_checked():
    for value in ("float32", "bfloat16"):
        loop.check_config(micro_config("synthetic_hrnet", compute_dtype=value))
    assert config_lib.compute_dtype(micro_config("synthetic_gnn", compute_dtype="bfloat16")) \
        == jnp.bfloat16
    for value in ("float16", "bf16", "Float32"):
        with pytest.raises(ConfigError, match=rf"^compute_dtype {value!r} must be one of "
                                              r"\('float32', 'bfloat16'\)$"):
            loop.check_config(micro_config("synthetic_hrnet", compute_dtype=value))


def test_runs_pinned_before_the_key_resume_as_float32(tmp_path):
    """A workdir's config.json from before `compute_dtype` existed computed in float32."""
    config = micro_config("synthetic_hrnet")
    stored = config_lib.to_json(config)
    del stored["compute_dtype"]
    (tmp_path / "config.json").write_text(json.dumps(stored))
    config_lib.pin_workdir_config(tmp_path, config, has_checkpoint=True, write=False)
    bf16 = micro_config("synthetic_hrnet", compute_dtype="bfloat16")
    with pytest.raises(CheckpointError, match="compute_dtype: 'float32' -> 'bfloat16'"):
        config_lib.pin_workdir_config(tmp_path, bf16, has_checkpoint=True, write=False)
