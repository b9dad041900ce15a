"""Issue 21's tracker parts on a finished demo, alone and together: AP, MOTA, id switches, poses
spanning two people and hidden-joint PCKh, on the val split and the held-out world.

Starts from a finished demo (`python -m gnnpose_jax.demo --workdir runs/demo`): its detector,
tiny HRNet, GNN (`runs/demo/gnn`, with the learned merge's table that the demo fits on tune) and
worlds. Every row tracks with the demo's boxes and the tracker settings of
`configs/synthetic_gnn.py` (chosen on tune), with some parts switched off:

- part 1, association: the second round on low-score boxes and re-identification
  (`low_box_score`, `reid_frames`);
- part 2, no impossible poses: the learned pose bounds and the suppression of recovered poses on
  detected people (`plausibility`, `recovered_max_oks`);
- part 3, the GNN's features from the detections' crops: a GNN retrained with
  `gnn.feature_source = "detections"` into `runs/demo/ablate/detection_crops` (skipped when
  already trained), merged by the `weighted` rule (its own merge table is not fitted);
- part 4, the learned merge (`merge = "learned"`; off: `weighted`).

Two oracle rows track the GT people's own boxes instead, a bound on what better boxes could
give.

Figures per row: total AP and MOTA (`evaluation.evaluate`), id switches per GT person and per
joint, the share of emitted poses spanning two people and PCKh@0.5 on hidden GT joints
(`evaluation.track_stats`, as `track_report.py`). Writes its table into docs/results.md.

    .venv/bin/python benchmarks/ablate_tracks.py --demo runs/demo

A benchmark, not a test: about 20 minutes on 2 cores (the part-3 GNN's training included).
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import ablate
import demo_runs

#: Switches each part off (the demo's config has every part but 3 on).
OFF = {1: {"low_box_score": 1.0, "reid_frames": 0},
       2: {"plausibility": False, "recovered_max_oks": 1.0},
       4: {"merge": "weighted"}}
#: The part-3 GNN: the demo's recipe on the detections' crops.
DETECTION_CROPS = ("detection_crops", {"gnn.feature_source": "detections"})


def off(*parts: int) -> dict:
    """The tracker overrides switching `parts` off."""
    return {k: v for p in parts for k, v in OFF[p].items()}


#: (row name, GNN workdir: "demo" or the part-3 variant, use the GNN, tracker overrides, boxes:
#: None for the run's, "gt" for the oracle).
ROWS = (
    ("baseline (no GNN), parts 1 and 2 on", "demo", False, {}, None),
    ("GNN, no part (before issue 21)", "demo", True, off(1, 2, 4), None),
    ("GNN, part 1 alone", "demo", True, off(2, 4), None),
    ("GNN, part 2 alone", "demo", True, off(1, 4), None),
    ("GNN, part 4 alone", "demo", True, off(1, 2), None),
    ("GNN, parts 1 + 2", "demo", True, off(4), None),
    ("GNN, parts 1 + 2 + 3 (GNN retrained on detection crops)", "variant", True, off(4), None),
    ("GNN, parts 1 + 2 + 4 (the demo)", "demo", True, {}, None),
    ("oracle: baseline on the GT boxes", "demo", False, {}, "gt"),
    ("oracle: GNN, parts 1 + 2 + 4, on the GT boxes", "demo", True, {}, "gt"),
)


def track_row(workdir: Path, demo: Path, data: Path, use_gnn: bool, overrides: dict,
              boxes: str) -> dict:
    """Tracks a world's val split (`demo_runs.track`); AP, MOTA and the track report's
    totals."""
    from gnnpose_jax.evaluation import evaluate
    from gnnpose_jax.evaluation.track_stats import track_report

    sequences, predictions = demo_runs.track(workdir, data, use_gnn, overrides, demo=demo,
                                             boxes=boxes)
    result = evaluate(sequences, predictions)
    report = track_report(sequences, predictions)
    return {"ap": result["ap"]["total"], "mota": result["mota"]["total"],
            "switches": report["totals"]["switches"],
            "joint_switches": report["totals"]["joint_switches"],
            "spanning": report["spanning"]["share"],
            "hidden": report["pckh"]["hidden"]["pckh"]}


def table(rows: list[tuple[str, dict, dict]]) -> str:
    """One Markdown row per tracker: val, then held-out figures."""
    lines = ["| tracker | val AP / MOTA | val id sw. person / joints | val spanning | "
             "val hidden PCKh | held-out AP / MOTA | held-out id sw. person / joints | "
             "held-out spanning | held-out hidden PCKh |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, *worlds in rows:
        cells = []
        for r in worlds:
            cells += [f"{r['ap']:.1f} / {r['mota']:.1f}",
                      f"{r['switches']:.0f} / {r['joint_switches']:.0f}",
                      f"{r['spanning']:.2f}%", f"{r['hidden']:.3f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    args = demo_runs.demo_parser(__doc__).parse_args()
    demo = demo_runs.finished_demo(args.demo)
    t0 = time.perf_counter()
    workdirs = {"demo": demo / "gnn",
                "variant": ablate.train_variant(demo, *DETECTION_CROPS)}
    worlds = (demo_runs.world(demo), demo_runs.heldout_world(demo))
    rows = []
    for name, which, use_gnn, overrides, boxes in ROWS:
        rows.append((name, *(track_row(workdirs[which], demo, w, use_gnn, overrides,
                                       boxes or args.boxes) for w in worlds)))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = table(rows)
    minutes = (time.perf_counter() - t0) / 60
    generated = (
        "### Each part alone and together\n\n"
        f"Written by `python benchmarks/ablate_tracks.py --demo {args.demo}` on "
        f"{datetime.date.today()} (this run: {minutes:.0f} min). The demo's networks, "
        f"{args.boxes} boxes and tracker settings (`configs/synthetic_gnn.py`), with the parts "
        "the row names and no other switched on; id switches, spanning poses and hidden-joint "
        "PCKh (over all GT people) as `benchmarks/track_report.py` counts them.\n\n"
        f"{text}\n")
    print(text)
    demo_runs.write_section(args.out, generated, "ablate_tracks.py")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
