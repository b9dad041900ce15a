"""Feed rate: training examples per second of each mode's input pipeline, per host core.

Writes a synthetic world at a PoseTrack-like frame size (1280 x 720 by default; timing
`synthetic.generate_world`), then runs each mode's training loader as train.py builds it from
the PoseTrack configs, reading the world's folder:

- hrnet: configs/posetrack18_hrnet_w48.py, top-down samples at 384 x 288 with the official
  augmentation (`inputs.hrnet_loaders`: visible-joint targets, scale, rotation, flip, half body);
- gnn: configs/posetrack18_gnn_w48.py, windows of n = 3 history frames and the current one
  (4 decodes, 4 crops at 384 x 288, GT histories made estimate-like, as `gnn.history_source
  = "gt"` sets), then the step batch: one graph per window, padded to the budget
  (`inputs.gnn_batch`), built in the loader as GNN mode does (in the grain workers when there
  are any); gnn-loop builds them in the training thread instead (`Task.to_batch`, as GNN mode
  did before), to show what that costs the loop;
- detector: configs/posetrack18_yolox_s.py, frames letterboxed into 640 x 640 with HSV jitter
  and flips (the config sets no mosaic or mixup: the project implements neither).

Each row times what the training loop waits for: `next(iterator)` and the mode's `to_batch`,
over `--batches` batches after the first (worker start-up excluded), with 0 grain workers (all
in the training process), 1 and 2. It prints examples per wall second, the ratio to 0 workers,
examples per CPU second of the training process (all its threads, workers not counted) and the
share of the wall time spent in `to_batch`. With 0 workers the CPU-second rate is the feed
rate of one host core, and it holds up when other jobs share the machine (wall rates do not);
with workers it is the ceiling the training process itself sets.

    python benchmarks/bench_input.py                           # defaults (2 to 6 minutes)
    python benchmarks/bench_input.py --modes gnn gnn-loop --workers 0 2 --batches 8

The CPU is usually shared: figures vary with the machine's load.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnnpose_jax.data import synthetic  # noqa: E402
from gnnpose_jax.graphs import graph_budget  # noqa: E402
from gnnpose_jax.training import config as config_lib  # noqa: E402
from gnnpose_jax.training import gnn_mode, inputs  # noqa: E402

#: mode -> (config file, what one example is)
MODES = {
    "hrnet": ("posetrack18_hrnet_w48.py", "top-down sample 384x288"),
    "gnn": ("posetrack18_gnn_w48.py", "window n=3 384x288, graph"),
    "gnn-loop": ("posetrack18_gnn_w48.py", "same, graph in the loop"),
    "detector": ("posetrack18_yolox_s.py", "YOLOX-s frame 640x640"),
}


def _size(text: str) -> tuple[int, int]:
    """`WIDTHxHEIGHT` -> (H, W)."""
    width, height = (int(v) for v in text.lower().split("x"))
    return height, width


def write_world(root: Path, videos: int, frames: int, image_hw: tuple[int, int]) -> float:
    """Writes the train split (and a one-video val split); frames per second of the train split."""
    start = time.perf_counter()
    summary = synthetic.generate_world(root, seed=0, num_videos=videos, split="train",
                                       num_frames=frames, image_hw=image_hw)
    rate = summary.frames / (time.perf_counter() - start)
    synthetic.generate_world(root, seed=1, num_videos=1, split="val", num_frames=6,
                             image_hw=image_hw)
    return rate


def mode_config(mode: str, root: Path, workers: int, batch: int):
    """The mode's PoseTrack config, reading the world at `root` with `workers` grain workers
    (and `batch` examples per batch, unless 0)."""
    config = config_lib.load_config_file(str(ROOT / "configs" / MODES[mode][0]))
    config.data.source = "folder"
    config.data.root = str(root)
    config.data.num_workers = workers
    if batch:
        config.batch_size = batch
    return config


def loader_and_batch(mode: str, config, workdir: Path) -> tuple[object, Callable]:
    """(train loader, to_batch) of the mode, as its `build` makes them (one device)."""
    batch = config.batch_size
    if mode == "hrnet":
        return inputs.hrnet_loaders(config, workdir, batch)[0], inputs.hrnet_batch
    if mode == "detector":
        return inputs.detector_loaders(config, workdir, batch)[0], inputs.detector_batch
    spec = gnn_mode.gnn_config(config).graph
    step_batch = functools.partial(inputs.gnn_batch, spec=spec, budget=graph_budget(spec, batch))
    if mode == "gnn-loop":
        return inputs.gnn_loaders(config, workdir, batch)[0], step_batch
    return (inputs.gnn_loaders(config, workdir, batch, step_batch=step_batch)[0],
            inputs.prepared_batch)


def time_loop(loader, to_batch: Callable, batch: int, batches: int
              ) -> tuple[float, float, float]:
    """Over `batches` batches after the first: examples per wall second, examples per CPU
    second of this process (all its threads; workers not counted), and the share of the wall
    time spent in `to_batch`."""
    iterator = iter(loader)
    try:
        to_batch(next(iterator))
        converting = 0.0
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(batches):
            raw = next(iterator)
            before = time.perf_counter()
            to_batch(raw)
            converting += time.perf_counter() - before
        total, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        return batches * batch / total, batches * batch / cpu, converting / total
    finally:
        iterator.close()


def main() -> None:
    """Runs the benchmark and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=12, help="frames per video")
    parser.add_argument("--size", default="1280x720", help="frame size WIDTHxHEIGHT")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch", type=int, default=0,
                        help="examples per batch (0 = the config's batch_size)")
    parser.add_argument("--batches", type=int, default=4, help="timed batches per row")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_input_") as tmp:
        root = Path(tmp)
        world_fps = write_world(root / "world", args.videos, args.frames, _size(args.size))
        for mode in args.modes:
            for workers in args.workers:
                config = mode_config(mode, root / "world", workers, args.batch)
                loader, to_batch = loader_and_batch(mode, config, root / "run")
                rows.append((mode, config.batch_size, workers,
                             *time_loop(loader, to_batch, config.batch_size, args.batches)))

    print(f"synthetic world ({args.size}, write to disk): {world_fps:8.1f} frames/s")
    print(f"training loop's view (next + to_batch), {args.batches} timed batches per row:")
    print(f"  {'mode':<8}  {'example':<27}  {'batch':>5}  {'workers':>7}  {'examples/s':>10}  "
          f"{'vs 0 workers':>12}  {'per CPU s':>9}  {'to_batch':>8}")
    base = {(mode, batch): rate for mode, batch, workers, rate, *_ in rows if workers == 0}
    for mode, batch, workers, rate, per_cpu, share in rows:
        ratio = f"{rate / base[mode, batch]:12.2f}" if (mode, batch) in base else f"{'-':>12}"
        print(f"  {mode:<8}  {MODES[mode][1]:<27}  {batch:>5}  {workers:>7}  {rate:10.1f}  "
              f"{ratio}  {per_cpu:9.1f}  {share:8.0%}")


if __name__ == "__main__":
    main()
