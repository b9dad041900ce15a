"""`evaluate`: PoseTrack AP and MOTA laid out as docs/spec/metrics.md §5, and the console table."""

from __future__ import annotations

import logging
import math

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.evaluation.ap import PERCENT, ap_per_joint, assign_people, detection_labels
from gnnpose_jax.evaluation.mota import MotCounts, clear_mot
from gnnpose_jax.evaluation.pairs import PCK_THRESHOLD, make_pairs
from gnnpose_jax.evaluation.prepare import Prepared, prepare

log = logging.getLogger(__name__)


#: Printed groups: mean of their joints (NaN if any is NaN, as the official table).
GROUPS = {
    "head": ("head_top", "head_bottom", "nose"),
    "shoulder": ("right_shoulder", "left_shoulder"),
    "elbow": ("right_elbow", "left_elbow"),
    "wrist": ("right_wrist", "left_wrist"),
    "hip": ("right_hip", "left_hip"),
    "knee": ("right_knee", "left_knee"),
    "ankle": ("right_ankle", "left_ankle"),
}
_TABLE_HEADER = ("Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl", "Total")
_COUNT_NAMES = ("objects", "matches", "misses", "false_positives", "switches")


def _block(values: np.ndarray) -> dict:
    """Groups, total (mean of the non-NaN joints) and per_joint of a (J,) percent array."""
    per_joint = dict(zip(joints.EVAL_JOINT_NAMES, (float(v) for v in values), strict=True))
    out = {g: float(np.mean([per_joint[n] for n in names])) for g, names in GROUPS.items()}
    finite = values[~np.isnan(values)]
    out["total"] = float(finite.mean()) if len(finite) else math.nan
    out["per_joint"] = per_joint
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den in percent, NaN where den is 0."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, PERCENT * num / np.where(den > 0, den, 1), math.nan)


def _mota_block(objects: np.ndarray, matches: np.ndarray, misses: np.ndarray,
                false_positives: np.ndarray, switches: np.ndarray, sum_dist: np.ndarray,
                sum_dist_official: np.ndarray) -> dict:
    """The `mota` block from (J,) per-joint counts (summed over the sequences wanted)."""
    errors = misses + switches + false_positives
    mota = PERCENT - _ratio(errors, objects)
    with np.errstate(divide="ignore", invalid="ignore"):
        motp = np.where(matches > 0, PERCENT * (1 - sum_dist_official / np.maximum(matches, 1)),
                        0.0)
        motp_matched = np.where(matches > 0, PERCENT * (1 - sum_dist / np.maximum(matches, 1)),
                                0.0)
    out = _block(mota)
    for name, values in (("motp", motp), ("motp_matched", motp_matched),
                         ("precision", _ratio(matches, matches + false_positives)),
                         ("recall", _ratio(matches, objects))):
        finite = values[~np.isnan(values)]
        out[name] = float(finite.mean()) if len(finite) else math.nan
        out.setdefault("per_joint_detail", {})[name] = dict(
            zip(joints.EVAL_JOINT_NAMES, (float(v) for v in values), strict=True))
    counts = dict(zip(_COUNT_NAMES, (objects, matches, misses, false_positives, switches),
                      strict=True))
    out["counts"] = {name: {**dict(zip(joints.EVAL_JOINT_NAMES, (int(v) for v in c), strict=True)),
                            "total": int(np.sum(c))} for name, c in counts.items()}
    return out


def _mota_for(counts: MotCounts, rows: np.ndarray | slice) -> dict:
    """The `mota` block of some sequences (rows of the (S, J) counts)."""
    return _mota_block(*(np.asarray(getattr(counts, f))[rows].sum(axis=0) for f in (
        "objects", "matches", "misses", "false_positives", "switches", "sum_dist",
        "sum_dist_official")))


def _per_sequence(prep: Prepared, labels: np.ndarray, counts: MotCounts) -> dict:
    """AP and MOTA of each sequence on its own, as the official `--saveEvalPerSequence`."""
    out = {}
    pred_seq = prep.frame_seq[prep.pred.frame]
    gt_seq = prep.frame_seq[prep.gt.frame]
    for s, name in enumerate(prep.seq_names):
        ap = ap_per_joint(prep, labels, pred_mask=pred_seq == s, gt_mask=gt_seq == s)
        out[name] = {"ap": _block(ap), "mota": _mota_for(counts, slice(s, s + 1))}
    return out


