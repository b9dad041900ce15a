"""Tracking speed of the whole online loop (HRNet + GNN + matching), with the share per stage.

Two cases, each timed after a warm-up pass that compiles everything:

- `--clip` (default): HRNet-W32 at 384 x 288 and the paper-size GNN (D 128, L 4, 48 x 36
  candidates, `configs/posetrack18_gnn_w32.py`) with random weights on the real PoseTrack clip
  `../shared/data/posetrack18_samples/videos/000001_mpiinew_test` (5 frames, 1280 x 720). The
  clip ships without detections, so `benchmarks/data/000001_mpiinew_test_boxes.json` holds
  boxes drawn by hand around its players (3 per frame, 4 in the last). Random weights give
  meaningless poses, so the tracker's score thresholds and OKS gate are set to 0: every box
  continues the track Hungarian assigns it to (or starts one) and every track gets a GNN
  prediction, which is the work a trained model does on these players.
- `--workdir DIR --data ROOT`: a trained workdir (e.g. the demo's `runs/demo/gnn`) on the
  `val` split of a PoseTrack-layout folder (e.g. `runs/demo/hrnet/synthetic_world`), with the
  workdir's own tracker settings, timed on a second pass (the first compiles every padded
  batch size the split needs).

    .venv/bin/python benchmarks/bench_track.py --passes 3
    .venv/bin/python benchmarks/bench_track.py --workdir runs/demo/gnn \
        --data runs/demo/hrnet/synthetic_world
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared/data/posetrack18_samples/videos/000001_mpiinew_test"
CLIP_BOXES = ROOT / "benchmarks/data/000001_mpiinew_test_boxes.json"
#: Random weights: every box continues or starts a track, every track is predicted and kept.
PERMISSIVE = {"new_track_score": 0.0, "keep_score": 0.0, "min_box_score": 0.0, "oks_gate": 0.0}


def random_workdir(directory: Path, width: int) -> None:
    """Writes random-weight HRNet and GNN exports plus a permissive config.json."""
    import jax

    from configs import posetrack18_gnn_w32
    from gnnpose_jax.models.hrnet import init_hrnet
    from gnnpose_jax.training import export, gnn_mode, hrnet_mode

    config = posetrack18_gnn_w32.get_config().unlock()
    config.hrnet.width = width
    input_hw = hrnet_mode.input_hw(config)
    hrnet_config = hrnet_mode.architecture(config)
    _, variables = init_hrnet(hrnet_config, jax.random.key(0), input_hw)
    export.export_hrnet(directory / "hrnet", hrnet_config, variables, input_hw)
    gnn_config = gnn_mode.gnn_config(config)
    params = gnn_mode.initial_params(gnn_config, 3 * width, seed=0)
    export.export_gnn(directory / export.GNN_EXPORT, gnn_config, params["params"],
                      str(directory / "hrnet"), input_hw)
    tracker = {**config.tracker.to_dict(), **PERMISSIVE}
    (directory / "config.json").write_text(json.dumps({"tracker": tracker}))


def time_clip(workdir: Path, clip: Path, boxes: Path, passes: int, use_gnn: bool) -> dict:
    """Frames/s and seconds per stage over `passes` runs of the clip, after one warm-up run."""
    import numpy as np

    from gnnpose_jax.data import posetrack
    from gnnpose_jax.tracking.config import tracker_config_for
    from gnnpose_jax.tracking.run import detection_boxes, track_sequence
    from gnnpose_jax.tracking.split import load_models
    from gnnpose_jax.tracking.tracker import OnlineTracker
    from gnnpose_jax.tracking.video import FrameSource

    config = tracker_config_for(workdir)
    models = load_models(workdir, use_gnn=use_gnn)
    source = FrameSource(clip)
    sequence = source.as_sequence()
    images = list(source)
    dets = detection_boxes(posetrack.read_detections(boxes))
    timings, frames, seconds = collections.Counter(), 0, 0.0
    for i in range(passes + 1):
        tracker = OnlineTracker(models.estimator, config,
                                models.predictor() if use_gnn else None)
        t0 = time.perf_counter()
        track_sequence(tracker, sequence, images, dets, np.asarray(config.output_thresholds))
        if i:  # pass 0 compiles
            seconds += time.perf_counter() - t0
            frames += len(images)
            timings.update(tracker.timings)
    return {"frames": frames, "seconds": seconds, **timings}


def time_split(workdir: Path, data: Path, split: str, use_gnn: bool) -> dict:
    """Frames/s and seconds per stage over a split, after a warm-up pass over all of it."""
    from gnnpose_jax.tracking.config import tracker_config_for
    from gnnpose_jax.tracking.split import box_source, load_models, read_split, track_split

    config = tracker_config_for(workdir)
    models = load_models(workdir, use_gnn=use_gnn)
    sequences = read_split(data, split)
    boxes = box_source(data, split, sequences, "detections", None)
    track_split(models, config, data, sequences, boxes, use_gnn, desc="warm-up")
    _, stats = track_split(models, config, data, sequences, boxes, use_gnn,
                           desc="gnn" if use_gnn else "baseline")
    return {"frames": stats["frames"], "seconds": stats["seconds"],
            **{k[len("seconds_"):]: v for k, v in stats.items() if k.startswith("seconds_")}}


def report(name: str, stats: dict) -> str:
    """One line: frames/s and each stage's share of the loop's time."""
    stages = ("hrnet", "gnn", "match")
    total = sum(stats.get(s, 0.0) for s in stages) or 1.0
    shares = ", ".join(f"{s} {100 * stats.get(s, 0.0) / total:.0f}%" for s in stages)
    fps = stats["frames"] / max(stats["seconds"], 1e-9)
    return (f"{name:9s} {fps:6.2f} frames/s ({stats['frames']} frames in "
            f"{stats['seconds']:.1f} s; {shares})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, help="a trained workdir (else: the clip case)")
    parser.add_argument("--data", type=Path, help="PoseTrack-layout folder for --workdir")
    parser.add_argument("--split", default="val")
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--boxes", type=Path, default=CLIP_BOXES)
    parser.add_argument("--width", type=int, default=32, help="HRNet width of the clip case")
    parser.add_argument("--passes", type=int, default=3, help="timed passes over the clip")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.workdir is not None:
        if args.data is None:
            parser.error("--workdir needs --data")
        for use_gnn in (False, True):
            stats = time_split(args.workdir, args.data, args.split, use_gnn)
            print(report("gnn" if use_gnn else "baseline", stats), flush=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        random_workdir(workdir, args.width)
        print(f"HRNet-W{args.width} 384x288 + paper-size GNN, random weights, on {args.clip}")
        for use_gnn in (False, True):
            stats = time_clip(workdir, args.clip, args.boxes, args.passes, use_gnn)
            print(report("gnn" if use_gnn else "baseline", stats), flush=True)


if __name__ == "__main__":
    main()
