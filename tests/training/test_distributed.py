"""Data parallelism (gnnpose_jax.training.distributed): 4 devices, and 2 processes x 2 devices,
train like 1 device; batch sizes and multi-host flags are checked before joining.

The last test runs the whole `train.py` in 2 processes (validation, checkpoints and the export
all involve collectives that every process must join).

Each case runs this file as a worker in fresh subprocesses (XLA_FLAGS fixes the CPU device count
before JAX starts) and compares what the workers write:
- GNN mode (no BatchNorm): 3 SGD steps of the pmapped `gnn_train_step` on one global batch
  whose graphs hold unequal numbers of candidates per device; the parameters must match a
  1-device run of the same global batch, within float32 reduction-order error
  (`_assert_same`). Dividing by the global count is what makes them match.
- HRNet mode: BatchNorm statistics are per device (as in the official code), so the 1-device
  reference is written independently: the global loss sum / global count over 4 groups, each
  group normalised by its own BatchNorm statistics (jax.vmap), running statistics averaged.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
GLOBAL_BATCH = 16
STEPS = 3
LEARNING_RATE = 0.01
INPUT_HW = (64, 32)  # HRNet needs multiples of 32
# Padding examples, unevenly spread over the 4 device shards of 2 examples each.
MASK = np.array([1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1], bool)


def _tiny_hrnet():
    """A very small HRNet, so that each worker compiles in seconds."""
    from gnnpose_jax.models.hrnet import HRNetConfig

    return HRNetConfig(width=4, stem_channels=8, layer1_blocks=1, layer1_planes=4,
                       stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1))


def _hrnet_batch():
    """The global HRNet batch, seeded."""
    rng = np.random.default_rng(0)
    h, w = INPUT_HW[0] // 4, INPUT_HW[1] // 4
    weight = (rng.random((GLOBAL_BATCH, 17)) > 0.2).astype(np.float32)
    return {"image": rng.normal(size=(GLOBAL_BATCH, *INPUT_HW, 3)).astype(np.float32),
            "heatmaps": (rng.random((GLOBAL_BATCH, h, w, 17)) ** 8).astype(np.float32),
            "target_weight": weight, "mask": MASK.copy()}


def _gnn_spec():
    """n = 2, K = 17, an 8 x 4 candidate grid on the tiny HRNet's 16 x 8 features."""
    from gnnpose_jax.graphs import CandidateGrid, GraphSpec

    return GraphSpec(grid=CandidateGrid((INPUT_HW[0] // 4, INPUT_HW[1] // 4), stride=2),
                     history=2)


def _gnn_graphs():
    """GLOBAL_BATCH single graphs with random histories (some joints and frames missing)."""
    from gnnpose_jax.graphs import build_graph

    spec = _gnn_spec()
    rng = np.random.default_rng(1)
    graphs = []
    crop = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]])  # image 64 x 128 (w x h) -> crop
    for i in range(GLOBAL_BATCH):
        frames = 1 + i % 2
        xy = rng.uniform([4, 4], [60, 124], size=(frames, 17, 2))
        score = rng.uniform(0.0, 1.0, size=(frames, 17, 1))
        gt = np.concatenate([rng.uniform([4, 4], [60, 124], size=(17, 2)),
                             (rng.random((17, 1)) > 0.3 * (i % 3))], axis=1)
        graphs.append(build_graph(spec, np.concatenate([xy, score], -1),
                                  np.repeat(crop[None], frames, 0), crop,
                                  np.array([4.0, 4.0, 56.0, 120.0]), gt))
    crops = np.random.default_rng(2).normal(
        size=(GLOBAL_BATCH, spec.history + 1, *INPUT_HW, 3)).astype(np.float32)
    return graphs, crops


def _gnn_device_batches(rows: np.ndarray, devices: int):
    """This process's rows of the global GNN batch, padded per device and stacked (D, ...)."""
    import jax

    from gnnpose_jax.graphs import batch_graphs, graph_budget

    graphs, crops = _gnn_graphs()
    per_device = len(rows) // devices
    budget = graph_budget(_gnn_spec(), per_device)
    parts = []
    for d in range(devices):
        chosen = rows[d * per_device:(d + 1) * per_device]
        parts.append({"graphs": batch_graphs([graphs[i] for i in chosen], budget),
                      "crops": crops[chosen]})
    return jax.tree.map(lambda *x: np.stack(x), *parts)


def _hrnet_state(tx):
    """The tiny HRNet's train state, initialised from key 0."""

    from gnnpose_jax.models.hrnet import HRNet
    from gnnpose_jax.training.state import create_state

    module = HRNet(_tiny_hrnet())
    return create_state(module.apply, _init_hrnet(module, 0), tx)


