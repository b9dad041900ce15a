"""HRNet on real PoseTrack frames: detection boxes → top-down poses → skeleton PNGs.

    python -m gnnpose_jax.demo_hrnet SAMPLES --out demo_out/hrnet [--checkpoint CKPT]

SAMPLES is a folder in the PoseTrack samples' layout: `annotations/test_posetrack18_val.json`
(the frames), `annotations/test_posetrack18_human_detections.json` (their person boxes) and the
images those name. Without `--checkpoint` the weights are random (the poses mean nothing, the
path is real). CKPT is what `track --hrnet` takes, loaded the same way
(`models.pretrained.load_pose_network`): a folder made by `python -m convert_weights` or a
training run's HRNet export, or an official `.pth`/`.safetensors`. A COCO-trained network's
eyes are mapped to PoseTrack's head joints (`joints.coco_to_posetrack`), so the skeleton's head
is PoseTrack's, not two eyes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np

from gnnpose_jax.cli import check_writable, run_cli
from gnnpose_jax.data import posetrack, transforms
from gnnpose_jax.data.joints import JOINT_LAYOUTS
from gnnpose_jax.errors import DataError
from gnnpose_jax.models import hrnet
from gnnpose_jax.models.pretrained import DEFAULT_INPUT_HW, load_pose_network
from gnnpose_jax.models.topdown import TopDownEstimator
from gnnpose_jax.paths import check_distinct
from gnnpose_jax.viz.draw import draw_pose, track_colour, write_png

ANNOTATIONS = "annotations/test_posetrack18_val.json"
DETECTIONS = "annotations/test_posetrack18_human_detections.json"


def sample_files(samples: Path) -> tuple[Path, Path]:
    """The samples' annotation and detection files; a one-line DataError if either is absent."""
    if not samples.is_dir():
        raise DataError(f"{samples}: no such folder (expected the PoseTrack samples, holding "
                        f"{ANNOTATIONS}, {DETECTIONS} and the images they name)")
    files = samples / ANNOTATIONS, samples / DETECTIONS
    for path in files:
        if not path.is_file():
            raise DataError(f"{path}: not found (expected the PoseTrack samples layout)")
    return files


def pose_estimator(checkpoint: Path | None, joint_layout: str | None, batch_size: int
                   ) -> TopDownEstimator:
    """Top-down HRNet from `checkpoint` through the pose-network loader (its crop size and joint
    layout apply), else HRNet-W32 with random weights at the default crop size."""
    if checkpoint is None:
        module, variables = hrnet.init_hrnet(hrnet.W32, jax.random.key(0), DEFAULT_INPUT_HW)
        print("HRNet-W32 with random weights (pass --checkpoint for real ones)")
        return TopDownEstimator(module, variables, DEFAULT_INPUT_HW, batch_size)
    network = load_pose_network(checkpoint, joint_layout)
    print(network.describe())
    return TopDownEstimator(network.module, network.variables, network.input_hw, batch_size,
                            joint_layout=network.joint_layout)


def run_demo(samples: Path, out: Path, checkpoint: Path | None, min_score: float,
             batch_size: int, joint_layout: str | None = None) -> list[Path]:
    """Draws HRNet poses, in PoseTrack's joint slots, for every detection ≥ `min_score` on the
    samples' frames; returns the PNGs written into `out`."""
    annotations, detections_path = sample_files(samples)
    estimator = pose_estimator(checkpoint, joint_layout, batch_size)
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
    parser.add_argument("samples", type=Path, metavar="SAMPLES",
                        help="the PoseTrack samples folder (layout above)")
    parser.add_argument("--out", type=Path, default=Path("demo_out/hrnet"))
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="a pose HRNet: converted folder, run export, or official file")
    parser.add_argument("--joints", choices=JOINT_LAYOUTS,
                        help="the checkpoint's joint layout; default: what its hrnet.json "
                             "records, else posetrack if its name says so, else coco")
    parser.add_argument("--min-score", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    check_writable(args.out, "--out", folder=True)
    check_distinct([("--out", args.out)], [("--samples", args.samples),
                                           ("--checkpoint", args.checkpoint)])
    run_demo(args.samples, args.out, args.checkpoint, args.min_score, args.batch_size,
             args.joints)


if __name__ == "__main__":
    run_cli(main)
