"""GNN training-step throughput: segment vs dense attention, side by side.

Measures graphs/s of the jitted training step of the GNN alone (forward, backward, Adam update)
on random graphs with random missing joints and random features, plus compile time and peak
host memory (ru_maxrss). Each (config, impl) runs in its own subprocess so that peak memory
is its own.

    .venv/bin/python benchmarks/bench_gnn.py --configs tiny --steps 5
    .venv/bin/python benchmarks/bench_gnn.py --configs tiny,paper
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

#: name -> (feature grid (Hf, Wf), stride, D, L, H, batch, feature channels 3W)
CONFIGS = {
    "tiny": ((32, 24), 2, 64, 3, 4, 32, 48),
    "paper": ((96, 72), 2, 128, 4, 4, 8, 144),
}
HISTORY = 3
JOINT_DROPOUT = 0.2
LEARNING_RATE = 1e-4
BOX = (100.0, 50.0, 120.0, 160.0)  # every track's last-pose box, [x, y, w, h]


def make_batch(spec, budget, batch_size, channels, seed):
    """A padded batch of random graphs and (B, n + 1, Hf, Wf, C) random features."""
    import numpy as np

    from gnnpose_jax.graphs import batch_graphs, build_graph

    rng = np.random.default_rng(seed)
    hf, wf = spec.grid.feature_hw
    graphs = []
    x, y, w, h = BOX
    crop_centre = np.array([wf, hf]) * spec.grid.feature_stride / 2
    scale = 2 * crop_centre[1] / (1.5 * h)  # the box, enlarged 1.5x, fills the crop height
    affine = np.array([[scale, 0.0, crop_centre[0] - scale * (x + w / 2)],
                       [0.0, scale, crop_centre[1] - scale * (y + h / 2)]])
    low, high = (x, y), (x + w, y + h)
    for _ in range(batch_size):
        frames = rng.integers(1, spec.history + 1)
        hist = np.concatenate([rng.uniform(low, high, (frames, spec.num_joints, 2)),
                               rng.uniform(0.5, 1.0, (frames, spec.num_joints, 1))], axis=-1)
        hist[..., 2][rng.random(hist.shape[:2]) < JOINT_DROPOUT] = 0.0
        gt = np.concatenate([rng.uniform(low, high, (spec.num_joints, 2)),
                             np.ones((spec.num_joints, 1))], axis=-1)
        graphs.append(build_graph(spec, hist, np.stack([affine] * frames), affine,
                                  np.array(BOX), gt))
    features = rng.normal(size=(batch_size, spec.history + 1, hf, wf, channels))
    return batch_graphs(graphs, budget), features.astype(np.float32)


def run_one(name: str, impl: str, steps: int) -> dict:
    """Times one config and attention implementation; returns a result dict."""
    import jax
    import jax.numpy as jnp
    import optax

    from gnnpose_jax.graphs import CandidateGrid, GraphSpec, graph_budget
    from gnnpose_jax.models.gnn import GnnConfig, GnnPose
    from gnnpose_jax.training.losses import candidate_loss

    feature_hw, stride, hidden, layers, heads, batch_size, channels = CONFIGS[name]
    spec = GraphSpec(grid=CandidateGrid(feature_hw, stride), history=HISTORY)
    cfg = GnnConfig(graph=spec, hidden=hidden, layers=layers, heads=heads, attention_impl=impl)
    model = GnnPose(cfg)
    budget = graph_budget(spec, batch_size)
    batches = [make_batch(spec, budget, batch_size, channels, seed) for seed in range(2)]
    params = model.init(jax.random.key(0), *batches[0])["params"]
    tx = optax.adam(LEARNING_RATE)
    opt_state = tx.init(params)

    def step(params, opt_state, graphs, features):
        """One training step: mean weighted CE, gradients, Adam."""

        def loss_fn(p):
            total, count = candidate_loss(model.apply({"params": p}, graphs, features), graphs)
            return total / jnp.maximum(count, 1.0)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    jitted = jax.jit(step, donate_argnums=(0, 1))
    t0 = time.perf_counter()
    params, opt_state, loss = jitted(params, opt_state, *batches[0])
    loss.block_until_ready()
    compile_s = time.perf_counter() - t0
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        params, opt_state, loss = jitted(params, opt_state, *batches[i % 2])
    loss.block_until_ready()
    step_s = (time.perf_counter() - t0) / steps
    # CPU seconds of all this process's threads: steadier than wall time on a shared machine.
    cpu_s = (time.process_time() - cpu0) / steps
    return {
        "config": name, "impl": impl, "graphs_per_s": batch_size / step_s,
        "step_ms": 1e3 * step_s, "cpu_ms": 1e3 * cpu_s, "compile_s": compile_s, "loss": float(loss),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "budget": list(budget), "device": jax.devices()[0].device_kind,
    }


def main() -> None:
    """Runs every requested (config, impl) in a subprocess and prints a side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="tiny", help="comma-separated: tiny, paper")
    parser.add_argument("--impls", default="segment,dense", help="comma-separated")
    parser.add_argument("--steps", type=int, default=10, help="timed steps after compiling")
    parser.add_argument("--one", nargs=2, metavar=("CONFIG", "IMPL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one, args.steps)))
        return
    for name in args.configs.split(","):
        rows = []
        for impl in args.impls.split(","):
            out = subprocess.run(
                [sys.executable, __file__, "--one", name, impl, "--steps", str(args.steps)],
                check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
        hf, wf = CONFIGS[name][0]
        stride = CONFIGS[name][1]
        print(f"{name}: candidates {hf // stride}x{wf // stride}, D {CONFIGS[name][2]}, "
              f"L {CONFIGS[name][3]}, H {CONFIGS[name][4]}, batch {CONFIGS[name][5]}, "
              f"budget {rows[0]['budget']}, {rows[0]['device']}")
        for r in rows:
            print(f"  {r['impl']:8s} {r['graphs_per_s']:8.1f} graphs/s  step {r['step_ms']:8.1f} ms"
                  f" (cpu {r['cpu_ms']:8.1f} ms)  compile {r['compile_s']:6.1f} s"
                  f"  peak rss {r['peak_rss_mib']:7.0f} MiB"
                  f"  loss {r['loss']:.4f}")
        if len(rows) == 2:
            print(f"  {rows[1]['impl']}/{rows[0]['impl']} throughput: "
                  f"{rows[1]['graphs_per_s'] / rows[0]['graphs_per_s']:.2f}x")


if __name__ == "__main__":
    main()