def _init_hrnet(module, seed: int):
    """Seeded variables of `module` (see `_random_like`)."""
    import jax
    import jax.numpy as jnp

    images = jnp.zeros((1, *INPUT_HW, 3))
    return _random_like(jax.eval_shape(lambda: module.init(jax.random.key(0), images)), seed)


def _random_like(abstract, seed: int):
    """Random variables of an abstract variable tree, without compiling the module's init.

    Compiling `init` costs as much as compiling the step; the workers only need some fixed,
    well-scaled values: N(0, 1/fan_in) kernels and embeddings, N(1, 0.1) BN scales and
    variances, small random biases and means.
    """
    import jax

    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        """One leaf by its name."""
        name = jax.tree_util.keystr(path[-1:])
        if name in ("['kernel']", "['embedding']"):
            fan_in = int(np.prod(leaf.shape[:-1])) or 1
            return (rng.normal(size=leaf.shape) / np.sqrt(fan_in)).astype(leaf.dtype)
        if name in ("['scale']", "['var']"):
            return (1.0 + 0.1 * np.abs(rng.normal(size=leaf.shape))).astype(leaf.dtype)
        return (0.1 * rng.normal(size=leaf.shape)).astype(leaf.dtype)

    return jax.tree_util.tree_map_with_path(fill, abstract)


def _gnn_state(tx):
    """A small GNN on the frozen tiny HRNet's features."""
    import jax
    import jax.numpy as jnp

    from gnnpose_jax.graphs import batch_graphs, graph_budget
    from gnnpose_jax.models.gnn import GnnConfig, GnnPose
    from gnnpose_jax.models.hrnet import HRNet
    from gnnpose_jax.training.state import create_state

    hrnet = HRNet(_tiny_hrnet())
    frozen = _init_hrnet(hrnet, 3)
    config = GnnConfig(graph=_gnn_spec(), hidden=16, layers=2, heads=2)
    model = GnnPose(config)
    graphs, crops = _gnn_graphs()
    example = batch_graphs(graphs[:1], graph_budget(_gnn_spec(), 1))
    hf, wf = INPUT_HW[0] // 4, INPUT_HW[1] // 4
    features = jnp.zeros((1, 3, hf, wf, 3 * _tiny_hrnet().width))
    variables = _random_like(jax.eval_shape(model.init, jax.random.key(0), example, features), 4)
    return create_state(model.apply, variables, tx, frozen=frozen, frozen_apply_fn=hrnet.apply)


def _pmapped_run(mode: str, process_id: int, num_processes: int) -> dict[str, np.ndarray]:
    """STEPS SGD steps of the pmapped train step on this process's share of the global batch."""
    import jax
    import optax

    from gnnpose_jax.training import distributed, steps

    tx = optax.sgd(LEARNING_RATE)
    local = GLOBAL_BATCH // num_processes
    rows = np.arange(process_id * local, (process_id + 1) * local)
    devices = jax.local_device_count()
    if mode == "hrnet":
        state = _hrnet_state(tx)
        batch = distributed.shard(jax.tree.map(lambda x: x[rows], _hrnet_batch()))
        step = steps.hrnet_train_step
    else:
        state = _gnn_state(tx)
        batch = _gnn_device_batches(rows, devices)
        step = steps.gnn_train_step
    p_step = jax.pmap(step, axis_name=distributed.AXIS, donate_argnums=(0,))
    init = _flat({"params": state.params, "batch_stats": state.batch_stats}, [])
    state = distributed.replicate(state)
    rng = distributed.replicate(jax.random.key(5))
    losses = []
    for _ in range(STEPS):
        state, metrics = p_step(state, batch, rng)
        losses.append(float(distributed.unreplicate(metrics["loss"])))
    host = distributed.unreplicate(state)
    return _with_init(_flat({"params": host.params, "batch_stats": host.batch_stats}, losses),
                      init)


def _flat(tree, losses) -> dict[str, np.ndarray]:
    """`{path: array}` of a pytree plus the losses, for np.savez."""
    import jax

    out = {jax.tree_util.keystr(p): np.asarray(x)
           for p, x in jax.tree_util.tree_leaves_with_path(tree)}
    out["losses"] = np.asarray(losses)
    return out


def _with_init(final: dict[str, np.ndarray], init: dict[str, np.ndarray]
               ) -> dict[str, np.ndarray]:
    """The final arrays plus the initial ones under `init:` keys (to compare updates)."""
    return {**final, **{f"init:{k}": v for k, v in init.items() if k != "losses"}}


