"""Scores PoseTrack predictions: per-joint AP and MOTA with the official toolkit's semantics.

Tracker mode (run the tracker on a split with a run's trained networks, then score it):

    gnnpose-evaluate --config configs/NAME.py --workdir DIR [--split val] [--no-gnn]
        [--compare-baseline] [--data DIR] [--boxes detections|gt|detector]
        [--detections FILE] [--detector CKPT [--conf C] [--nms T]] [--dtype float32|bfloat16]
        [--output PRED_DIR] [--metrics OUT.json] [--render DIR] [--per-sequence]

Metrics mode:

    gnnpose-evaluate --ground-truth GT --predictions PRED --metrics OUT.json
        [--per-sequence] [--positional-pairing] [--format 2017|2018|2021 --converted-out DIR]
        [--benchmark posetrack2017|posetrack2018|posetrack21] [--per-alpha]
        [--hota-fix-empty-frames]

(`python evaluate.py` and `python -m gnnpose_jax.evaluate` are the same command.) GT and PRED
are folders with one JSON per sequence (same file names; PoseTrack 2017 or 2018 layout,
detected per file) or combined files. PoseTrack21 GT is detected (or say `--benchmark
posetrack21`): then the official kit's keypoint HOTA and mAP are printed and written, with
poseval's MOTA on the labeled frames. `--format 2021` writes PoseTrack21 files (also tracker
mode's --output). As in every command, `--output` is the predictions the command writes and
`--metrics` the metrics JSON. A flag of the other mode is refused. Output paths are checked
before any work starts; OUT.json is written atomically; bad input ends with one line naming
the file and exit status 2, and no OUT.json. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gnnpose_jax.cli import add_inference_arguments, check_writable, program, run_cli
from gnnpose_jax.data.posetrack import FORMATS, write_json_atomic, write_sequences
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.evaluation import evaluate, format_table, load_for_evaluation, to_json
from gnnpose_jax.evaluation.pt21 import load as load_posetrack21
from gnnpose_jax.evaluation.pt21_report import (
    BENCHMARKS,
    detect_benchmark,
    evaluate_posetrack21,
    format_posetrack21_table,
)
from gnnpose_jax.paths import check_distinct
from gnnpose_jax.tracking.boxes import BOX_KINDS, DEFAULT_CONF, DEFAULT_NMS, check_thresholds

#: Flags (argparse dests) that only one mode reads; the other mode refuses them.
METRICS_ONLY = ("ground_truth", "predictions", "positional_pairing", "benchmark", "per_alpha",
                "hota_fix_empty_frames", "converted_out")
TRACKER_ONLY = ("split", "data", "boxes", "detections", "detector", "conf", "nms", "no_gnn",
                "compare_baseline", "output", "render", "render_limit", "batch_size",
                "max_tracks", "flip_test")


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags of every mode."""
    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    both = parser.add_argument_group("both modes")
    both.add_argument("--metrics", type=Path, metavar="OUT.json",
                      help="where to write the metrics JSON (metrics mode: required)")
    both.add_argument("--per-sequence", action="store_true",
                      help="also report each sequence on its own")
    both.add_argument("--no-official-quirks", action="store_true",
                      help="score every labeled frame plainly instead of reproducing the "
                           "official toolkit's quirks (see docs/evaluation.md)")
    both.add_argument("--format", choices=FORMATS, default="2018",
                      help="layout of the files written: tracker mode's --output, metrics "
                           "mode's --converted-out (default 2018; 2021: PoseTrack21)")
    metrics = parser.add_argument_group("metrics mode (score given prediction files)")
    metrics.add_argument("--ground-truth", type=Path, metavar="GT",
                         help="GT folder or combined file")
    metrics.add_argument("--predictions", type=Path, metavar="PRED",
                         help="prediction folder or combined file")
    metrics.add_argument("--positional-pairing", action="store_true",
                         help="pair prediction frames with GT frames by position alone, as the "
                              "official toolkit does, even where their file names or image ids "
                              "differ (default: such a mismatch is an error)")
    metrics.add_argument("--benchmark", choices=BENCHMARKS,
                         help="what to compute (default: detected from the GT files); "
                              "posetrack21 adds the official kit's keypoint HOTA and mAP")
    metrics.add_argument("--per-alpha", action="store_true",
                         help="posetrack21: also write HOTA and its parts at each of the 19 "
                              "thresholds")
    metrics.add_argument("--hota-fix-empty-frames", action="store_true",
                         help="posetrack21: count a frame without predictions (or without GT) "
                              "as its own misses (false positives), not the whole sequence's "
                              "as the kit does (its issue #10; numbers then differ from "
                              "published ones)")
    metrics.add_argument("--converted-out", type=Path, metavar="DIR",
                         help="also write the inputs, converted to --format, to "
                              "DIR/ground_truth and DIR/predictions")
    tracker = parser.add_argument_group("tracker mode (run the tracker on a split, then score)")
    tracker.add_argument("--config", help="the run's config file: its data, and its tracker "
                                          "settings (in place of those the run stored)")
    tracker.add_argument("--workdir", type=Path,
                         help="the run's folder: its hrnet/ and gnn/ exports are used")
    tracker.add_argument("--split", default="val")
    tracker.add_argument("--data", type=Path, metavar="DIR",
                         help="a PoseTrack-layout folder to track instead of the config's data")
    tracker.add_argument("--boxes", choices=BOX_KINDS, default="detections",
                         help="person boxes from a detections file, GT boxes (oracle), or "
                              "found by the YOLOX --detector")
    tracker.add_argument("--detections", type=Path, metavar="FILE",
                         help="COCO detections (default DATA/detections/SPLIT.json)")
    tracker.add_argument("--detector", type=Path, metavar="CKPT",
                         help="YOLOX weights for --boxes detector: a converted folder, a "
                              "detector run's folder or the official .pth (e.g. yolox_s.pth)")
    tracker.add_argument("--conf", type=float,
                         help=f"--detector's score threshold (default {DEFAULT_CONF})")
    tracker.add_argument("--nms", type=float,
                         help=f"--detector's NMS IoU threshold (default {DEFAULT_NMS})")
    tracker.add_argument("--no-gnn", action="store_true", help="the baseline tracker")
    tracker.add_argument("--compare-baseline", action="store_true",
                         help="run with and without the GNN and print both with the difference")
    tracker.add_argument("--output", type=Path, metavar="PRED_DIR",
                         help="write the tracker's predictions here (one JSON per sequence; "
                              "with --compare-baseline, in PRED_DIR/baseline and PRED_DIR/gnn)")
    tracker.add_argument("--render", type=Path, metavar="DIR",
                         help="render the first --render-limit sequences (of the GNN run) to "
                              "DIR/<sequence>.mp4, plus the frame with most recovered people "
                              "as DIR/<sequence>.png")
    tracker.add_argument("--render-limit", type=int, default=1)
    tracker.add_argument("--predictions-out", type=Path, help=argparse.SUPPRESS)  # renamed
    add_inference_arguments(parser)
    return parser


