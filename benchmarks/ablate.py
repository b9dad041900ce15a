"""Ablations of docs/spec/method.md's switches on the synthetic val split, as a Markdown table.

Starts from a finished demo (`python -m gnnpose_jax.demo --workdir runs/demo`): its detector
(`runs/demo/yolox`), tiny HRNet (`runs/demo/hrnet`), world and GNN (`runs/demo/gnn`, the full
model). Each GNN variant
is trained with the demo's GNN config plus the variant's overrides into
`runs/demo/ablate/<variant>` (skipped when that folder already holds an export, so an
interrupted run resumes), then every row tracks the val split with the same detections and
HRNet and is scored. Rows:

- the baseline tracker (no GNN) and the full GNN tracker;
- history length n = 1, 2 (the full model has n = 3);
- no temporal edges (the candidates never hear of the history);
- no visual cue (no HRNet features in the nodes);
- the paper's plain attention message (no relative offsets);
- history poses in training from jittered GT instead of the frozen HRNet's estimates;
- the merge rules `weighted`, `max`, `hrnet_only` and `heatmap_average` with the full GNN;
- both trackers on the world's simulated detections, and on those thinned at random to the
  learned detector's recall (`demo_runs.thinned_to_detector_recall`, which prints the recalls).

The tracker settings come from the demo's config, chosen on the tune split
(`tune_tracker.py`); a second table scores the baseline and the full GNN on the demo's
held-out world (val videos of another seed, `runs/demo/heldout_world`).

    .venv/bin/python benchmarks/ablate.py --demo runs/demo --out docs/results.md

Each training takes about as long as the demo's GNN stage; the whole run is a benchmark, not
a test.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import time
from pathlib import Path

import demo_runs

ROOT = demo_runs.ROOT
GNN_CONFIG = "configs/synthetic_gnn.py"

#: name -> (description, config overrides of the GNN training, tracker overrides)
VARIANTS = {
    "history_1": ("n = 1", {"gnn.history": 1}, {"history": 1}),
    "history_2": ("n = 2", {"gnn.history": 2}, {"history": 2}),
    "no_temporal_edges": ("no temporal edges", {"gnn.temporal_edges": False}, {}),
    "no_visual": ("no visual cue", {"gnn.use_visual": False}, {}),
    "plain_message": ("no relative offsets (paper's message)",
                      {"gnn.relative_offsets": False}, {}),
    "history_gt": ("history from jittered GT in training (its val PCKh too)",
                   {"gnn.history_source": "gt"}, {}),
}
MERGES = ("weighted", "max", "hrnet_only", "heatmap_average")


def train_variant(demo: Path, name: str, overrides: dict) -> Path:
    """Trains one GNN variant (unless already trained); returns its workdir."""
    workdir = demo / "ablate" / name
    if (workdir / "gnn").is_dir():
        print(f"{name}: already trained in {workdir}", flush=True)
        return workdir
    flags = [f"--config.{k}={v}" for k, v in overrides.items()]
    command = [sys.executable, "-m", "gnnpose_jax.train", "--config", GNN_CONFIG, "--workdir",
               str(workdir),
               f"--config.hrnet.checkpoint={demo / 'hrnet' / 'hrnet'}",
               f"--config.data.root={demo_runs.world(demo)}",
               "--config.progress_bar=False", *flags]
    print(f"{name}: training ({' '.join(flags)})", flush=True)
    t0 = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(f"{name}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
    return workdir


def score(workdir: Path, demo: Path, data: Path, use_gnn: bool, overrides: dict,
          boxes: str) -> dict:
    """Tracks a world's val split with a workdir's networks and settings; the totals."""
    return demo_runs.score(workdir, data, use_gnn, overrides, demo=demo, boxes=boxes)


def heldout_rows(full: Path, history_gt: Path | None, demo: Path, base: dict, boxes: str
                 ) -> list[tuple[str, dict]]:
    """The held-out rows: baseline, full GNN, and the variant trained on jittered GT history."""
    root = demo_runs.heldout_world(demo)
    rows = [("baseline (no GNN)", base),
            ("full GNN (n = 3)", score(full, demo, root, True, {}, boxes))]
    if history_gt is not None:
        for merge in ("hrnet_only", "weighted"):
            rows.append((f"history from jittered GT in training, merge `{merge}`",
                         score(history_gt, demo, root, True, {"merge": merge}, boxes)))
    return rows


def main() -> None:
    parser = demo_runs.demo_parser(__doc__)
    parser.add_argument("--only", default="",
                        help="comma-separated variants (default: all; 'none': no retraining)")
    args = parser.parse_args()
    demo = demo_runs.finished_demo(args.demo)
    data = demo_runs.world(demo)
    full = demo / "gnn"
    chosen = [v for v in args.only.split(",") if v and v != "none"]
    chosen = chosen if chosen or args.only == "none" else list(VARIANTS)
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        sys.exit(f"--only: unknown variant {unknown[0]!r} (known: {', '.join(VARIANTS)})")
    t0 = time.perf_counter()
    trained = {name: train_variant(demo, name, VARIANTS[name][1]) for name in chosen}
    baseline = score(full, demo, data, False, {}, args.boxes)
    rows = [("baseline (no GNN)", baseline),
            ("full GNN (n = 3)", score(full, demo, data, True, {}, args.boxes))]
    for name in chosen:
        description, _, tracker_overrides = VARIANTS[name]
        rows.append((description, score(trained[name], demo, data, True, tracker_overrides,
                                        args.boxes)))
    for merge in MERGES:
        rows.append((f"full GNN, merge `{merge}`",
                     score(full, demo, data, True, {"merge": merge}, args.boxes)))
    if args.boxes == "detector":
        for boxes, label in (("simulated", "the world's simulated detections"),
                             ("simulated_at_detector_recall",
                              "simulated detections thinned to the detector's recall")):
            rows.append((f"baseline, {label}", score(full, demo, data, False, {}, boxes)))
            rows.append((f"full GNN, {label}", score(full, demo, data, True, {}, boxes)))
    text = demo_runs.table(rows, baseline)
    base = score(full, demo, demo_runs.heldout_world(demo), False, {}, args.boxes)
    heldout = ("\n\n## Held-out world\n\nThe demo's held-out world (val videos of another "
               "seed, same sizes); the demo's models and tracker settings, nothing tuned on "
               "it.\n\n" + demo_runs.table(
                   heldout_rows(full, trained.get("history_gt"), demo, base, args.boxes),
                   base))
    minutes = (time.perf_counter() - t0) / 60
    only_flag = f" --only {args.only}" if args.only else ""
    print(text + heldout)
    generated = (
        "## Ablations on the synthetic val split\n\n"
        f"Written by `python benchmarks/ablate.py --demo {args.demo}{only_flag}` on "
        f"{datetime.date.today()} (this run: {minutes:.0f} min, variants already trained were "
        "reused). "
        f"Every row uses the demo's detector, tiny HRNet ({args.boxes} boxes) and the tracker "
        "settings chosen on the tune split (`configs/synthetic_gnn.py`), except what the row "
        "changes; differences are to the baseline. Variants retrain the GNN with the demo's "
        "recipe. GNN val PCKh is the GNN's own validation (the pose at t on the demo's val "
        "windows, before any tracking), from the history each variant trains on: the frozen "
        "HRNet's estimates (`gnn.history_source`, `configs/synthetic_gnn.py`) unless the row "
        "says jittered GT history.\n\n"
        f"{text}{heldout}\n")
    demo_runs.write_section(args.out, generated, "ablate.py")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
