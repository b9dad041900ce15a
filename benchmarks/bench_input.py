"""Input pipeline throughput: synthetic-world frames and top-down HRNet samples per second.

Writes a synthetic world into a temporary folder (timing `synthetic.generate_world`: simulate,
render, JPEG-encode and write), then runs the top-down training pipeline over it (record,
JPEG decode, augmented affine crop, normalisation, Gaussian targets, batching) with 0, 1 and 2
grain worker processes, side by side in one run. Worker start-up is excluded: timing starts
after the first batch. Prints one row per configuration with samples/s and the ratio to the
in-process pipeline (> 1 means faster).

    python benchmarks/bench_input.py                          # defaults (~1 minute)
    python benchmarks/bench_input.py --workers 0 2 --batches 40 --input 256x192

The CPU is usually shared: figures vary with the machine's load.
"""

import argparse
import tempfile
import time
from pathlib import Path

from gnnpose_jax.data import pipeline, synthetic
from gnnpose_jax.data.topdown_samples import TopDownConfig


def _size(text: str) -> tuple[int, int]:
    """`WIDTHxHEIGHT` -> (H, W)."""
    width, height = (int(v) for v in text.lower().split("x"))
    return height, width


def time_world(root: Path, videos: int, frames: int, image_hw: tuple[int, int]) -> float:
    """Frames per second of `generate_world` writing `videos` x `frames` frames."""
    start = time.perf_counter()
    summary = synthetic.generate_world(root, seed=0, num_videos=videos, split="train",
                                       num_frames=frames, image_hw=image_hw)
    return summary.frames / (time.perf_counter() - start)


def time_topdown(source: pipeline.RecordSource, config: TopDownConfig, workers: int,
                 batch: int, batches: int) -> float:
    """Top-down samples per second after the first batch, with `workers` grain processes."""
    loader = pipeline.LoaderConfig(per_device_batch=batch, num_devices=1, num_workers=workers,
                                   worker_buffer_size=2)
    iterator = iter(pipeline.make_loader(pipeline.person_refs(source.index),
                                         pipeline.TopDownTransform(source, config), loader,
                                         source.name))
    try:
        next(iterator)
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        return batches * batch / (time.perf_counter() - start)
    finally:
        iterator.close()


def main() -> None:
    """Runs the benchmark and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=25, help="frames per video")
    parser.add_argument("--size", default="384x288", help="frame size WIDTHxHEIGHT")
    parser.add_argument("--input", default="288x384", help="HRNet input WIDTHxHEIGHT")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--batches", type=int, default=20, help="timed batches per row")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_input_") as tmp:
        root = Path(tmp)
        world_fps = time_world(root, args.videos, args.frames, _size(args.size))
        source = pipeline.folder_source(root, "train")
        config = TopDownConfig(input_hw=_size(args.input))
        rows = [(w, time_topdown(source, config, w, args.batch, args.batches))
                for w in args.workers]

    print(f"synthetic world ({args.size}, write to disk): {world_fps:8.1f} frames/s")
    print(f"top-down samples, input {args.input}, heatmaps {config.heatmap_hw[1]}x"
          f"{config.heatmap_hw[0]}, batch {args.batch}, {args.batches} batches:")
    print(f"  {'workers':>7}  {'samples/s':>9}  {'vs 0 workers':>12}")
    base = dict(rows).get(0)
    for workers, rate in rows:
        ratio = f"{rate / base:12.2f}" if base else f"{'-':>12}"
        print(f"  {workers:>7}  {rate:9.1f}  {ratio}")


if __name__ == "__main__":
    main()
