"""python -m gnnpose_jax.detect IMAGE|VIDEO|FRAME_DIR --detector CKPT [--conf 0.25]
[--nms 0.45] [--dtype float32|bfloat16] --output DETS.json: person boxes of every frame, found
by YOLOX.

Writes COCO detection results, `[{"image_id", "category_id": 1, "bbox": [x, y, w, h],
"score"}]` with boxes in frame pixels: `image_id` is the frame's file name for an image or a
folder of images, and the frame index (0-based) for a video, which is what
`python -m gnnpose_jax.track --detections` and `evaluate.py --detections` read. CKPT is a
converted folder (`python -m convert_weights yolox_s.pth DIR`) or the official `.pth` itself,
converted in memory. Frames without a person add no entry; no person at all is `[]`. The
output path is checked before any work starts, and the file appears only when complete.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from tqdm import tqdm

from gnnpose_jax.cli import add_dtype_argument, check_writable, run_cli
from gnnpose_jax.data import posetrack
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.tracking.video import FrameSource


def check_thresholds(conf: float, nms: float) -> None:
    """Refuses detector thresholds outside [0, 1]."""
    for flag, value in (("--conf", conf), ("--nms", nms)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{flag} {value:g}: expected a number in [0, 1]")


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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gnnpose_jax.detect", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, metavar="IMAGE|VIDEO|FRAME_DIR",
                        help="an image, a video file or a folder of frames")
    parser.add_argument("--detector", type=Path, required=True, metavar="CKPT",
                        help="YOLOX weights: a converted folder or the official .pth")
    parser.add_argument("--conf", type=float, default=0.25,
                        help="score threshold, objectness x class probability (default 0.25, "
                             "the official demo's)")
    parser.add_argument("--nms", type=float, default=0.45,
                        help="IoU threshold of the non-maximum suppression (default 0.45)")
    parser.add_argument("--batch-size", type=int, default=8, help="frames per network call")
    add_dtype_argument(parser)
    parser.add_argument("--output", type=Path, required=True, metavar="DETS.json",
                        help="where to write the detections")
    args = parser.parse_args()
    check_thresholds(args.conf, args.nms)
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size}: expected a positive integer")
    check_writable(args.output, "--output")
    source = FrameSource(args.source)

    import jax.numpy as jnp

    from gnnpose_jax.models.detect import PersonDetector
    from gnnpose_jax.models.pretrained import load_detector

    module, variables = load_detector(args.detector, dtype=args.dtype)
    print(f"detector: YOLOX in {jnp.dtype(module.dtype).name}", flush=True)
    detector = PersonDetector(module, variables, conf=args.conf, nms=args.nms,
                              batch_size=args.batch_size)
    ids = source.image_ids()
    entries = detect_frames(source, ids, detector, args.batch_size)
    posetrack.write_detections(entries, args.output)
    frames = len({e["image_id"] for e in entries})
    print(f"{len(entries)} person boxes in {frames} of {len(ids)} frames -> {args.output}")


if __name__ == "__main__":
    run_cli(main)
