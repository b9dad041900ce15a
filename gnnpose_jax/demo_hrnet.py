"""HRNet on real PoseTrack frames: detection boxes → top-down poses → skeleton PNGs.

    python -m gnnpose_jax.demo_hrnet --out demo_out/hrnet [--checkpoint DIR]

Without `--checkpoint` the weights are random (the poses mean nothing, the path is real);
with a directory made by `python -m convert_weights` the official weights are used.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np

from gnnpose_jax.cli import check_writable, run_cli
from gnnpose_jax.data import posetrack, transforms
from gnnpose_jax.errors import DataError
from gnnpose_jax.models import hrnet
from gnnpose_jax.models.pretrained import DEFAULT_INPUT_HW
from gnnpose_jax.models.topdown import TopDownEstimator
from gnnpose_jax.paths import check_distinct
from gnnpose_jax.viz.draw import draw_pose, track_colour, write_png

DEFAULT_SAMPLES = Path(__file__).resolve().parents[2] / "shared/data/posetrack18_samples"


def run_demo(samples: Path, out: Path, checkpoint: Path | None, min_score: float,
             input_hw: tuple[int, int], batch_size: int) -> list[Path]:
    """Draws HRNet poses for every detection ≥ `min_score` on the samples' frames, in crops of
    the checkpoint's recorded input size (else `input_hw`)."""
    annotations = samples / "annotations/test_posetrack18_val.json"
    detections_path = samples / "annotations/test_posetrack18_human_detections.json"
    for path in (annotations, detections_path):
        if not path.is_file():
            raise DataError(f"{path}: not found (expected the PoseTrack samples layout)")
    if checkpoint is None:
        module, variables = hrnet.init_hrnet(hrnet.W32, jax.random.key(0), input_hw)
        print("HRNet-W32 with random weights (pass --checkpoint for real ones)")
    else:
        module, variables = hrnet.load_hrnet(checkpoint)
        input_hw = tuple(hrnet.read_hrnet_json(checkpoint).get("input_hw") or input_hw)
    estimator = TopDownEstimator(module, variables, input_hw, batch_size)
    detections = posetrack.read_detections(detections_path)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for sequence in posetrack.read_sequences(annotations):
        for frame in sequence.frames:
            image_path = samples / frame.file_name
            if not image_path.is_file():
                continue
            image = transforms.read_image_rgb(image_path)
            dets = detections.get(frame.image_id, np.zeros((0, 5)))
            boxes = dets[dets[:, 4] >= min_score, :4]
            t0 = time.perf_counter()
            poses = estimator.estimate(image, boxes)
            dt = time.perf_counter() - t0
            for i, (kpts, scores) in enumerate(zip(poses.keypoints, poses.scores, strict=True)):
                draw_pose(image, kpts, track_colour(i), present=scores > 0, label=str(i))
            target = out / f"{sequence.name}_{Path(frame.file_name).stem}.png"
            write_png(target, image)
            written.append(target)
            print(f"{target}: {len(boxes)} people in {dt:.1f} s")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--out", type=Path, default=Path("demo_out/hrnet"))
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--min-score", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    check_writable(args.out, "--out", folder=True)
    check_distinct([("--out", args.out)], [("--samples", args.samples),
                                           ("--checkpoint", args.checkpoint)])
    run_demo(args.samples, args.out, args.checkpoint, args.min_score, DEFAULT_INPUT_HW,
             args.batch_size)


if __name__ == "__main__":
    run_cli(main)
