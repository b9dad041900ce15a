"""Loading ground truth and predictions for evaluation, paired by file (sequence) name."""

from __future__ import annotations

import os
from pathlib import Path

from gnnpose_jax.data.posetrack import read_sequence, read_sequences
from gnnpose_jax.data.types import Sequence
from gnnpose_jax.errors import DataError


def load_for_evaluation(ground_truth: str | os.PathLike,
                        predictions: str | os.PathLike) -> tuple[list[Sequence], list[Sequence]]:
    """Reads GT and predictions and pairs them: one prediction per GT sequence, same name.

    Args:
      ground_truth: a folder with one JSON per sequence, or a combined file.
      predictions: a folder holding `<name>.json` for every GT sequence (other files are not
        read), or a combined file holding every GT sequence.

    Returns:
      (gt, pred): equally long lists, pred[i] paired with gt[i], frame counts equal.

    Raises:
      DataError: one line naming the file (and frame): a missing path or prediction file, a
        frame-count mismatch, or any malformed file.
    """
    gt_path, pred_path = Path(ground_truth), Path(predictions)
    for path, what in ((gt_path, "ground truth"), (pred_path, "predictions")):
        if not path.exists():
            raise DataError(f"{path}: {what} not found")
    gt_seqs = read_sequences(gt_path)
    if pred_path.is_dir():
        pred_files = [pred_path / f"{seq.name}.json" for seq in gt_seqs]
        for seq, file in zip(gt_seqs, pred_files, strict=True):
            if not file.is_file():
                raise DataError(f"{file}: missing prediction file for ground-truth sequence "
                                f"{seq.name}")
        preds = [read_sequence(f) for f in pred_files]
    else:
        by_name = {s.name: s for s in read_sequences(pred_path)}
        missing = [s.name for s in gt_seqs if s.name not in by_name]
        if missing:
            raise DataError(f"{pred_path}: no predictions for ground-truth sequence {missing[0]}")
        preds = [by_name[s.name] for s in gt_seqs]
        pred_files = [pred_path] * len(gt_seqs)
    for gt, pred, file in zip(gt_seqs, preds, pred_files, strict=True):
        if len(pred.frames) != len(gt.frames):
            gt_file = gt_path / f"{gt.name}.json" if gt_path.is_dir() else gt_path
            raise DataError(f"{file}: sequence {gt.name} has {len(pred.frames)} frames, but "
                            f"the ground truth {gt_file} has {len(gt.frames)}; frames pair by "
                            f"position")
    return gt_seqs, preds
