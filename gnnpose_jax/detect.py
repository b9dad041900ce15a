"""gnnpose-detect IMAGE|VIDEO|FRAME_DIR --detector CKPT [--conf 0.25] [--nms 0.45]
[--dtype float32|bfloat16] --output DETS.json: person boxes of every frame, found by YOLOX (also
`python -m gnnpose_jax.detect`).

Writes COCO detection results, `[{"image_id", "category_id": 1, "bbox": [x, y, w, h],
"score"}]` with boxes in frame pixels: `image_id` is the frame's file name for an image or a
folder of images, and the frame index (0-based) for a video, which is what
`gnnpose-track --detections` and `gnnpose-evaluate --detections` read. CKPT is a converted
folder (`gnnpose-convert yolox_s.pth DIR`), a detector training run's folder or the official
`.pth` itself, converted in memory. Frames without a person add no entry; no person at all is
`[]`. The output path is checked before any work starts, and the file appears only when
complete.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from tqdm import tqdm

from gnnpose_jax.cli import add_dtype_argument, check_writable, program, run_cli
from gnnpose_jax.data import posetrack
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.paths import check_distinct
from gnnpose_jax.tracking.boxes import DEFAULT_CONF, DEFAULT_NMS, check_thresholds
from gnnpose_jax.tracking.video import FrameSource


def detect_frames(source: FrameSource, ids: list[int | str], detector,
                  batch_size: int) -> list[dict]:
    """COCO detection entries for the frames of `source`, keyed by `ids`, with a progress bar."""
    frames = iter(source)
    entries = []
    with tqdm(total=len(ids), desc="detecting", unit="frame", dynamic_ncols=True) as bar:
        for start in range(0, len(ids), batch_size):
            chunk = list(itertools.islice(frames, batch_size))
            for image_id, boxes in zip(ids[start:start + len(chunk)], detector.detect(chunk),
                                       strict=True):
                entries.extend({"image_id": image_id, "category_id": posetrack.PERSON_CATEGORY_ID,
                                "bbox": [float(v) for v in box[:4]], "score": float(box[4])}
                               for box in boxes)
            bar.update(len(chunk))
    return entries


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags."""
    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, metavar="IMAGE|VIDEO|FRAME_DIR",
                        help="an image, a video file or a folder of frames")
    parser.add_argument("--detector", type=Path, required=True, metavar="CKPT",
                        help="YOLOX weights: a converted folder, a detector run's folder or "
                             "the official .pth")
    parser.add_argument("--conf", type=float, default=DEFAULT_CONF,
                        help="score threshold, objectness x class probability (default "
                             f"{DEFAULT_CONF}, the official demo's)")
    parser.add_argument("--nms", type=float, default=DEFAULT_NMS,
                        help=f"IoU threshold of the non-maximum suppression (default "
                             f"{DEFAULT_NMS})")
    parser.add_argument("--batch-size", type=int, default=8, help="frames per network call")
    add_dtype_argument(parser)
    parser.add_argument("--output", type=Path, required=True, metavar="DETS.json",
                        help="where to write the detections")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parses the flags (`argv`, default the command line), detects, writes."""
    args = build_parser().parse_args(argv)
    check_thresholds(args.conf, args.nms)
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size}: expected a positive integer")
    check_writable(args.output, "--output")
    check_distinct([("--output", args.output)],
                   [("IMAGE|VIDEO|FRAME_DIR", args.source), ("--detector", args.detector)])
    source = FrameSource(args.source)

    import jax.numpy as jnp

    from gnnpose_jax.tracking.networks import load_person_detector

    detector = load_person_detector(args.detector, args.conf, args.nms, args.batch_size,
                                    dtype=args.dtype)
    print(f"detector: YOLOX in {jnp.dtype(detector.dtype).name}", flush=True)
    ids = source.image_ids()
    entries = detect_frames(source, ids, detector, args.batch_size)
    posetrack.write_detections(entries, args.output)
    frames = len({e["image_id"] for e in entries})
    print(f"{len(entries)} person boxes in {frames} of {len(ids)} frames -> {args.output}")


def cli() -> None:
    """The `gnnpose-detect` console script: errors as one line and exit status 2."""
    run_cli(main)


if __name__ == "__main__":
    cli()
