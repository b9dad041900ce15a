"""gnnpose-track VIDEO_OR_FRAME_DIR (--detector CKPT | --detections DETS.json)
(--hrnet CKPT [--gnn RUN_DIR] | --gnn RUN_DIR | --workdir DIR) [--render OUT.mp4]
[--output PRED.json] [--config CONFIG.py] [--no-gnn] [--batch-size N] [--max-tracks N]
[--flip-test] [--dtype float32|bfloat16]: track the people of any video (also
`python -m gnnpose_jax.track`).

From official weights alone:

    gnnpose-track clip.mp4 --detector yolox_s.pth \\
        --hrnet pose_hrnet_w32_384x288.pth --render tracked.mp4

Person boxes come from the YOLOX `--detector` (a converted folder or the official `.pth`,
converted in memory) or from a COCO detection file whose `image_id` is the frame index
(0-based) or whose entries name the frame files (`gnnpose-detect` writes one);
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
import logging
from pathlib import Path

from tqdm import tqdm

from gnnpose_jax.cli import add_inference_arguments, check_writable, program, run_cli
from gnnpose_jax.data import posetrack
from gnnpose_jax.data.joints import JOINT_LAYOUTS
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.errors import ConfigError, DataError
from gnnpose_jax.paths import check_distinct
from gnnpose_jax.tracking.boxes import (
    DEFAULT_CONF,
    DEFAULT_NMS,
    BoxSource,
    box_source,
    check_thresholds,
)
from gnnpose_jax.tracking.config import tracker_config_for
from gnnpose_jax.tracking.run import track_frames, warn_dropped_boxes
from gnnpose_jax.tracking.tracker import TrackerConfig
from gnnpose_jax.tracking.video import FrameSource, Renderer


def track_video(source: FrameSource, sequence: Sequence, networks, config: TrackerConfig,
                boxes_for: BoxSource, render_to: Path | None, output: Path | None,
                use_gnn: bool, fmt: str = "2018") -> dict[str, float]:
    """Tracks every frame of `source` (named by `sequence`) with a
    `tracking.networks.TrackerNetworks`; writes the render and the PoseTrack JSON if asked.
    Returns frames, frames/s and seconds per stage."""
    frames = tqdm(source, total=len(sequence.frames), desc="tracking", unit="frame",
                  dynamic_ncols=True)
    renderer = (Renderer(render_to.with_suffix(""), config.joint_threshold, source.fps)
                if render_to is not None else None)
    predictions, stats = track_frames(networks, config, sequence, frames, boxes_for, use_gnn,
                                      renderer)
    warn_dropped_boxes(stats["dropped_boxes"])
    if output is not None:
        posetrack.write_sequence(predictions, output, fmt, check_official=False)
    return {"frames": stats["frames"], "fps": stats["frames"] / max(stats["seconds"], 1e-9),
            **{k: v for k, v in stats.items() if k.startswith("seconds_")}}


def check_args(args: argparse.Namespace) -> None:
    """Refuses flag combinations that cannot run, and unwritable outputs, before any work."""
    if args.render is None and args.output is None:
        raise DataError("nothing to write: pass --render OUT.mp4 and/or --output PRED.json")
    if args.hrnet is None and args.run is None:
        raise ConfigError("no pose network: pass --hrnet CKPT (a converted folder or the "
                          "official pose_hrnet_w32_384x288.pth), or a training run as --gnn")
    if args.detector is None and (args.conf is not None or args.nms is not None):
        raise ConfigError("--conf and --nms are --detector's thresholds; there is no --detector")
    check_thresholds(DEFAULT_CONF if args.conf is None else args.conf,
                     DEFAULT_NMS if args.nms is None else args.nms)
    renders = [] if args.render is None else Renderer.files(args.render.with_suffix(""))
    for path in renders:
        check_writable(path, "--render")
    if args.output is not None:
        check_writable(args.output, "--output")
    check_distinct([("--output", args.output)] + [("--render", p) for p in renders],
                   [("VIDEO_OR_FRAME_DIR", args.source), ("--detections", args.detections),
                    ("--detector", args.detector), ("--hrnet", args.hrnet),
                    ("--gnn/--workdir", args.run), ("--config", args.config)])


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags."""
    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, metavar="VIDEO_OR_FRAME_DIR",
                        help="a video file, a folder of frames or an image")
    boxes = parser.add_mutually_exclusive_group(required=True)
    boxes.add_argument("--detector", type=Path, metavar="CKPT",
                       help="find people with YOLOX: a converted folder, a detector run's "
                            "folder or the official .pth (e.g. yolox_s.pth)")
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
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parses the flags (`argv`, default the command line), loads the networks, tracks."""
    from gnnpose_jax.tracking.networks import load_networks

    args = build_parser().parse_args(argv)
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
    check_args(args)
    source = FrameSource(args.source)
    sequence = source.as_sequence()
    boxes_for = box_source("detections" if args.detections is not None else "detector",
                           [sequence], detections=args.detections, detector=args.detector,
                           conf=DEFAULT_CONF if args.conf is None else args.conf,
                           nms=DEFAULT_NMS if args.nms is None else args.nms,
                           frame_indexed=True, dtype=args.dtype)
    use_gnn = args.run is not None and not args.no_gnn
    networks = load_networks(args.run, use_gnn=use_gnn, hrnet=args.hrnet,
                             joint_layout=args.joints, batch_size=args.batch_size,
                             max_tracks=args.max_tracks, flip_test=args.flip_test,
                             dtype=args.dtype)
    print(f"poses: {networks.pose.describe()}", flush=True)
    section = None
    if args.config is not None:
        from gnnpose_jax.training.config import load_config_file

        section = load_config_file(args.config).tracker.to_dict()
    config = tracker_config_for(args.run, networks.gnn_spec, section)
    stats = track_video(source, sequence, networks, config, boxes_for, args.render, args.output,
                        use_gnn, args.format)
    shares = ", ".join(f"{k[8:]} {v:.1f} s" for k, v in stats.items() if k.startswith("seconds_"))
    print(f"{stats['frames']} frames at {stats['fps']:.1f} frames/s ({shares})")


def cli() -> None:
    """The `gnnpose-track` console script: errors as one line and exit status 2."""
    run_cli(main)


if __name__ == "__main__":
    cli()
