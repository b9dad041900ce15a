"""How well tracks follow each ground-truth person: id switches, fragmentations, track lengths,
poses spanning two people, and PCKh on visible and hidden joints, for one or more trackers'
predictions side by side.

    python benchmarks/track_report.py --ground-truth GT_DIR --predictions PRED_DIR [PRED_DIR ...]
        [--names NAME ...] [--per-track] [--json OUT.json] [--no-official-quirks]

GT_DIR and each PRED_DIR hold one PoseTrack JSON per sequence (or a combined file), as
`evaluate.py --output` writes them; runs are named after their folders unless `--names` is
given. On a finished demo (`runs/demo`): the val split is
`--ground-truth runs/demo/synthetic_world/annotations/val --predictions
runs/demo/predictions/baseline runs/demo/predictions/gnn`. The definitions are in
`gnnpose_jax/evaluation/track_stats.py`; the demo's figures in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnnpose_jax.cli import check_writable, run_cli  # noqa: E402
from gnnpose_jax.data.posetrack import write_json_atomic  # noqa: E402
from gnnpose_jax.errors import ConfigError  # noqa: E402
from gnnpose_jax.evaluation import load_for_evaluation, to_json  # noqa: E402
from gnnpose_jax.evaluation.track_stats import (  # noqa: E402
    format_totals,
    format_tracks,
    track_report,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ground-truth", type=Path, required=True, metavar="GT")
    parser.add_argument("--predictions", type=Path, nargs="+", required=True, metavar="PRED",
                        help="one folder (or combined file) per tracker, shown side by side")
    parser.add_argument("--names", nargs="+", help="column names (default: the folder names)")
    parser.add_argument("--per-track", action="store_true",
                        help="also print one row per ground-truth track")
    parser.add_argument("--json", type=Path, metavar="OUT.json",
                        help="write every figure, per track and in total, as JSON")
    parser.add_argument("--no-official-quirks", action="store_true",
                        help="score every labeled frame (MOTA's matching, as evaluate.py's "
                             "flag of the same name)")
    return parser.parse_args(argv)


def run_names(args: argparse.Namespace) -> list[str]:
    """One distinct name per predictions folder."""
    names = args.names or [p.stem for p in args.predictions]
    if len(names) != len(args.predictions):
        raise ConfigError(f"--names: {len(names)} names for {len(args.predictions)} "
                          f"--predictions folders; expected one each")
    if len(set(names)) != len(names):
        raise ConfigError(f"--names: runs need distinct names, got {names}; pass --names")
    return names


def main(argv: list[str] | None = None) -> None:
    """Reads the ground truth and every run, prints the tables, writes the JSON if asked."""
    args = parse_args(argv)
    names = run_names(args)
    if args.json is not None:
        check_writable(args.json, "--json")
    reports = {}
    for name, pred in zip(names, args.predictions, strict=True):
        gt_seqs, pred_seqs = load_for_evaluation(args.ground_truth, pred)
        reports[name] = track_report(gt_seqs, pred_seqs,
                                     official_quirks=not args.no_official_quirks)
    if args.per_track:
        print(format_tracks(reports) + "\n")
    print(format_totals(reports))
    if args.json is not None:
        write_json_atomic(to_json(reports), args.json)


if __name__ == "__main__":
    run_cli(main)
