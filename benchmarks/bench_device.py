"""Ready for accelerators: one table of what decides real-time tracking, on any machine.

Rows, each measured after compiling, on `jax.devices()[0]` unless said otherwise:

- HRNet forward, BN folded (what the tracker runs), float32 and bfloat16: images/s, and
  bfloat16's largest heatmap error against float32 (absolute, and as a fraction of the float32
  heatmaps' peak);
- the GNN training step (forward, backward, Adam; `benchmarks/bench_gnn.py`'s random graphs):
  graphs/s;
- the whole tracker (HRNet, GNN, matching; `benchmarks/bench_track.py`'s clip case: the real
  PoseTrack clip, hand-drawn boxes, random weights, open gates): frames/s with and without
  the GNN;
- pmap scaling of the GNN training step over every local device, with a fixed batch per
  device: graphs/s on 1 device and on all, and the efficiency (all / (N x one)).

Full size is the paper's: HRNet-W48 at 384x288, the paper-size GNN (D 128, L 4, 48x36
candidates, features of W48). `--small` is CI-sized (a tiny HRNet at 128x96, a tiny GNN) and
runs in about a minute on two CPU cores:

    .venv/bin/python benchmarks/bench_device.py            # on a GPU/TPU machine
    .venv/bin/python benchmarks/bench_device.py --small    # anywhere
    XLA_FLAGS=--xla_force_host_platform_device_count=2 \\
        .venv/bin/python benchmarks/bench_device.py --small   # pmap over 2 CPU devices
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_gnn import make_batch  # noqa: E402
from bench_track import CLIP, CLIP_BOXES, PERMISSIVE, time_clip  # noqa: E402
from timing import median_seconds  # noqa: E402

from gnnpose_jax.graphs import CandidateGrid, GraphSpec, graph_budget  # noqa: E402
from gnnpose_jax.models import hrnet, run_folder  # noqa: E402
from gnnpose_jax.models.gnn import GnnConfig, GnnPose  # noqa: E402
from gnnpose_jax.training.losses import candidate_loss  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Size:
    """One benchmark size: the HRNet, its input, the GNN and the batches."""

    hrnet: hrnet.HRNetConfig
    input_hw: tuple[int, int]
    hidden: int
    layers: int
    hrnet_batch: int
    gnn_batch: int
    clip_frames: int


FULL = Size(hrnet.W48, (384, 288), hidden=128, layers=4, hrnet_batch=8, gnn_batch=8,
            clip_frames=5)
SMALL = Size(hrnet.HRNetConfig(width=8, stem_channels=16, layer1_blocks=1, layer1_planes=16,
                               stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1)),
             (128, 96), hidden=32, layers=1, hrnet_batch=2, gnn_batch=2, clip_frames=2)
HEADS = 4


def hrnet_rows(size: Size, repeats: int) -> list[tuple[str, str]]:
    """HRNet images/s in float32 and bfloat16, and bfloat16's heatmap error."""
    _, variables = hrnet.init_hrnet(size.hrnet, jax.random.key(0), size.input_hw)
    folded = jax.device_put(hrnet.fold_batchnorm(variables))
    x = jax.device_put(np.random.default_rng(0).standard_normal(
        (size.hrnet_batch, *size.input_hw, 3)).astype(np.float32))
    heatmaps, rows = {}, []
    for dtype in (jnp.float32, jnp.bfloat16):
        module = hrnet.HRNet(size.hrnet, fold_bn=True, dtype=dtype)
        forward = jax.jit(lambda v, x, module=module: module.apply(v, x, train=False).heatmaps)
        heatmaps[dtype] = np.asarray(forward(folded, x).astype(jnp.float32))
        seconds = median_seconds(lambda forward=forward: forward(folded, x).block_until_ready(),
                                 repeats)
        rows.append((f"HRNet-W{size.hrnet.width} {size.input_hw[0]}x{size.input_hw[1]} "
                     f"{jnp.dtype(dtype).name}, batch {size.hrnet_batch}",
                     f"{size.hrnet_batch / seconds:.1f} images/s"))
    error = np.abs(heatmaps[jnp.bfloat16] - heatmaps[jnp.float32]).max()
    peak = np.abs(heatmaps[jnp.float32]).max()
    rows.append(("bfloat16 heatmap error vs float32",
                 f"max {error:.2e} ({error / max(peak, 1e-12):.1%} of the peak)"))
    return rows


def _gnn_setup(size: Size, batch: int):
    hf, wf = size.input_hw[0] // 4, size.input_hw[1] // 4
    spec = GraphSpec(grid=CandidateGrid((hf, wf), stride=2), history=3)
    model = GnnPose(GnnConfig(graph=spec, hidden=size.hidden, layers=size.layers, heads=HEADS))
    budget = graph_budget(spec, batch)
    channels = 3 * size.hrnet.width
    batches = [make_batch(spec, budget, batch, channels, seed) for seed in range(2)]
    params = model.init(jax.random.key(0), *batches[0])["params"]
    return model, params, batches, spec