def run_tracker(args: argparse.Namespace) -> int:
    """Tracker mode: track the split (with and/or without the GNN), score, print, write."""
    from gnnpose_jax.evaluation.report import format_comparison
    from gnnpose_jax.tracking.boxes import box_source
    from gnnpose_jax.tracking.config import tracker_config_for
    from gnnpose_jax.tracking.networks import load_networks
    from gnnpose_jax.tracking.split import (
        dataset_folder,
        read_split,
        split_detections,
        track_split,
    )
    from gnnpose_jax.training.config import load_config_file

    if (args.boxes == "detector") != (args.detector is not None):
        raise ConfigError("--boxes detector and --detector CKPT go together")
    if args.detector is None and (args.conf is not None or args.nms is not None):
        raise ConfigError("--conf and --nms are --detector's thresholds; there is no --detector")
    conf = DEFAULT_CONF if args.conf is None else args.conf
    nms = DEFAULT_NMS if args.nms is None else args.nms
    check_thresholds(conf, nms)
    if args.output is not None and args.output.suffix == ".json":
        raise ConfigError(f"--output {args.output}: tracker mode writes the predictions as a "
                          "folder (one JSON per sequence); the metrics JSON is --metrics")
    check_outputs((("--metrics", args.metrics, False), ("--output", args.output, True),
                   ("--render", args.render, True)))
    check_distinct([("--metrics", args.metrics), ("--output", args.output),
                    ("--render", args.render)],
                   [("--config", args.config), ("--workdir", args.workdir), ("--data", args.data),
                    ("--detections", args.detections), ("--detector", args.detector)])
    config = load_config_file(args.config)
    root = dataset_folder(config.data, args.workdir, args.data)
    sequences = read_split(root, args.split)
    detections = (split_detections(root, args.split, args.detections)
                  if args.boxes == "detections" else None)
    boxes_for = box_source(args.boxes, sequences, detections=detections,
                           detector=args.detector, conf=conf, nms=nms, dtype=args.dtype)
    variants = ([("baseline", False), ("gnn", True)] if args.compare_baseline
                else [("baseline" if args.no_gnn else "gnn", not args.no_gnn)])
    networks = load_networks(args.workdir, use_gnn=any(g for _, g in variants),
                             batch_size=args.batch_size, max_tracks=args.max_tracks,
                             flip_test=args.flip_test, dtype=args.dtype)
    # Every config derives from configs/base.py, which always has a `tracker` section.
    tracker_settings = tracker_config_for(args.workdir, networks.gnn_spec,
                                          config.tracker.to_dict())
    results = {}
    for name, use_gnn in variants:
        render = args.render if (use_gnn or len(variants) == 1) else None
        preds, stats = track_split(networks, tracker_settings, root, sequences, boxes_for,
                                   use_gnn, f"tracking ({name})", render, args.render_limit)
        result = evaluate(sequences, preds, per_sequence=args.per_sequence,
                          official_quirks=not args.no_official_quirks)
        result["tracking"] = stats
        results[name] = result
        print(f"\n{name}: {stats['frames']} frames at {stats['fps']:.1f} frames/s")
        print(format_table(result))
        if args.output is not None:
            out = args.output / name if len(variants) > 1 else args.output
            write_sequences(preds, out, args.format)
    if len(variants) > 1:
        print("\n" + format_comparison(results["baseline"], results["gnn"]))
    if args.metrics is not None:
        payload = results if len(variants) > 1 else next(iter(results.values()))
        write_json_atomic(to_json(payload), args.metrics)
    return 0