def _hrnet_reference() -> dict[str, np.ndarray]:
    """1 device: global loss over 4 BatchNorm groups, written without collectives."""
    import jax
    import jax.numpy as jnp
    import optax

    from gnnpose_jax.models.hrnet import HRNet
    from gnnpose_jax.training.losses import heatmap_loss

    groups = 4
    state = _hrnet_state(optax.sgd(LEARNING_RATE))
    module = HRNet(_tiny_hrnet())
    batch = jax.tree.map(lambda x: x.reshape(groups, -1, *x.shape[1:]), _hrnet_batch())
    params, stats = state.params, state.batch_stats
    init = _flat({"params": params, "batch_stats": stats}, [])

    def group_loss(params, stats, group):
        """Loss sum, count and new BN statistics of one group."""
        out, updates = module.apply({"params": params, "batch_stats": stats}, group["image"],
                                    train=True, mutable=["batch_stats"])
        total, count = heatmap_loss(out.heatmaps, group["heatmaps"], group["target_weight"],
                                    group["mask"])
        return total, count, updates["batch_stats"]

    def global_loss(params, stats):
        """Sum over groups divided by the global count."""
        totals, counts, new = jax.vmap(group_loss, in_axes=(None, None, 0))(params, stats, batch)
        return jnp.sum(totals) / jnp.sum(counts), new

    gradient = jax.jit(jax.value_and_grad(global_loss, has_aux=True))
    losses = []
    for _ in range(STEPS):
        (loss, new), grads = gradient(params, stats)
        params = jax.tree.map(lambda p, g: p - LEARNING_RATE * g, params, grads)
        stats = jax.tree.map(lambda s: jnp.mean(s, axis=0), new)
        losses.append(float(loss))
    return _with_init(_flat({"params": params, "batch_stats": stats}, losses), init)