def _train_step(model, tx, axis: str | None):
    def step(params, opt_state, graphs, features):
        def loss_fn(p):
            total, count = candidate_loss(model.apply({"params": p}, graphs, features), graphs)
            return total / jnp.maximum(count, 1.0)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        if axis is not None:
            grads = jax.lax.pmean(grads, axis)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def gnn_rows(size: Size, repeats: int) -> list[tuple[str, str]]:
    """The GNN training step's graphs/s on one device."""
    model, params, batches, spec = _gnn_setup(size, size.gnn_batch)
    tx = optax.adam(1e-4)
    state = [params, tx.init(params)]
    step = jax.jit(_train_step(model, tx, None))

    def run():
        for batch in batches:
            state[0], state[1], loss = step(state[0], state[1], *batch)
        loss.block_until_ready()

    run()
    seconds = median_seconds(run, repeats) / len(batches)
    rows_, cols = spec.grid.shape
    return [(f"GNN train step (D {size.hidden}, L {size.layers}, {rows_}x{cols} candidates), "
             f"batch {size.gnn_batch}", f"{size.gnn_batch / seconds:.1f} graphs/s")]


def pmap_rows(size: Size, repeats: int) -> list[tuple[str, str]]:
    """The GNN training step under pmap on 1 device and on every local device."""
    model, params, batches, _ = _gnn_setup(size, size.gnn_batch)
    tx = optax.adam(1e-4)
    rate = {}
    counts = sorted({1, jax.local_device_count()})
    for n in counts:
        devices = jax.local_devices()[:n]
        step = jax.pmap(_train_step(model, tx, "devices"), axis_name="devices",
                        devices=devices)
        # An identity pmap lays n stacked copies out one per device.
        spread = jax.pmap(lambda tree: tree, devices=devices)

        def copies(tree, n=n, spread=spread):
            return spread(jax.tree.map(lambda x: np.stack([np.asarray(x)] * n), tree))

        state = [copies((params, tx.init(params)))]
        shards = [copies(b) for b in batches]

        def run(step=step, state=state, shards=shards):
            for batch in shards:
                p, o, loss = step(*state[0], *batch)
                state[0] = (p, o)
            loss.block_until_ready()

        run()
        rate[n] = n * size.gnn_batch * len(batches) / median_seconds(run, repeats)
    rows = [(f"pmap GNN train step, {m} device(s), batch {size.gnn_batch} each",
             f"{rate[m]:.1f} graphs/s") for m in counts]
    if counts[-1] > 1:
        n = counts[-1]
        rows.append((f"pmap scaling efficiency over {n} devices",
                     f"{rate[n] / (n * rate[1]):.0%}"))
    return rows


def tracker_rows(size: Size) -> list[tuple[str, str]]:
    """The whole tracker's frames/s on the clip, with and without the GNN."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        _, variables = hrnet.init_hrnet(size.hrnet, jax.random.key(0), size.input_hw)
        run_folder.export_hrnet(workdir / run_folder.HRNET_EXPORT, size.hrnet, variables,
                                size.input_hw)
        model, params, _, _ = _gnn_setup(size, 1)
        run_folder.export_gnn(workdir / run_folder.GNN_EXPORT, model.config, params,
                              str(workdir / run_folder.HRNET_EXPORT), size.input_hw)
        (workdir / run_folder.CONFIG_JSON).write_text(json.dumps({"tracker": PERMISSIVE}))
        rows = []
        for use_gnn in (False, True):
            stats = time_clip(workdir, CLIP, CLIP_BOXES, passes=1, use_gnn=use_gnn,
                              frames=size.clip_frames)
            rows.append((f"tracker, HRNet-W{size.hrnet.width}"
                         + (" + GNN" if use_gnn else " (baseline)") + " on the clip",
                         f"{stats['frames'] / stats['seconds']:.2f} frames/s"))
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="CI-sized models and batches")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (median)")
    args = parser.parse_args()
    size = SMALL if args.small else FULL
    device = jax.devices()[0]
    print(f"jax {jax.__version__}, {jax.local_device_count()} local device(s): "
          f"{device.platform} {device.device_kind}", flush=True)
    print("| measurement | result |\n|---|---|", flush=True)
    for rows in (lambda: hrnet_rows(size, args.repeats), lambda: gnn_rows(size, args.repeats),
                 lambda: tracker_rows(size), lambda: pmap_rows(size, args.repeats)):
        for name, value in rows():
            print(f"| {name} | {value} |", flush=True)


if __name__ == "__main__":
    main()
