"""The whole pipeline on the synthetic world, every stage learned, with the project's commands:

    python -m gnnpose_jax.demo [--workdir runs/demo] [--boxes detector|simulated]

1. worlds: the synthetic world of `configs/synthetic_hrnet.py` (train, val and tune splits) in
   WORKDIR/synthetic_world, and a held-out world (val videos of another seed) in
   WORKDIR/heldout_world;
2. `gnnpose-train --config configs/synthetic_yolox.py`: a small YOLOX person detector from
   scratch;
3. `gnnpose-train --config configs/synthetic_hrnet.py`: the tiny HRNet;
4. `gnnpose-train --config configs/synthetic_gnn.py`: the tiny GNN on that HRNet's features;
5. `python -m gnnpose_jax.fit_merge` tracks the tune split once to fit the learned merge rule's
   table (WORKDIR/gnn/merge_table.json: which source, HRNet or the GNN, is right more often
   per joint and pair of scores; `tracker.merge = "learned"` reads it);
6. `gnnpose-evaluate --compare-baseline` tracks the val split with and without the GNN, on the
   learned detector's boxes, prints both PoseTrack tables and their difference, and renders
   tracked val videos (GNN-recovered people dashed) to WORKDIR/render/;
7. the same on the held-out world, with the same models and tracker settings.

The tracker settings in `configs/synthetic_gnn.py` were chosen on the tune split
(`benchmarks/tune_tracker.py`); val and the held-out world are never tuned on. The demo ends
with each stage's quality and minutes. `--boxes simulated` tracks the world's simulated
detections instead of the learned detector's (an ablation). Each step resumes or is skipped
when its output already exists, so an interrupted demo picks up where it stopped. Run it from
the project root.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from gnnpose_jax.cli import program, run_cli
from gnnpose_jax.data.folders import DEFAULT_WORLD_DIR
from gnnpose_jax.errors import GnnPoseError
from gnnpose_jax.models.run_folder import HRNET_EXPORT, YOLOX_EXPORT

ROOT = Path(__file__).resolve().parents[1]
HRNET_CONFIG, GNN_CONFIG = "configs/synthetic_hrnet.py", "configs/synthetic_gnn.py"
YOLOX_CONFIG = "configs/synthetic_yolox.py"
HELDOUT_DIR = "heldout_world"
#: The project's commands, run as `python -m` so that they need no installed scripts.
TRAIN, EVALUATE = ["-m", "gnnpose_jax.train"], ["-m", "gnnpose_jax.evaluate"]
FIT_MERGE = ["-m", "gnnpose_jax.fit_merge"]


class Stages:
    """Runs the demo's stages and remembers each one's minutes."""

    def __init__(self):
        self.minutes: dict[str, float] = {}

    def run(self, title: str, args: list[str] | None = None, call=None) -> None:
        """Runs `python ARGS` from the project root (or `call()` in this process), timed."""
        print(f"\n=== {title}" + (f"\n$ python {' '.join(args)}" if args else ""), flush=True)
        t0 = time.perf_counter()
        if args:
            result = subprocess.run([sys.executable, *args], cwd=ROOT)
            if result.returncode != 0:
                raise GnnPoseError(f"demo step failed ({title}); its error is printed above")
        else:
            call()
        self.minutes[title] = (time.perf_counter() - t0) / 60
        print(f"=== {title}: {self.minutes[title]:.1f} min", flush=True)


def make_worlds(world: Path, heldout: Path, heldout_seed: int, heldout_videos: int) -> None:
    """The demo's world (train, val, tune) and the held-out world (val), each written once."""
    from gnnpose_jax.data import synthetic
    from gnnpose_jax.training.config import load_config_file
    from gnnpose_jax.training.inputs import ensure_synthetic_world

    data = load_config_file(str(ROOT / HRNET_CONFIG)).data
    ensure_synthetic_world(world, data)
    if not (heldout / "annotations" / "val").is_dir():
        synthetic.generate_world(heldout, heldout_seed, heldout_videos, "val",
                                 num_frames=data.synthetic_frames,
                                 image_hw=tuple(data.synthetic_image_hw),
                                 label_every=data.synthetic_val_label_every)
    print(f"worlds: {world} (seed {data.synthetic_seed}), {heldout} (seed {heldout_seed})")


def validation(workdir: Path, best: str | None = None) -> dict[str, float]:
    """The `val/*` values of a run's metrics.jsonl: the last validation's, or with `best`, those
    of the validation with the highest `val/{best}` (the checkpoint a detector run exports)."""
    path = workdir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    rows = [{k[4:]: v for k, v in row.items() if k.startswith("val/")} for row in rows]
    rows = [row for row in rows if row]
    if best is not None:
        rows = sorted((r for r in rows if best in r), key=lambda r: r[best])
    return rows[-1] if rows else {}


