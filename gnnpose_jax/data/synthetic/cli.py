"""The command line: `python -m gnnpose_jax.data.synthetic --out DIR --seed S ...`."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence as SequenceType

from gnnpose_jax.cli import check_writable
from gnnpose_jax.data.synthetic.config import SPLITS
from gnnpose_jax.data.synthetic.write import generate_world
from gnnpose_jax.errors import DataError


def parse_size(text: str) -> tuple[int, int]:
    """Parses the CLI's `WIDTHxHEIGHT` (e.g. `384x288`) into (H, W)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise DataError(f"--size: expected WIDTHxHEIGHT such as 384x288, got {text!r}")
    width, height = (int(p) for p in parts)
    return height, width


def main(argv: SequenceType[str] | None = None) -> int:
    """Command-line entry point: writes one split of the synthetic world."""
    parser = argparse.ArgumentParser(
        prog="python -m gnnpose_jax.data.synthetic",
        description="Write a synthetic world of walking and running people in PoseTrack 2018 "
                    "layout (images, annotations, COCO detections).")
    parser.add_argument("--out", required=True, help="dataset root folder")
    parser.add_argument("--seed", type=int, required=True, help="random seed (>= 0)")
    parser.add_argument("--videos", type=int, default=20, help="number of videos")
    parser.add_argument("--split", choices=SPLITS, default="train")
    parser.add_argument("--frames", type=int, default=50, help="frames per video")
    parser.add_argument("--size", default="384x288", help="frame size WIDTHxHEIGHT")
    parser.add_argument("--label-every", type=int, default=1,
                        help="label every n-th frame (PoseTrack val labels every 4th)")
    parser.add_argument("--preview", action="store_true",
                        help="also write DIR/preview_{split}.png from the first video")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing split")
    args = parser.parse_args(argv)
    image_hw = parse_size(args.size)
    check_writable(args.out, "--out", folder=True)
    start = time.perf_counter()

    def report(done: int, total: int) -> None:
        print(f"{args.split}: {done}/{total} videos ({time.perf_counter() - start:.1f} s)",
              flush=True)

    summary = generate_world(args.out, args.seed, args.videos, args.split, args.frames, image_hw,
                             args.label_every, args.overwrite, args.preview, progress=report)
    print(f"wrote {summary.videos} videos, {summary.frames} frames ({summary.labeled_frames} "
          f"labeled, {summary.people} people), {summary.detections} detections to {args.out} "
          f"in {time.perf_counter() - start:.1f} s")
    if summary.preview is not None:
        print(f"preview: {summary.preview}")
    return 0


