"""python -m gnnpose_jax.track VIDEO_OR_FRAME_DIR --workdir DIR --detections DETS.json
[--render OUT.mp4] [--output PRED.json] [--no-gnn]: track the people of any video.

Person boxes come from a COCO detection file (there is no built-in detector) whose `image_id`
is the frame index (0-based) or whose entries name the frame files; boxes that cannot be
cropped (non-finite, empty, absurdly large) are dropped with a count in the log. The render
draws each track in a stable colour with its id; people the GNN recovered (no detection in
that frame) are drawn dashed, their id marked with `*`. Output paths are checked before any
work starts, and outputs appear only when complete. `--format 2021` writes the predictions as
a PoseTrack21 file.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gnnpose_jax.cli import check_writable, run_cli
from gnnpose_jax.data import posetrack
from gnnpose_jax.errors import DataError
from gnnpose_jax.tracking.config import tracker_config_for
from gnnpose_jax.tracking.run import (
    check_detections_match,
    detection_boxes,
    track_sequence,
    warn_dropped_boxes,
)
from gnnpose_jax.tracking.split import load_models
from gnnpose_jax.tracking.tracker import OnlineTracker
from gnnpose_jax.tracking.video import FrameSource, Renderer


def track_video(source: FrameSource, workdir: Path, detections: Path, render_to: Path | None,
                output: Path | None, use_gnn: bool, fmt: str = "2018") -> dict[str, float]:
    """Tracks every frame of `source`; writes the render and the PoseTrack JSON if asked."""
    config = tracker_config_for(workdir)
    sequence = source.as_sequence()
    dets = posetrack.read_detections(detections)
    check_detections_match(dets, [sequence], str(detections))
    models = load_models(workdir, use_gnn=use_gnn)
    tracker = OnlineTracker(models.estimator, config, models.predictor() if use_gnn else None)
    frames = tqdm(source, total=len(sequence.frames), desc="tracking", unit="frame",
                  dynamic_ncols=True)
    rendering = (Renderer(render_to.with_suffix(""), config.joint_threshold, source.fps)
                 if render_to is not None else contextlib.nullcontext())
    with rendering as renderer:
        predictions, _, stats = track_sequence(tracker, sequence, frames, detection_boxes(dets),
                                               np.asarray(config.output_thresholds), renderer)
    warn_dropped_boxes(tracker.dropped_boxes)
    if output is not None:
        posetrack.write_sequence(predictions, output, fmt, check_official=False)
    return {"frames": stats["frames"], "fps": stats["frames"] / max(stats["seconds"], 1e-9),
            **{f"seconds_{k}": v for k, v in tracker.timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gnnpose_jax.track", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, metavar="VIDEO_OR_FRAME_DIR",
                        help="a video file or a folder of frames")
    parser.add_argument("--workdir", type=Path, required=True, metavar="DIR",
                        help="a training workdir with hrnet/ (and gnn/) exports")
    parser.add_argument("--detections", type=Path, required=True, metavar="DETS.json",
                        help="COCO detection results for the frames (required: there is no "
                             "built-in person detector)")
    parser.add_argument("--render", type=Path, metavar="OUT.mp4",
                        help="write the tracked video to OUT.mp4 and the frame with the most "
                             "GNN-recovered people to OUT.png (another suffix is replaced)")
    parser.add_argument("--output", type=Path, metavar="PRED.json",
                        help="write PoseTrack predictions here (--format)")
    parser.add_argument("--format", choices=("2018", "2021"), default="2018",
                        help="--output's layout: PoseTrack 2018 (default) or 2021 (PoseTrack21)")
    parser.add_argument("--no-gnn", action="store_true", help="the baseline tracker")
    args = parser.parse_args()
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
    if args.render is None and args.output is None:
        raise DataError("nothing to write: pass --render OUT.mp4 and/or --output PRED.json")
    if args.render is not None:
        for suffix in (".mp4", ".png"):  # as `Renderer` names its files
            stem = args.render.with_suffix("")
            check_writable(stem.with_name(stem.name + suffix), "--render")
    if args.output is not None:
        check_writable(args.output, "--output")
    stats = track_video(FrameSource(args.source), args.workdir, args.detections, args.render,
                        args.output, not args.no_gnn, args.format)
    shares = ", ".join(f"{k[8:]} {v:.1f} s" for k, v in stats.items() if k.startswith("seconds_"))
    print(f"{stats['frames']} frames at {stats['fps']:.1f} frames/s ({shares})")


if __name__ == "__main__":
    run_cli(main)