def summary(workdir: Path, minutes: dict[str, float], boxes: str) -> str:
    """The learned stages' validation, both worlds' tracking totals and the stages' minutes."""
    det = validation(workdir / "yolox", best="box_ap50")
    pose, gnn = validation(workdir / "hrnet"), validation(workdir / "gnn")
    source = "the learned detector's" if boxes == "detector" else "simulated"
    lines = ["", "=== what each learned stage reached (val split; the detector's exported best)",
             f"detector (YOLOX): person box AP@0.5 {100 * det.get('box_ap50', float('nan')):.1f}"
             f", AP@[.5:.95] {100 * det.get('box_ap', float('nan')):.1f}",
             f"HRNet: PCKh@0.5 {pose.get('pckh', float('nan')):.3f} (visible joints "
             f"{pose.get('pckh_visible', float('nan')):.3f}, hidden "
             f"{pose.get('pckh_hidden', float('nan')):.3f})",
             f"GNN: PCKh@0.5 {gnn.get('pckh', float('nan')):.3f} (pose at t from the history; "
             f"visible joints {gnn.get('pckh_visible', float('nan')):.3f}, hidden "
             f"{gnn.get('pckh_hidden', float('nan')):.3f})",
             "", f"=== tracking totals ({source} boxes)",
             "| world | tracker | total AP | total MOTA |", "|---|---|---|---|"]
    for world, name in (("val", "results.json"), ("held-out", "results_heldout.json")):
        path = workdir / name
        if not path.is_file():
            continue
        result = json.loads(path.read_text())
        for tracker in ("baseline", "gnn"):
            r = result[tracker]
            lines.append(f"| {world} | {tracker} | {r['ap']['total']:.1f} | "
                         f"{r['mota']['total']:.1f} |")
    lines += ["", "=== minutes per stage"]
    lines += [f"{title}: {m:.1f}" for title, m in minutes.items()]
    lines.append(f"total: {sum(minutes.values()):.1f}")
    return "\n".join(lines)


def run_demo(workdir: Path, boxes: str = "detector", heldout_seed: int = 7,
             heldout_videos: int = 6) -> None:
    """Runs the seven stages into `workdir`."""
    if not (ROOT / HRNET_CONFIG).is_file():
        raise GnnPoseError(f"{ROOT}: run the demo from a checkout of the project")
    workdir = workdir.absolute()
    world, heldout = workdir / DEFAULT_WORLD_DIR, workdir / HELDOUT_DIR
    hrnet_dir, gnn_dir, yolox_dir = workdir / "hrnet", workdir / "gnn", workdir / "yolox"
    stages = Stages()
    stages.run("1/7 synthetic worlds",
               call=lambda: make_worlds(world, heldout, heldout_seed, heldout_videos))
    stages.run("2/7 YOLOX person detector", [*TRAIN, "--config", YOLOX_CONFIG, "--workdir",
                                            str(yolox_dir), f"--config.data.root={world}"])
    stages.run("3/7 tiny HRNet", [*TRAIN, "--config", HRNET_CONFIG, "--workdir",
                                  str(hrnet_dir), f"--config.data.root={world}"])
    stages.run("4/7 tiny GNN on the frozen HRNet",
               [*TRAIN, "--config", GNN_CONFIG, "--workdir", str(gnn_dir),
                f"--config.hrnet.checkpoint={hrnet_dir / HRNET_EXPORT}",
                f"--config.data.root={world}"])
    box_flags = (["--boxes", "detector", "--detector", str(yolox_dir / YOLOX_EXPORT)]
                 if boxes == "detector" else ["--boxes", "detections"])
    stages.run("5/7 fitting the learned merge on the tune split",
               [*FIT_MERGE, "--workdir", str(gnn_dir), "--data", str(world), "--split", "tune",
                *box_flags])
    track = [*EVALUATE, "--config", GNN_CONFIG, "--workdir", str(gnn_dir),
             "--compare-baseline", *box_flags]
    stages.run("6/7 tracking the val split with and without the GNN",
               [*track, "--data", str(world), "--metrics", str(workdir / "results.json"),
                "--output", str(workdir / "predictions"),
                "--render", str(workdir / "render"), "--render-limit", "2"])
    stages.run("7/7 tracking the held-out world (same models and settings)",
               [*track, "--data", str(heldout), "--metrics",
                str(workdir / "results_heldout.json"),
                "--output", str(workdir / "predictions_heldout")])
    print(summary(workdir, stages.minutes, boxes))
    print(f"\nmetrics {workdir / 'results.json'}, {workdir / 'results_heldout.json'}; "
          f"tracked videos and frames {workdir / 'render'}/")


def main(argv: list[str] | None = None) -> None:
    """Parses the flags (`argv`, default the command line) and runs the demo."""
    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("runs/demo"))
    parser.add_argument("--boxes", choices=("detector", "simulated"), default="detector",
                        help="person boxes to track: the learned YOLOX's (default) or the "
                             "world's simulated detections (an ablation)")
    parser.add_argument("--heldout-seed", type=int, default=7)
    parser.add_argument("--heldout-videos", type=int, default=6)
    args = parser.parse_args(argv)
    run_demo(args.workdir, args.boxes, args.heldout_seed, args.heldout_videos)


if __name__ == "__main__":
    run_cli(main)
