"""Tracking speed of the whole online loop (HRNet + GNN + matching), with the share per stage.

Three cases, each timed after a warm-up pass that compiles everything:

- `--clip` (default): HRNet-W32 at 384 x 288 and the paper-size GNN (D 128, L 4, 48 x 36
  candidates, `configs/posetrack18_gnn_w32.py`) with random weights on the real PoseTrack clip
  `../shared/data/posetrack18_samples/videos/000001_mpiinew_test` (5 frames, 1280 x 720). The
  clip ships without detections, so `benchmarks/data/000001_mpiinew_test_boxes.json` holds
  boxes drawn by hand around its players (3 per frame, 4 in the last). Random weights give
  meaningless poses, so the tracker's score thresholds and OKS gate are set to 0: every box
  continues the track Hungarian assigns it to (or starts one) and every track gets a GNN
  prediction, which is the work a trained model does on these players.
- `--detector`: what `python -m gnnpose_jax.track CLIP --detector yolox_s.pth --hrnet
  pose_hrnet_w32_384x288.pth` runs (the baseline), and the same with `--gnn` (the random
  paper-size GNN and its own HRNet-W32), on the clip's video, frames decoded as `track` does.
  The checkpoints are official-layout `.pth` files of random weights, converted in memory; the
  YOLOX head is set so that every frame gets the same few person boxes (`--detector-box`, as a
  fraction of the letterbox; the default 2.0 gives 5 at 640 and 4 at 416, about as many as
  the clip has players) and the tracker settings are the permissive ones above. The stages:
  boxes (letterbox and YOLOX), hrnet, gnn, match, and other (decoding, bookkeeping), as
  shares of the wall time.
- `--workdir DIR --data ROOT`: a trained workdir (e.g. the demo's `runs/demo/gnn`) on the
  `val` split of a PoseTrack-layout folder (e.g. `runs/demo/hrnet/synthetic_world`), with the
  workdir's own tracker settings, timed on a second pass (the first compiles every padded
  batch size the split needs).

    .venv/bin/python benchmarks/bench_track.py --passes 3
    .venv/bin/python benchmarks/bench_track.py --detector --passes 3
    .venv/bin/python benchmarks/bench_track.py --detector --yolox nano --width 8 --passes 1  # smoke
    .venv/bin/python benchmarks/bench_track.py --workdir runs/demo/gnn \
        --data runs/demo/hrnet/synthetic_world
    .venv/bin/python benchmarks/bench_track.py --workdir runs/demo/gnn \
        --data runs/demo/synthetic_world --yolox-export runs/demo/yolox/yolox \
        --also runs/demo/ablate/detection_crops --tracker merge='"weighted"'

The last one times the demo's trackers as the demo runs them (the learned detector's boxes,
found in every pass) beside the GNN trained on detection crops (`benchmarks/ablate_tracks.py`
trains it), all with the `weighted` merge (that GNN has no merge table of its own).
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
    from gnnpose_jax.models import run_folder
    from gnnpose_jax.models.hrnet import init_hrnet
    from gnnpose_jax.training import gnn_mode, hrnet_mode

    config = posetrack18_gnn_w32.get_config().unlock()
    config.hrnet.width = width
    input_hw = hrnet_mode.input_hw(config)
    hrnet_config = hrnet_mode.architecture(config)
    _, variables = init_hrnet(hrnet_config, jax.random.key(0), input_hw)
    run_folder.export_hrnet(directory / run_folder.HRNET_EXPORT, hrnet_config, variables,
                            input_hw)
    gnn_config = gnn_mode.gnn_config(config)
    params = gnn_mode.initial_params(gnn_config, 3 * width, seed=0)
    run_folder.export_gnn(directory / run_folder.GNN_EXPORT, gnn_config, params["params"],
                          str(directory / run_folder.HRNET_EXPORT), input_hw)
    tracker = {**config.tracker.to_dict(), **PERMISSIVE}
    (directory / run_folder.CONFIG_JSON).write_text(json.dumps({"tracker": tracker}))


def time_clip(workdir: Path, clip: Path, boxes: Path, passes: int, use_gnn: bool,
              frames: int | None = None) -> dict:
    """Frames/s and seconds per stage over `passes` runs of the clip (its first `frames`
    frames, all when None), after one warm-up run."""
    from gnnpose_jax.tracking.boxes import box_source
    from gnnpose_jax.tracking.config import tracker_config_for
    from gnnpose_jax.tracking.networks import load_networks
    from gnnpose_jax.tracking.run import track_frames
    from gnnpose_jax.tracking.video import FrameSource

    networks = load_networks(workdir, use_gnn=use_gnn)
    config = tracker_config_for(workdir, networks.gnn_spec)
    source = FrameSource(clip)
    sequence = source.as_sequence()
    sequence.frames = sequence.frames[:frames]
    images = list(source)[:frames]
    dets = box_source("detections", [sequence], detections=boxes)
    timings, total, seconds = collections.Counter(), 0, 0.0
    for i in range(passes + 1):
        counts = networks.estimator.counts.copy()
        t0 = time.perf_counter()
        _, stats = track_frames(networks, config, sequence, images, dets, use_gnn)
        if i:  # pass 0 compiles
            seconds += time.perf_counter() - t0
            total += len(images)
            timings.update({k[len("seconds_"):]: v for k, v in stats.items()
                            if k.startswith("seconds_") and k != "seconds_boxes"})
            timings.update({f"hrnet_{k}": v
                            for k, v in (networks.estimator.counts - counts).items()})
    return {"frames": total, "seconds": seconds, **timings}


def random_checkpoints(directory: Path, width: int, variant: str, box: float) -> tuple[Path, Path]:
    """Official-layout `.pth` files of random weights: a YOLOX whose every frame gets the same
    person boxes `box` × S wide and high, and an HRNet-W{width} named for 384x288 crops."""
    sys.path.insert(0, str(ROOT))

    from random_weights import write_hrnet_pth, write_yolox_pth

    from gnnpose_jax.models.hrnet import HRNetConfig
    from gnnpose_jax.models.yolox import PRESETS

    yolox_pth = directory / f"yolox_{variant}.pth"
    write_yolox_pth(yolox_pth, PRESETS[variant], box=(box, box))
    hrnet_pth = directory / f"pose_hrnet_w{width}_384x288.pth"
    write_hrnet_pth(hrnet_pth, HRNetConfig(width=width))
    return yolox_pth, hrnet_pth


def time_track_command(clip: Path, yolox_pth: Path, hrnet_pth: Path | None,
                       gnn_workdir: Path | None, passes: int) -> dict:
    """`track`'s own loop (frames decoded from the video, YOLOX boxes) over `passes` runs of
    the clip after a warm-up run: frames, wall seconds and seconds per stage."""
    from gnnpose_jax.track import track_video
    from gnnpose_jax.tracking.boxes import box_source
    from gnnpose_jax.tracking.config import tracker_config
    from gnnpose_jax.tracking.networks import load_networks
    from gnnpose_jax.tracking.video import FrameSource

    use_gnn = gnn_workdir is not None
    networks = load_networks(gnn_workdir, use_gnn=use_gnn, hrnet=hrnet_pth)
    config = tracker_config(PERMISSIVE, networks.gnn_spec)
    source = FrameSource(clip)
    sequence = source.as_sequence()
    boxes = box_source("detector", [sequence], detector=yolox_pth)
    totals = collections.Counter()
    for i in range(passes + 1):
        t0 = time.perf_counter()
        stats = track_video(source, sequence, networks, config, boxes, None, None, use_gnn)
        if i:  # pass 0 compiles
            totals["seconds"] += time.perf_counter() - t0
            totals["frames"] += stats["frames"]
            totals.update({k[len("seconds_"):]: v for k, v in stats.items()
                           if k.startswith("seconds_")})
    return dict(totals)


def time_split(workdir: Path, data: Path, split: str, use_gnn: bool,
               overrides: dict | None = None, detector: Path | None = None) -> dict:
    """Frames/s and seconds per stage over a split, after a warm-up pass over all of it: the
    split's own detections, or with `detector` (a YOLOX export) the boxes it finds in every
    pass (the boxes stage is then timed too); the workdir's tracker settings plus
    `overrides`."""
    from gnnpose_jax.models.run_folder import read_run_config
    from gnnpose_jax.tracking.boxes import box_source
    from gnnpose_jax.tracking.config import tracker_config
    from gnnpose_jax.tracking.networks import load_networks
    from gnnpose_jax.tracking.split import read_split, split_detections, track_split

    networks = load_networks(workdir, use_gnn=use_gnn)
    stored = (read_run_config(workdir, "") or {}).get("tracker")
    config = tracker_config(stored, networks.gnn_spec, **(overrides or {}))
    sequences = read_split(data, split)
    if detector is not None:
        boxes = box_source("detector", sequences, detector=detector)
    else:
        boxes = box_source("detections", sequences, detections=split_detections(data, split))
    track_split(networks, config, data, sequences, boxes, use_gnn, desc="warm-up")
    counts = networks.estimator.counts.copy()
    _, stats = track_split(networks, config, data, sequences, boxes, use_gnn,
                           desc="gnn" if use_gnn else "baseline")
    return {"frames": stats["frames"], "seconds": stats["seconds"],
            **{k[len("seconds_"):]: v for k, v in stats.items()
               if k.startswith("seconds_") and (detector is not None or k != "seconds_boxes")},
            **{f"hrnet_{k}": v for k, v in (networks.estimator.counts - counts).items()}}


def report(name: str, stats: dict, wall: bool = False) -> str:
    """One line: frames/s and each stage's share of the tracker's time, or with `wall`, of
    the wall time, with the boxes stage and the rest as "other"."""
    stages = ("hrnet", "gnn", "match")
    total = sum(stats.get(s, 0.0) for s in stages) or 1.0
    if wall:
        stages = ("boxes", *stages)
        total = stats["seconds"]
        stats = {**stats, "other": total - sum(stats.get(s, 0.0) for s in stages)}
        stages = (*stages, "other")
    shares = ", ".join(f"{s} {100 * stats.get(s, 0.0) / total:.0f}%" for s in stages)
    fps = stats["frames"] / max(stats["seconds"], 1e-9)
    work = ""
    if "hrnet_crops" in stats:
        per_frame = {k: stats.get(f"hrnet_{k}", 0) / stats["frames"]
                     for k in ("crops", "padded", "calls")}
        work = (f"; HRNet per frame: {per_frame['crops']:.1f} crops ({per_frame['padded']:.1f} "
                f"padded) in {per_frame['calls']:.1f} calls")
    return (f"{name:9s} {fps:6.2f} frames/s ({stats['frames']} frames in "
            f"{stats['seconds']:.1f} s; {shares}{work})")


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
    parser.add_argument("--detector", action="store_true",
                        help="time `track --detector` on the clip's video instead")
    parser.add_argument("--yolox", default="s", choices=("nano", "tiny", "s", "m", "l", "x"),
                        help="the YOLOX variant for --detector")
    parser.add_argument("--detector-box", type=float, default=2.0,
                        help="the random YOLOX's box size, a fraction of its letterbox")
    parser.add_argument("--yolox-export", type=Path,
                        help="with --workdir: boxes found by this YOLOX export in every pass "
                             "(e.g. runs/demo/yolox/yolox), timed too")
    parser.add_argument("--also", type=Path, action="append", default=[],
                        help="with --workdir: another GNN workdir timed in the same run")
    parser.add_argument("--tracker", action="append", default=[], metavar="KEY=VALUE",
                        help="with --workdir: a tracker setting for every run (JSON value)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.detector:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            yolox_pth, hrnet_pth = random_checkpoints(workdir, args.width, args.yolox,
                                                      args.detector_box)
            random_workdir(workdir / "run", args.width)
            video = next(args.clip.glob("*.mp4"))
            print(f"YOLOX-{args.yolox} + HRNet-W{args.width} 384x288, random weights, `track "
                  f"--detector` on {video}")
            for use_gnn in (False, True):
                stats = time_track_command(video, yolox_pth, None if use_gnn else hrnet_pth,
                                           workdir / "run" if use_gnn else None, args.passes)
                print(report("gnn" if use_gnn else "baseline", stats, wall=True), flush=True)
        return
    if args.workdir is not None:
        if args.data is None:
            parser.error("--workdir needs --data")
        overrides = {}
        for item in args.tracker:
            key, _, value = item.partition("=")
            overrides[key] = json.loads(value)
        runs = [("baseline", args.workdir, False)] + [
            (f"gnn ({w.name})" if args.also else "gnn", w, True)
            for w in [args.workdir, *args.also]]
        fps = {}
        for name, workdir, use_gnn in runs:
            stats = time_split(workdir, args.data, args.split, use_gnn, overrides,
                               args.yolox_export)
            fps[name] = stats["frames"] / stats["seconds"]
            print(report(name, stats, wall=args.yolox_export is not None), flush=True)
        for name in list(fps)[1:]:
            print(f"{name} / baseline frames/s: {fps[name] / fps['baseline']:.2f}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        random_workdir(workdir, args.width)
        print(f"HRNet-W{args.width} 384x288 + paper-size GNN, random weights, on {args.clip}")
        fps = {}
        for use_gnn in (False, True):
            stats = time_clip(workdir, args.clip, args.boxes, args.passes, use_gnn)
            fps[use_gnn] = stats["frames"] / stats["seconds"]
            print(report("gnn" if use_gnn else "baseline", stats), flush=True)
        print(f"gnn / baseline frames/s: {fps[True] / fps[False]:.2f}")


if __name__ == "__main__":
    main()