def run_metrics(args: argparse.Namespace) -> int:
    """Metrics mode: read, (convert), score, write OUT.json, print the table."""
    check_outputs((("--metrics", args.metrics, False),
                   ("--converted-out", args.converted_out, True)))
    converted = [] if args.converted_out is None else [
        ("--converted-out", args.converted_out / sub) for sub in ("ground_truth", "predictions")]
    check_distinct([("--metrics", args.metrics), *converted],
                   [("--ground-truth", args.ground_truth), ("--predictions", args.predictions)])
    benchmark = args.benchmark or detect_benchmark(args.ground_truth)
    if benchmark == "posetrack21":
        return run_posetrack21(args)
    for flag in ("per_alpha", "hota_fix_empty_frames"):
        if getattr(args, flag):
            raise ConfigError(f"--{flag.replace('_', '-')} is for PoseTrack21 (HOTA), but the "
                              f"benchmark is {benchmark}; pass --benchmark posetrack21 if the "
                              "files are PoseTrack21's")
    gt_seqs, pred_seqs = load_for_evaluation(args.ground_truth, args.predictions,
                                             positional_pairing=args.positional_pairing)
    convert(args, gt_seqs, pred_seqs)
    result = evaluate(gt_seqs, pred_seqs, per_sequence=args.per_sequence,
                      official_quirks=not args.no_official_quirks)
    write_json_atomic(to_json(result), args.metrics)
    print(format_table(result))
    return 0


def run_posetrack21(args: argparse.Namespace) -> int:
    """Metrics mode on PoseTrack21 files: keypoint HOTA and mAP as the kit, poseval's MOTA."""
    if args.positional_pairing:
        raise ConfigError("--positional-pairing is for PoseTrack 2017/2018: PoseTrack21 frames "
                          "pair by position and labeled frames must have equal image ids, as "
                          "the official kit asserts")
    gt_seqs, pred_seqs = load_posetrack21(args.ground_truth, args.predictions)
    convert(args, gt_seqs, pred_seqs)
    result = evaluate_posetrack21(gt_seqs, pred_seqs,
                                  fix_empty_frames=args.hota_fix_empty_frames,
                                  per_alpha=args.per_alpha, per_sequence=args.per_sequence,
                                  official_quirks=not args.no_official_quirks)
    write_json_atomic(to_json(result), args.metrics)
    print(format_posetrack21_table(result))
    return 0


def convert(args: argparse.Namespace, gt_seqs: list, pred_seqs: list) -> None:
    """Writes the inputs in --format to --converted-out, if asked."""
    if args.converted_out is not None:
        write_sequences(gt_seqs, args.converted_out / "ground_truth", args.format,
                        check_official=False)
        write_sequences(pred_seqs, args.converted_out / "predictions", args.format,
                        check_official=False)


def check_outputs(outputs) -> None:
    """Refuses unwritable output paths before any work: (flag, path or None, is a folder)."""
    for flag, path, folder in outputs:
        if path is not None:
            check_writable(path, flag, folder)


def check_mode_flags(parser: argparse.ArgumentParser, args: argparse.Namespace,
                     tracker_mode: bool) -> None:
    """Refuses, in one line, a renamed flag and any flag the other mode reads."""
    if args.predictions_out is not None:
        raise ConfigError("--predictions-out is now --output (the tracker's predictions, as in "
                          "every command); the metrics JSON is --metrics")
    if not tracker_mode and args.output is not None:
        raise ConfigError("--output is the tracker's predictions (tracker mode); write the "
                          "metrics with --metrics OUT.json")
    other, mode = ((METRICS_ONLY, "metrics mode (--ground-truth, --predictions)") if tracker_mode
                   else (TRACKER_ONLY, "tracker mode (--config, --workdir)"))
    for dest in other:
        if getattr(args, dest) != parser.get_default(dest):
            raise ConfigError(f"--{dest.replace('_', '-')} is for {mode} only")


def main(argv: list[str] | None = None) -> int:
    """Parses the flags (`argv`, default the command line) and runs the requested mode."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
    tracker_mode = args.config is not None or args.workdir is not None
    check_mode_flags(parser, args, tracker_mode)
    if tracker_mode:
        if args.config is None or args.workdir is None:
            parser.error("tracker mode needs --config and --workdir")
        return run_tracker(args)
    if any(f is None for f in (args.ground_truth, args.predictions, args.metrics)):
        parser.error("metrics mode needs --ground-truth, --predictions and --metrics "
                     "(or tracker mode: --config and --workdir)")
    return run_metrics(args)


def cli() -> None:
    """The `gnnpose-evaluate` console script: errors as one line and exit status 2."""
    run_cli(main)


if __name__ == "__main__":
    cli()