def evaluate(gt_seqs: list[Sequence], pred_seqs: list[Sequence], per_sequence: bool = False,
             threshold: float = PCK_THRESHOLD, official_quirks: bool = True) -> dict:
    """PoseTrack AP and MOTA, the official toolkit's semantics and quirks (docs/spec/metrics.md).

    Args:
      gt_seqs: ground-truth sequences; AP pools detections in this order.
      pred_seqs: predictions, paired with the ground truth by sequence name and frame position.
      per_sequence: also report every sequence on its own under `per_sequence`.
      threshold: PCKh threshold on d = distance / (0.6 x head-box diagonal), inclusive.
      official_quirks: reproduce the official toolkit's quirks (default): MOTA skips each
        sequence's last labeled frame, a frame without predicted people counts 1 miss + 1 false
        positive per joint, and people without points are only dropped in frames with ignore
        regions. False scores every labeled frame plainly.

    Returns:
      {"ap": {head, shoulder, elbow, wrist, hip, knee, ankle, total, per_joint},
       "mota": {the same keys, motp, motp_matched, precision, recall, per_joint_detail,
                counts: {objects, matches, misses, false_positives, switches}},
       "info": {sequences, labeled_frames, gt_people, predicted_people, warnings}
       [, "per_sequence": {name: {"ap": ..., "mota": ...}}]}. Percent values; NaN where
      undefined (no GT joints).

    Raises:
      DataError: missing prediction sequences, frame-count mismatches, GT people with points
        but no head box.
    """
    prep = prepare(gt_seqs, pred_seqs, official_quirks)
    for line in prep.warnings:
        log.warning(line)
    pairs = make_pairs(prep, threshold)
    labels = detection_labels(prep, pairs, assign_people(prep, pairs))
    counts = clear_mot(prep, pairs, official_quirks)
    result = {
        "ap": _block(ap_per_joint(prep, labels)),
        "mota": _mota_for(counts, slice(None)),
        "info": {"sequences": len(prep.seq_names), "labeled_frames": prep.num_frames,
                 "gt_people": len(prep.gt.frame), "predicted_people": len(prep.pred.frame),
                 "warnings": list(prep.warnings)},
    }
    if per_sequence:
        result["per_sequence"] = _per_sequence(prep, labels, counts)
    return result


def to_json(value: object) -> object:
    """A copy of a result with NaN/inf as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value: float | None) -> str:
    """One table cell, official style (`%1.1f`, right-aligned in 5)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "  nan"
    return f"{value:5.1f}"


def format_table(result: dict) -> str:
    """The familiar PoseTrack console table of an `evaluate` result.

    Args:
      result: `evaluate`'s output (or its `to_json` copy).

    Returns:
      Three lines: header, AP row, MOTA row, then a line with MOTP, precision and recall.
    """
    keys = (*GROUPS, "total")
    lines = ["Metric | " + " | ".join(f"{h:>5}" for h in _TABLE_HEADER)]
    for label, block in (("AP", result["ap"]), ("MOTA", result["mota"])):
        lines.append(f"{label:<6} | " + " | ".join(_cell(block[k]) for k in keys))
    mota = result["mota"]
    lines.append(f"MOTP {_cell(mota['motp']).strip()} (matched pairs only: "
                 f"{_cell(mota['motp_matched']).strip()}) | Precision "
                 f"{_cell(mota['precision']).strip()} | Recall {_cell(mota['recall']).strip()}")
    return "\n".join(lines)


def format_comparison(baseline: dict, other: dict, names: tuple[str, str] = ("baseline", "gnn")
                      ) -> str:
    """Two results side by side, AP and MOTA rows of each and their difference (other − base)."""
    keys = (*GROUPS, "total")
    lines = ["Metric        | " + " | ".join(f"{h:>5}" for h in _TABLE_HEADER)]
    for metric, label in (("ap", "AP"), ("mota", "MOTA")):
        for name, result in zip(names, (baseline, other), strict=True):
            row = " | ".join(_cell(result[metric][k]) for k in keys)
            lines.append(f"{label + ' ' + name:<13} | {row}")
        diff = " | ".join(f"{other[metric][k] - baseline[metric][k]:+5.1f}" for k in keys)
        lines.append(f"{label + ' diff':<13} | {diff}")
    return "\n".join(lines)
