"""Fits the learned merge rule's table for a GNN run: python -m gnnpose_jax.fit_merge

    python -m gnnpose_jax.fit_merge --workdir GNN_RUN --data WORLD [--split tune]
        [--boxes detections|gt|detector] [--detections FILE] [--detector CKPT [--conf C]
        [--nms T]] [--config CONFIG.py] [--min-pairs N] [--min-oks T]
        [--dtype float32|bfloat16] [--batch-size N] [--max-tracks N] [--flip-test]

Tracks the labeled split with the run's HRNet and GNN and its tracker settings (those the run
stored, or `--config`'s; the merge rule "weighted" while fitting), records every matched pair of
a GNN prediction and an HRNet estimate, assigns each to the GT person it covers and counts, per
joint and per pair of score bins, how often each source was right (docs/method.md, "The learned
merge"). The table is written to GNN_RUN/merge_table.json, where the tracker finds it:
`tracker.merge = "learned"` then takes, per joint, the source right more often. Fit it on a split
you do not report on (the demo uses tune), with the boxes you will track with: which source is
right depends on how well the boxes place HRNet's crops (docs/results.md). Bad input ends with
one line and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gnnpose_jax.cli import add_inference_arguments, check_writable, program, run_cli
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.tracking.boxes import BOX_KINDS, DEFAULT_CONF, DEFAULT_NMS, check_thresholds
from gnnpose_jax.tracking.merge_fit import MIN_OKS
from gnnpose_jax.tracking.merge_table import MERGE_TABLE, MIN_PAIRS, VISIBILITY


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags."""
    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, metavar="GNN_RUN",
                        help="a GNN training run (its gnn/ export); the table is written here")
    parser.add_argument("--data", type=Path, required=True, metavar="DIR",
                        help="a PoseTrack-layout folder with the labeled split")
    parser.add_argument("--split", default="tune")
    parser.add_argument("--boxes", choices=BOX_KINDS, default="detections",
                        help="person boxes: the split's detections file (default), GT boxes, "
                             "or a YOLOX --detector")
    parser.add_argument("--detections", type=Path, metavar="FILE",
                        help="COCO detections (default DIR/detections/SPLIT.json)")
    parser.add_argument("--detector", type=Path, metavar="CKPT", help="with --boxes detector")
    parser.add_argument("--conf", type=float, help=f"--detector's score threshold "
                                                   f"(default {DEFAULT_CONF})")
    parser.add_argument("--nms", type=float, help=f"--detector's NMS IoU threshold "
                                                  f"(default {DEFAULT_NMS})")
    parser.add_argument("--config", metavar="CONFIG.py",
                        help="a config whose tracker settings to use; default: the run's own")
    parser.add_argument("--min-pairs", type=int, default=MIN_PAIRS, metavar="N",
                        help=f"a score cell decides with at least N pairs, else the "
                             f"higher-scoring source is taken (default {MIN_PAIRS})")
    parser.add_argument("--min-oks", type=float, default=MIN_OKS, metavar="T",
                        help=f"an estimate's OKS with a GT person to count its pair "
                             f"(default {MIN_OKS})")
    add_inference_arguments(parser)
    return parser


def check_args(args: argparse.Namespace) -> None:
    """Refuses flags that cannot run, a run without a GNN and an unwritable table, before any
    work."""
    from gnnpose_jax.models.run_folder import GNN_EXPORT  # imports JAX: not for --help

    if (args.boxes == "detector") != (args.detector is not None):
        raise ConfigError("--boxes detector and --detector CKPT go together")
    if args.detector is None and (args.conf is not None or args.nms is not None):
        raise ConfigError("--conf and --nms are --detector's thresholds; there is no --detector")
    check_thresholds(DEFAULT_CONF if args.conf is None else args.conf,
                     DEFAULT_NMS if args.nms is None else args.nms)
    if args.min_pairs < 1:
        raise ConfigError(f"--min-pairs {args.min_pairs}: expected a whole number >= 1")
    if not 0.0 <= args.min_oks <= 1.0:
        raise ConfigError(f"--min-oks {args.min_oks}: expected a number in [0, 1]")
    if not (args.workdir / GNN_EXPORT).is_dir():
        raise ConfigError(f"--workdir {args.workdir}: no GNN export ({GNN_EXPORT}/); the merge "
                          f"table belongs to a GNN training run (`gnnpose-train` with a GNN "
                          f"config)")
    check_writable(args.workdir / MERGE_TABLE, "--workdir")


def main(argv: list[str] | None = None) -> None:
    """Parses the flags, tracks the split, fits and writes the table, prints its summary."""
    from gnnpose_jax.tracking.boxes import box_source
    from gnnpose_jax.tracking.config import tracker_config_for
    from gnnpose_jax.tracking.merge_fit import record_pairs
    from gnnpose_jax.tracking.networks import load_networks
    from gnnpose_jax.tracking.split import read_split, split_detections
    from gnnpose_jax.training.config import load_config_file

    args = build_parser().parse_args(argv)
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
    check_args(args)
    section = load_config_file(args.config).tracker.to_dict() if args.config else None
    sequences = read_split(args.data, args.split)
    detections = (split_detections(args.data, args.split, args.detections)
                  if args.boxes == "detections" else None)
    boxes_for = box_source(args.boxes, sequences, detections=detections, detector=args.detector,
                           conf=DEFAULT_CONF if args.conf is None else args.conf,
                           nms=DEFAULT_NMS if args.nms is None else args.nms, dtype=args.dtype)
    networks = load_networks(args.workdir, use_gnn=True, batch_size=args.batch_size,
                             max_tracks=args.max_tracks, flip_test=args.flip_test,
                             dtype=args.dtype)
    config = tracker_config_for(args.workdir, networks.gnn_spec, section)
    scored = record_pairs(networks, config, args.data, sequences, boxes_for, args.min_oks)
    table = scored.table(min_pairs=args.min_pairs)
    table.save(args.workdir / MERGE_TABLE)
    summary = table.summary()
    print(f"{scored.recorded} matched pairs on labeled frames of {args.split}, "
          f"{len(scored.annotated)} assigned to a GT person (OKS >= {args.min_oks})")
    for name in VISIBILITY:
        s = summary[name]
        print(f"{name} GT joints: {s['pairs']} pairs; right: estimate "
              f"{s['estimate_right']:.3f}, prediction {s['prediction_right']:.3f}; where a "
              f"cell decides ({s['decided']} pairs): the table's choice "
              f"{s['choice_right_where_decided']:.3f}, the estimate "
              f"{s['estimate_right_where_decided']:.3f}")
    print(f"wrote {args.workdir / MERGE_TABLE}")


if __name__ == "__main__":
    run_cli(main)
