"""Chooses the tracker's settings on the demo world's tune split, never on val or held-out.

Starts from a finished demo (`python -m gnnpose_jax.demo --workdir runs/demo`) and its
networks, and tracks the tune split (`synthetic_world/annotations/tune`) with the learned
detector's boxes. Coordinate descent over `GRID`, from the settings in the GNN run's
config.json: each setting in turn takes the value with the highest total AP + total MOTA,
the others held; `--passes` rounds. The baseline (no GNN) is tuned first over the settings it
uses (`BASELINE_KEYS`); the GNN tracker then starts from the baseline's choice and is tuned
over the settings only it uses (`GNN_KEYS`), so the comparison on val and the held-out world is
with a baseline tuned just as hard. Prints each trial and writes the
chosen settings and the path to them into docs/results.md; copy the GNN's into
`configs/synthetic_gnn.py` (the baseline's are reported beside it).

    .venv/bin/python benchmarks/tune_tracker.py --demo runs/demo

A benchmark, not a test: about 6 minutes on 2 cores.
"""

from __future__ import annotations

import datetime
import json
import time

import demo_runs

#: setting -> values tried.
GRID = {
    "min_box_score": (0.0, 0.4, 0.5, 0.6, 0.7),
    "new_track_score": (0.3, 0.4, 0.5, 0.6, 0.7),
    "output_thresholds": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    "oks_gate": (0.1, 0.2, 0.3, 0.5),
    "max_misses": (1, 3, 5),
    "merge": ("hrnet_only", "weighted", "heatmap_average", "max"),
    "keep_score": (0.25, 0.35, 0.5, 0.7),
    "recovered_confidence": (True, False),
}
#: The settings the baseline tracker uses, tuned on the baseline first.
BASELINE_KEYS = ("min_box_score", "new_track_score", "output_thresholds", "oks_gate",
                 "max_misses")
#: Then the GNN tracker, from the baseline's choice, over the settings only it uses: one config
#: section serves both trackers (`evaluate.py --compare-baseline`), so the settings they share
#: stay the baseline's best and the comparison never handicaps the baseline.
GNN_KEYS = ("merge", "keep_score", "recovered_confidence")


def objective(result: dict) -> float:
    """What the descent maximises: total AP + total MOTA."""
    return result["ap"] + result["mota"]


def descend(run, start: dict, keys: tuple[str, ...], passes: int, label: str
            ) -> tuple[dict, dict, list[str]]:
    """Coordinate descent of `run(settings) -> totals` over `keys`; the best settings, their
    totals and one log line per trial."""
    best, best_result = dict(start), run(start)
    log = [f"{label} start {start}: AP {best_result['ap']:.1f} MOTA {best_result['mota']:.1f}"]
    print(log[-1], flush=True)
    for _ in range(passes):
        for key in keys:
            for value in GRID[key]:
                if value == best.get(key):
                    continue
                trial = {**best, key: value}
                result = run(trial)
                log.append(f"{label} {key}={value}: AP {result['ap']:.1f} "
                           f"MOTA {result['mota']:.1f}")
                print(log[-1], flush=True)
                if objective(result) > objective(best_result):
                    best, best_result = trial, result
    return best, best_result, log


def main() -> None:
    parser = demo_runs.demo_parser(__doc__)
    parser.add_argument("--passes", type=int, default=1, help="rounds of coordinate descent")
    args = parser.parse_args()
    demo = demo_runs.finished_demo(args.demo)
    gnn = demo / "gnn"
    data = demo_runs.world(demo)
    stored = json.loads((gnn / demo_runs.CONFIG_JSON).read_text()).get("tracker", {})
    start = {k: stored[k] for k in GRID if k in stored}
    t0 = time.perf_counter()

    def tracked(use_gnn):
        return lambda settings: demo_runs.score(gnn, data, use_gnn, settings, demo=demo,
                                                split="tune", boxes=args.boxes)

    base, base_result, base_log = descend(tracked(False), {k: start[k] for k in BASELINE_KEYS},
                                          BASELINE_KEYS, args.passes, "baseline")
    full, full_result, full_log = descend(tracked(True), {**start, **base}, GNN_KEYS,
                                          args.passes, "gnn")
    minutes = (time.perf_counter() - t0) / 60
    chosen = "\n".join(f"    config.tracker.{k} = {v!r}" for k, v in full.items())
    text = (
        "## Tracker settings chosen on the tune split\n\n"
        f"Written by `python benchmarks/tune_tracker.py --demo {args.demo}` on "
        f"{datetime.date.today()} ({minutes:.0f} min, {args.boxes} boxes, {args.passes} "
        "pass(es) of coordinate descent over AP + MOTA). The GNN tracker's choice is the "
        "`tracker` section of `configs/synthetic_gnn.py`:\n\n"
        f"```python\n{chosen}\n```\n\n"
        f"On the tune split: GNN tracker AP {full_result['ap']:.1f}, MOTA "
        f"{full_result['mota']:.1f}. The baseline tuned alone over the settings it uses "
        f"({', '.join(BASELINE_KEYS)}): {base}, AP {base_result['ap']:.1f}, MOTA "
        f"{base_result['mota']:.1f}.\n\n<details><summary>every trial</summary>\n\n```\n"
        + "\n".join(base_log + full_log) + "\n```\n</details>\n")
    demo_runs.write_section(args.out, text, "tune_tracker.py")
    print(f"\nGNN tracker settings:\n{chosen}\nbaseline settings: {base}\nwrote {args.out}")


if __name__ == "__main__":
    main()
