"""Loading ground truth and predictions for evaluation, paired by file (sequence) name."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from gnnpose_jax.data.posetrack import read_sequence, read_sequences
from gnnpose_jax.data.types import Frame, Sequence
from gnnpose_jax.errors import DataError


def load_for_evaluation(ground_truth: str | os.PathLike, predictions: str | os.PathLike,
                        positional_pairing: bool = False
                        ) -> tuple[list[Sequence], list[Sequence]]:
    """Reads GT and predictions and pairs them: one prediction per GT sequence, same name.

    Frames pair by position, as officially; unless `positional_pairing`, paired frames must
    also name the same image (`same_image`).

    Args:
      ground_truth: a folder with one JSON per sequence, or a combined file.
      predictions: a folder holding `<name>.json` for every GT sequence, or a combined file
        holding every GT sequence; prediction files (sequences) of no GT sequence are not
        read, and their count is logged as a warning (`warn_unscored`).
      positional_pairing: pair frames by position alone, as the official toolkit does.

    Returns:
      (gt, pred): equally long lists, pred[i] paired with gt[i], frame counts equal.

    Raises:
      DataError: one line naming the file (and frame): a missing path or prediction file, a
        prediction file without `annotations`, a frame-count mismatch, paired frames naming
        different images, or any malformed file.
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
        preds = [read_sequence(f, require_annotations=True) for f in pred_files]
        warn_unscored(pred_path, [p.stem for p in pred_path.glob("*.json")], gt_seqs)
    else:
        by_name = {s.name: s for s in read_sequences(pred_path, require_annotations=True)}
        missing = [s.name for s in gt_seqs if s.name not in by_name]
        if missing:
            raise DataError(f"{pred_path}: no predictions for ground-truth sequence {missing[0]}")
        preds = [by_name[s.name] for s in gt_seqs]
        warn_unscored(pred_path, by_name, gt_seqs)
        pred_files = [pred_path] * len(gt_seqs)
    for gt, pred, file in zip(gt_seqs, preds, pred_files, strict=True):
        gt_file = gt_path / f"{gt.name}.json" if gt_path.is_dir() else gt_path
        if len(pred.frames) != len(gt.frames):
            raise DataError(f"{file}: sequence {gt.name} has {len(pred.frames)} frames, but "
                            f"the ground truth {gt_file} has {len(gt.frames)}; frames pair by "
                            f"position")
        if positional_pairing:
            continue
        for i, (g, p) in enumerate(zip(gt.frames, pred.frames, strict=True)):
            if not same_image(g, p):
                raise DataError(
                    f"{file}: sequence {gt.name} frame {i} is {_describe(p)}, but frame {i} of "
                    f"the ground truth {gt_file} is {_describe(g)}; frames pair by position: "
                    f"order them as the ground truth, or pass --positional-pairing to score "
                    f"them as the official toolkit would")
    return gt_seqs, preds


def warn_unscored(predictions: Path, names: Iterable[str], gt_seqs: list[Sequence]) -> None:
    """Warns of prediction sequences `names` (in `predictions`) that no GT sequence has:
    they are not scored, which a misnamed file or the wrong GT folder would explain."""
    extra = sorted(set(names) - {s.name for s in gt_seqs})
    if extra:
        logging.getLogger(__name__).warning(
            "%s: %d prediction sequence(s) have no ground truth and are not scored (such as "
            "%s; the ground truth has %d sequences)", predictions, len(extra), extra[0],
            len(gt_seqs))


def same_image(gt: Frame, pred: Frame) -> bool:
    """Whether two frames name the same image.

    Image ids must be equal where both frames have one, and file names equal in their trailing
    path parts (`images/val/SEQ/000001.jpg` and `SEQ/000001.jpg` agree).
    """
    if gt.image_id is not None and pred.image_id is not None and gt.image_id != pred.image_id:
        return False
    a, b = PurePosixPath(gt.file_name).parts, PurePosixPath(pred.file_name).parts
    n = min(len(a), len(b))
    return a[len(a) - n:] == b[len(b) - n:]


def _describe(frame: Frame) -> str:
    """`file_name (image id N)` of a frame, for messages."""
    return frame.file_name + (f" (image id {frame.image_id})" if frame.image_id is not None
                              else "")
