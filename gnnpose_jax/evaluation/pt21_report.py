"""PoseTrack21 in one call: the kit's keypoint HOTA and mAP and poseval's keypoint MOTA on the
same files, the console tables `evaluate.py` prints, and which benchmark a GT path holds."""

from __future__ import annotations

import os
from pathlib import Path

from gnnpose_jax.data import posetrack as pt
from gnnpose_jax.data.posetrack21 import is_posetrack21
from gnnpose_jax.errors import DataError
from gnnpose_jax.evaluation.hota import SUMMARY_FIELDS, format_hota_table, keypoint_hota
from gnnpose_jax.evaluation.pt21 import Inputs, keypoint_map, labeled_view, load, prepare
from gnnpose_jax.evaluation.report import evaluate, format_table

#: `evaluate.py --benchmark` values. 2017 and 2018 score alike (poseval's AP and MOTA, either
#: layout); PoseTrack21 adds the kit's HOTA and mAP.
BENCHMARKS = ("posetrack2017", "posetrack2018", "posetrack21")


def detect_benchmark(ground_truth: str | os.PathLike) -> str:
    """The benchmark of a GT file, or of a GT folder's first `.json` file by name.

    "posetrack21" where the file says so (`is_posetrack21`: `person_id` or `has_labeled_person`,
    which every PoseTrack21 GT file has), else "posetrack2017" or "posetrack2018" by layout.

    Raises:
      DataError: one line: a missing path, a folder without `.json` files, or a file that is
        unreadable or of an unknown layout.
    """
    path = Path(ground_truth)
    if not path.exists():
        raise DataError(f"{path}: ground truth not found")
    if path.is_dir():
        path = pt.sequence_files(path)[0]
    data = pt.load_json(path)
    if is_posetrack21(data):
        return "posetrack21"
    return "posetrack" + pt.detect_format(data, str(path))


def evaluate_posetrack21(ground_truth: Inputs, predictions: Inputs, *,
                         fix_empty_frames: bool = False, per_alpha: bool = False,
                         per_sequence: bool = False, official_quirks: bool = True) -> dict:
    """Keypoint HOTA and mAP as the official PoseTrack21 kit, and poseval's keypoint MOTA.

    The files are read once. MOTA is `evaluate` on `pt21.labeled_view` of the GT, so that it
    scores the frames marked `is_labeled`, as HOTA and mAP do.

    Args:
      ground_truth: a folder of PoseTrack21 files, or sequences.
      predictions: a folder holding `<name>.json` per GT sequence, or sequences.
      fix_empty_frames: see `keypoint_hota` (the kit's issue #10 corrected).
      per_alpha: add the 19-threshold curves under `hota.per_alpha`.
      per_sequence: add each sequence's HOTA and MOTA under `per_sequence`.
      official_quirks: poseval's quirks in MOTA (see `evaluate`); HOTA and mAP always follow
        the kit.

    Returns:
      {"hota": keypoint_hota's fields, "ap": the mAP block ("ap_precision", "ap_recall": the
      kit's precision and recall), "mota": evaluate's MOTA block, "info": evaluate's info plus
      "fix_empty_frames" [, "per_sequence": {name: {"hota", "mota"}}]}, in percent.

    Raises:
      DataError: one line naming the file: see `pt21.load` and `pt21.prepare`.
    """
    gts, preds = load(ground_truth, predictions)
    prep = prepare(gts, preds)
    hota = keypoint_hota(prep, fix_empty_frames=fix_empty_frames, per_alpha=per_alpha,
                         per_sequence=per_sequence)
    scores = keypoint_map(prep)
    poseval = evaluate(labeled_view(gts), preds, per_sequence=per_sequence,
                       official_quirks=official_quirks)
    result = {"hota": {k: v for k, v in hota.items() if k != "per_sequence"},
              "ap": scores["ap"], "ap_precision": scores["precision"],
              "ap_recall": scores["recall"], "mota": poseval["mota"],
              "info": {**poseval["info"], "fix_empty_frames": fix_empty_frames}}
    if per_sequence:
        result["per_sequence"] = {
            name: {"hota": hota["per_sequence"][name],
                   "mota": poseval["per_sequence"][name]["mota"]}
            for name in prep.seq_names}
    return result


def format_posetrack21_table(result: dict) -> str:
    """The console tables of an `evaluate_posetrack21` result: HOTA and its parts per joint
    (`SUMMARY_FIELDS`), then mAP and MOTA per joint group."""
    fixed = ", empty frames corrected" if result["info"].get("fix_empty_frames") else ""
    return "\n".join([
        f"PoseTrack21 keypoint HOTA (mean over the 19 thresholds{fixed})",
        format_hota_table(result["hota"], SUMMARY_FIELDS),
        "",
        "PoseTrack21 mAP (AP) and keypoint MOTA (poseval, labeled frames)",
        format_table({"ap": result["ap"], "mota": result["mota"]})])
