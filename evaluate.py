"""Scores PoseTrack predictions: per-joint AP and MOTA with the official toolkit's semantics.

Metrics mode:

    python evaluate.py --ground-truth GT --predictions PRED --output OUT.json
        [--per-sequence] [--format 2017|2018 --converted-out DIR]

GT and PRED are folders with one JSON per sequence (same file names; PoseTrack 2017 or 2018
layout, detected per file) or combined files. OUT.json is written atomically; bad input ends
with one line naming the file and exit status 2, and no OUT.json. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gnnpose_jax.cli import run_cli
from gnnpose_jax.data.posetrack import FORMATS, write_json_atomic, write_sequences
from gnnpose_jax.evaluation import evaluate, format_table, load_for_evaluation, to_json


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags of every mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    metrics = parser.add_argument_group("metrics mode (score given prediction files)")
    metrics.add_argument("--ground-truth", type=Path, metavar="GT",
                         help="GT folder or combined file")
    metrics.add_argument("--predictions", type=Path, metavar="PRED",
                         help="prediction folder or combined file")
    metrics.add_argument("--output", type=Path, metavar="OUT.json",
                         help="where to write the metrics JSON")
    metrics.add_argument("--per-sequence", action="store_true",
                         help="also report each sequence on its own")
    metrics.add_argument("--no-official-quirks", action="store_true",
                         help="score every labeled frame plainly instead of reproducing the "
                              "official toolkit's quirks (see docs/evaluation.md)")
    metrics.add_argument("--format", choices=FORMATS, default="2018",
                         help="layout of the --converted-out copies (default 2018)")
    metrics.add_argument("--converted-out", type=Path, metavar="DIR",
                         help="also write the inputs, converted to --format, to "
                              "DIR/ground_truth and DIR/predictions")
    return parser


def run_metrics(args: argparse.Namespace) -> int:
    """Metrics mode: read, (convert), score, write OUT.json, print the table."""
    gt_seqs, pred_seqs = load_for_evaluation(args.ground_truth, args.predictions)
    if args.converted_out is not None:
        write_sequences(gt_seqs, args.converted_out / "ground_truth", args.format,
                        check_official=False)
        write_sequences(pred_seqs, args.converted_out / "predictions", args.format,
                        check_official=False)
    result = evaluate(gt_seqs, pred_seqs, per_sequence=args.per_sequence,
                      official_quirks=not args.no_official_quirks)
    write_json_atomic(to_json(result), args.output)
    print(format_table(result))
    return 0


def main() -> int:
    """Parses the flags and runs the requested mode."""
    parser = build_parser()
    args = parser.parse_args()
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
    metrics_flags = (args.ground_truth, args.predictions, args.output)
    if any(f is None for f in metrics_flags):
        parser.error("metrics mode needs --ground-truth, --predictions and --output")
    return run_metrics(args)


if __name__ == "__main__":
    run_cli(main)
