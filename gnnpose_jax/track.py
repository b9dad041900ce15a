"""python -m gnnpose_jax.track VIDEO_OR_FRAME_DIR (--detector CKPT | --detections DETS.json)
(--hrnet CKPT [--gnn RUN_DIR] | --gnn RUN_DIR | --workdir DIR) [--render OUT.mp4]
[--output PRED.json] [--config CONFIG.py] [--no-gnn] [--batch-size N] [--max-tracks N]
[--flip-test] [--dtype float32|bfloat16]: track the people of any video.

From official weights alone:

    python -m gnnpose_jax.track clip.mp4 --detector yolox_s.pth \\
        --hrnet pose_hrnet_w32_384x288.pth --render tracked.mp4

Person boxes come from the YOLOX `--detector` (a converted folder or the official `.pth`,
converted in memory) or from a COCO detection file whose `image_id` is the frame index
(0-based) or whose entries name the frame files (`python -m gnnpose_jax.detect` writes one);
boxes that cannot be cropped (non-finite, empty, absurdly large) are dropped with a count in
the log. Poses come from `--hrnet` (a converted folder or the official `.pth`) or from a
training run's HRNet; a COCO-trained HRNet's eyes are mapped to PoseTrack's head_bottom and
head_top (`--joints`, docs/method.md). `--gnn RUN_DIR` adds a trained GNN (its features come
from the HRNet it was trained on); without it the tracker is the baseline. The render
draws each track in a stable colour with its id; people the GNN recovered (no detection in
that frame) are drawn dashed, their id marked with `*`. Output paths are checked before any
work starts, and outputs appear only when complete. `--format 2021` writes the predictions as
a PoseTrack21 file. The tracker's thresholds are `--config`'s `tracker` section when given,
else those the run stored (RUN_DIR/config.json), as in `evaluate.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gnnpose_jax.cli import add_inference_arguments, check_writable, run_cli
from gnnpose_jax.data import posetrack
from gnnpose_jax.data.joints import JOINT_LAYOUTS
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.errors import ConfigError, DataError
from gnnpose_jax.tracking.config import tracker_config_for
from gnnpose_jax.tracking.run import (
    BoxSource,
    check_detections_match,
    detection_boxes,
    detector_boxes,
    track_sequence,
    warn_dropped_boxes,
)
from gnnpose_jax.tracking.split import TrackerModels, load_models
from gnnpose_jax.tracking.tracker import OnlineTracker, TrackerConfig
from gnnpose_jax.tracking.video import FrameSource, Renderer

DEFAULT_CONF, DEFAULT_NMS = 0.25, 0.45  # the official YOLOX demo's


def track_video(source: FrameSource, sequence: Sequence, models: TrackerModels,
                config: TrackerConfig, boxes_for: BoxSource, render_to: Path | None,
                output: Path | None, use_gnn: bool, fmt: str = "2018") -> dict[str, float]:
    """Tracks every frame of `source` (named by `sequence`); writes the render and the
    PoseTrack JSON if asked. Returns frames, frames/s and seconds per stage."""
    tracker = OnlineTracker(models.estimator, config, models.predictor() if use_gnn else None)
    frames = tqdm(source, total=len(sequence.frames), desc="tracking", unit="frame",
                  dynamic_ncols=True)
    rendering = (Renderer(render_to.with_suffix(""), config.joint_threshold, source.fps)
                 if render_to is not None else contextlib.nullcontext())
    with rendering as renderer:
        predictions, _, stats = track_sequence(tracker, sequence, frames, boxes_for,
                                               np.asarray(config.output_thresholds), renderer)
    warn_dropped_boxes(tracker.dropped_boxes)
    if output is not None:
        posetrack.write_sequence(predictions, output, fmt, check_official=False)
    return {"frames": stats["frames"], "fps": stats["frames"] / max(stats["seconds"], 1e-9),
            "seconds_boxes": stats["seconds_boxes"],
            **{f"seconds_{k}": v for k, v in tracker.timings.items()}}


def box_source(args: argparse.Namespace, sequence: Sequence) -> BoxSource:
    """Person boxes from `--detections` (checked against the frames) or the `--detector`."""
    if args.detections is not None:
        dets = posetrack.read_detections(args.detections)
        check_detections_match(dets, [sequence], str(args.detections))
        return detection_boxes(dets)
    from gnnpose_jax.models.detect import PersonDetector
    from gnnpose_jax.models.pretrained import load_detector

    detector = PersonDetector(*load_detector(args.detector, dtype=args.dtype),
                              conf=DEFAULT_CONF if args.conf is None else args.conf,
                              nms=DEFAULT_NMS if args.nms is None else args.nms)
    return detector_boxes(detector)


def check_args(args: argparse.Namespace) -> None:
    """Refuses flag combinations that cannot run, and unwritable outputs, before any work."""
    from gnnpose_jax.detect import check_thresholds

    if args.render is None and args.output is None:
        raise DataError("nothing to write: pass --render OUT.mp4 and/or --output PRED.json")
    if args.hrnet is None and args.run is None:
        raise ConfigError("no pose network: pass --hrnet CKPT (a converted folder or the "
                          "official pose_hrnet_w32_384x288.pth), or a training run as --gnn")
    if args.detector is None and (args.conf is not None or args.nms is not None):
        raise ConfigError("--conf and --nms are --detector's thresholds; there is no --detector")
    check_thresholds(DEFAULT_CONF if args.conf is None else args.conf,
                     DEFAULT_NMS if args.nms is None else args.nms)
    if args.render is not None:
        for suffix in (".mp4", ".png"):  # as `Renderer` names its files
            stem = args.render.with_suffix("")
            check_writable(stem.with_name(stem.name + suffix), "--render")
    if args.output is not None:
        check_writable(args.output, "--output")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gnnpose_jax.track", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, metavar="VIDEO_OR_FRAME_DIR",
                        help="a video file, a folder of frames or an image")
    boxes = parser.add_mutually_exclusive_group(required=True)
    boxes.add_argument("--detector", type=Path, metavar="CKPT",
                       help="find people with YOLOX: a converted folder or the official .pth "
                            "(e.g. yolox_s.pth)")
    boxes.add_argument("--detections", type=Path, metavar="DETS.json",
                       help="read person boxes from COCO detection results instead")
    parser.add_argument("--conf", type=float,
                        help=f"--detector's score threshold (default {DEFAULT_CONF})")
    parser.add_argument("--nms", type=float,
                        help=f"--detector's NMS IoU threshold (default {DEFAULT_NMS})")
    parser.add_argument("--hrnet", type=Path, metavar="CKPT",
                        help="the pose HRNet: a converted folder or the official .pth (e.g. "
                             "pose_hrnet_w32_384x288.pth); default: the --gnn run's HRNet")
    parser.add_argument("--joints", choices=JOINT_LAYOUTS,
                        help="the HRNet's joint layout; default: what its hrnet.json records, "
                             "else posetrack if its name says so, else coco for --hrnet and "
                             "posetrack for a run's HRNet")
    run = parser.add_mutually_exclusive_group()
    run.add_argument("--gnn", type=Path, dest="run", metavar="RUN_DIR",
                     help="a training run with a gnn/ export: track with its GNN (and with its "
                          "HRNet unless --hrnet); without it, the baseline tracker")
    run.add_argument("--workdir", type=Path, dest="run", metavar="DIR",
                     help="the same as --gnn DIR (its HRNet-only runs need --no-gnn)")
    parser.add_argument("--render", type=Path, metavar="OUT.mp4",
                        help="write the tracked video to OUT.mp4 and the frame with the most "
                             "GNN-recovered people to OUT.png (another suffix is replaced)")
    parser.add_argument("--output", type=Path, metavar="PRED.json",
                        help="write PoseTrack predictions here (--format)")
    parser.add_argument("--format", choices=("2018", "2021"), default="2018",
                        help="--output's layout: PoseTrack 2018 (default) or 2021 (PoseTrack21)")
    parser.add_argument("--config", metavar="CONFIG.py",
                        help="a config file whose tracker settings to use; default: those the "
                             "run stored (RUN_DIR/config.json), else the defaults")
    parser.add_argument("--no-gnn", action="store_true",
                        help="the baseline tracker even with --gnn (the run's tracker settings)")
    add_inference_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
    check_args(args)
    source = FrameSource(args.source)
    sequence = source.as_sequence()
    boxes_for = box_source(args, sequence)
    use_gnn = args.run is not None and not args.no_gnn
    models = load_models(args.run, use_gnn=use_gnn, hrnet=args.hrnet, joint_layout=args.joints,
                         batch_size=args.batch_size, max_tracks=args.max_tracks,
                         flip_test=args.flip_test, dtype=args.dtype)
    print(f"poses: {models.pose.describe()}", flush=True)
    section = None
    if args.config is not None:
        from gnnpose_jax.training.config import load_config_file

        section = load_config_file(args.config).tracker.to_dict()
    config = tracker_config_for(args.run, models.gnn_spec, section)
    stats = track_video(source, sequence, models, config, boxes_for, args.render, args.output,
                        use_gnn, args.format)
    shares = ", ".join(f"{k[8:]} {v:.1f} s" for k, v in stats.items() if k.startswith("seconds_"))
    print(f"{stats['frames']} frames at {stats['fps']:.1f} frames/s ({shares})")


if __name__ == "__main__":
    run_cli(main)