def _worker(argv: list[str]) -> None:
    """Subprocess entry: run one configuration and save its results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("hrnet", "hrnet_reference", "gnn"))
    parser.add_argument("--out")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--process-id", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    import jax

    if args.processes > 1:
        from gnnpose_jax.training import distributed

        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        distributed.initialize(f"127.0.0.1:{args.port}", args.processes, args.process_id)
    if args.mode == "hrnet_reference":
        result = _hrnet_reference()
    else:
        result = _pmapped_run(args.mode, args.process_id, args.processes)
    if args.process_id == 0:
        np.savez(args.out, **result)


def _free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tmp_path: Path, name: str, mode: str, devices: int, processes: int = 1
         ) -> dict[str, np.ndarray]:
    """Runs the worker in `processes` subprocesses of `devices` CPU devices each."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT),
               XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} "
                         f"--xla_force_host_platform_device_count={devices}")
    out = tmp_path / f"{name}.npz"
    port = _free_port()
    procs = [subprocess.Popen(
        [sys.executable, __file__, "--mode", mode, "--out", str(out), "--processes",
         str(processes), "--process-id", str(p), "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for p in range(processes)]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-3000:]
    with np.load(out) as data:
        return dict(data)


# Tolerances. The runs compute the same mathematics in another summation order (4 device
# shards and a pmean, or a vmap over groups), and XLA picks other vector kernels on other CPUs,
# so float32 results cannot be bitwise equal. Rounding perturbs each step's gradients by a
# relative ~1e-4 at most (measured: up to 3.5e-4 of a leaf's update over the 3 steps, with
# XLA restricted to SSE4.2 or AVX2 on an AVX-512 machine, against 1e-4 with AVX-512), and the
# error of a leaf's update grows at most linearly with the steps. So the *updates* of every
# leaf must agree to UPDATE_RTOL of their own norm, with a floor of a few float32 ulps of the
# leaf per step for leaves that barely move. A real data-parallel bug (a per-device instead of
# a global loss count with these uneven masks, BatchNorm statistics not averaged) changes
# updates by 10% or more.
UPDATE_RTOL = 2e-2
ULPS_PER_STEP = 8 * float(np.finfo(np.float32).eps)


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    """Every leaf of `a` took the same update from the shared initial state as in `b`."""
    assert a.keys() == b.keys()
    np.testing.assert_allclose(a["losses"], b["losses"], rtol=UPDATE_RTOL * 1e-1)
    for key in (k for k in a if k != "losses" and not k.startswith("init:")):
        init = b[f"init:{key}"]
        np.testing.assert_array_equal(a[f"init:{key}"], init, err_msg=f"{key}: another start")
        moved = b[key] - init
        allowed = (UPDATE_RTOL * np.linalg.norm(moved)
                   + STEPS * ULPS_PER_STEP * np.linalg.norm(b[key]))
        error = np.linalg.norm(a[key] - b[key])
        assert error <= allowed, (f"{key}: the updates differ by {error:.3g} (norm); allowed "
                                  f"{allowed:.3g}, update norm {np.linalg.norm(moved):.3g}")


def test_gnn_four_devices_and_two_processes_match_one_device(tmp_path):
    one = _run(tmp_path, "one", "gnn", devices=1)
    four = _run(tmp_path, "four", "gnn", devices=4)
    two_by_two = _run(tmp_path, "two_by_two", "gnn", devices=2, processes=2)
    assert np.all(np.isfinite(one["losses"])) and one["losses"][-1] < one["losses"][0]
    _assert_same(four, one)
    _assert_same(two_by_two, four)


def test_hrnet_four_devices_and_two_processes_match_reference(tmp_path):
    reference = _run(tmp_path, "reference", "hrnet_reference", devices=1)
    four = _run(tmp_path, "four", "hrnet", devices=4)
    two_by_two = _run(tmp_path, "two_by_two", "hrnet", devices=2, processes=2)
    assert np.all(np.isfinite(reference["losses"]))
    _assert_same(four, reference)
    _assert_same(two_by_two, four)
    # The tolerance still sees a data-parallel bug: updates 10% off fail.
    off = {k: v if k == "losses" or k.startswith("init:") else
           reference[f"init:{k}"] + 1.1 * (v - reference[f"init:{k}"])
           for k, v in reference.items()}
    with pytest.raises(AssertionError, match="the updates differ"):
        _assert_same(off, reference)


def test_train_cli_in_two_processes_validates_checkpoints_and_exports(tmp_path):
    workdir = tmp_path / "run"
    overrides = {"hrnet.width": 4, "hrnet.stem_channels": 8, "hrnet.layer1_planes": 4,
                 "hrnet.stage_blocks": "(1,1,1)", "hrnet.input_hw": "(64,32)",
                 "data.synthetic_train_videos": 2, "data.synthetic_val_videos": 1,
                 "data.synthetic_frames": 8, "data.synthetic_image_hw": "(96,128)",
                 "data.max_val_examples": 8, "batch_size": 4, "log_every_steps": 2,
                 "eval_every_epochs": 0.0, "eval_every_steps": 2, "checkpoint_every_epochs": 0.0,
                 "checkpoint_every_steps": 2, "progress_bar": False}
    env = dict(os.environ, XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} "
                                     "--xla_force_host_platform_device_count=1",
               JAX_PLATFORMS="cpu")
    port = _free_port()
    args = [f"--config.{k}={v}" for k, v in overrides.items()]
    procs = [subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), "--config", "configs/synthetic_hrnet.py",
         "--workdir", str(workdir), "--config.num_train_steps=4", *args,
         "--coordinator_address", f"127.0.0.1:{port}", "--num_processes", "2",
         "--process_id", str(p)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True) for p in range(2)]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-3000:]
    assert "step 4/4: val loss" in logs[1] and "exported step" in logs[0]
    assert sorted(os.listdir(workdir / "checkpoints" / "4" / "data")) == [
        "commit_success.txt", "process_0-of-2.json", "process_1-of-2.json"]
    assert (workdir / "hrnet" / "hrnet.json").is_file()


# Checks before any device is used (imports inside: this file is also the workers' script).


def test_batch_not_divisible_by_the_devices(monkeypatch):
    import jax

    from gnnpose_jax.errors import ConfigError
    from gnnpose_jax.training import distributed

    monkeypatch.setattr(jax, "device_count", lambda: 4)
    assert distributed.per_process_batch_size(8) == 8
    with pytest.raises(ConfigError, match="batch_size 6 is not divisible by the 4 devices"):
        distributed.per_process_batch_size(6)


def test_multi_host_flags_are_checked_before_joining(monkeypatch):
    from gnnpose_jax.errors import ConfigError
    from gnnpose_jax.training import distributed

    for name in (distributed.ENV_COORDINATOR, distributed.ENV_NUM_PROCESSES,
                 distributed.ENV_PROCESS_ID):
        monkeypatch.delenv(name, raising=False)
    assert distributed.initialize() is False  # single process: nothing to join
    with pytest.raises(ConfigError, match="--num_processes 2 needs --coordinator_address"):
        distributed.initialize(num_processes=2)
    with pytest.raises(ConfigError, match="needs --num_processes N and --process_id in 0..N-1"):
        distributed.initialize("127.0.0.1:1234", 2, 2)
    monkeypatch.setenv(distributed.ENV_COORDINATOR, "127.0.0.1:1234")
    monkeypatch.setenv(distributed.ENV_NUM_PROCESSES, "two")
    with pytest.raises(ConfigError, match="JAX_NUM_PROCESSES='two': expected an integer"):
        distributed.initialize()


if __name__ == "__main__":
    _worker(sys.argv[1:])
