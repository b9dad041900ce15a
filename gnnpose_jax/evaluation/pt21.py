"""PoseTrack21: the official kit's preprocessing, and its keypoint mAP (`PosemAP`).

The kit (github.com/anDoer/PoseTrack21, `eval/posetrack21`, a modified TrackEval) scores every
frame the GT marks `is_labeled`, pairing frames by position. A joint is valid when x > 0 and
y > 0; the prediction's score plays no part. In a frame with GT ignore regions, joints strictly
inside a region are zeroed on both sides, then people with every joint inside, or left with
every joint at x <= 0 and y <= 0, are dropped; elsewhere people without valid joints stay (they
are people of the frame for HOTA's empty-frame rule). `prepare` does this once for HOTA
(`hota.py`) and mAP; docs/evaluation.md lists the kit's quirks.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data import posetrack21 as pt21
from gnnpose_jax.data.posetrack import MIN_SCORE
from gnnpose_jax.data.types import Person, Sequence
from gnnpose_jax.errors import DataError
from gnnpose_jax.evaluation.ap import PERCENT, assign_people, detection_labels, voc_ap
from gnnpose_jax.evaluation.inputs import warn_unscored
from gnnpose_jax.evaluation.pairs import make_pairs
from gnnpose_jax.evaluation.prepare import People, Prepared, _head_size
from gnnpose_jax.evaluation.regions import points_in_polygons
from gnnpose_jax.evaluation.report import _block

#: The kit's 15 joints in its order (slots of `joints.JOINT_NAMES`, ears left out), and the
#: column labels it prints.
KIT_SLOTS = np.array([s for s in range(joints.NUM_JOINTS) if s not in joints.UNANNOTATED_SLOTS])
KIT_JOINT_NAMES = tuple(joints.JOINT_NAMES[s] for s in KIT_SLOTS)
KIT_LABELS = ("Nose", "Neck", "Head", "LS", "RS", "LE", "RE", "LW", "RW", "LH", "RH", "LK", "RK",
              "LA", "RA")
#: Position of each `joints.EVAL_SLOTS` joint (the J axis of `Prepared`) in the kit's order.
EVAL_TO_KIT = np.array([list(joints.EVAL_SLOTS).index(s) for s in KIT_SLOTS])

Inputs = str | os.PathLike | list[Sequence]


def load(ground_truth: Inputs, predictions: Inputs) -> tuple[list[Sequence], list[Sequence]]:
    """GT and prediction sequences from folders of PoseTrack21 files (or lists, passed through).

    A prediction folder must hold `<name>.json` for every GT file; other files are not read
    (their count is logged as a warning).

    Raises:
      DataError: one line naming the file: a missing folder or prediction file, a malformed
        file, or a prediction file whose frames do not pair with the GT's (another count, or
        other image ids in labeled frames).
    """
    gts = ground_truth if isinstance(ground_truth, list) else pt21.read_sequences(ground_truth)
    if isinstance(predictions, list):
        return gts, predictions
    folder = Path(predictions)
    if not folder.is_dir():
        raise DataError(f"{folder}: predictions: expected a folder of <sequence>.json files")
    missing = [g.name for g in gts if not (folder / f"{g.name}.json").is_file()]
    if missing:
        raise DataError(f"{folder / (missing[0] + '.json')}: missing prediction file for "
                        f"ground-truth sequence {missing[0]}")
    warn_unscored(folder, [p.stem for p in folder.glob("*.json")], gts)
    preds = []
    for gt in gts:
        path = folder / f"{gt.name}.json"
        preds.append(pt21.read_sequence(path))
        _check_frames(gt, preds[-1], str(path))
    return gts, preds


def _check_frames(gt: Sequence, pred: Sequence, src: str) -> None:
    """DataError naming `src` unless the prediction has the GT's frame count and, in labeled
    frames, its image ids (the kit pairs frames by position and asserts equal ids)."""
    if len(pred.frames) != len(gt.frames):
        raise DataError(f"{src}: {len(pred.frames)} frames, but the ground truth has "
                        f"{len(gt.frames)}; frames pair by position")
    for i, (g, p) in enumerate(zip(gt.frames, pred.frames, strict=True)):
        if g.is_labeled and None not in (g.image_id, p.image_id) and g.image_id != p.image_id:
            raise DataError(f"{src}: frame {i}: field 'image_id': expected {g.image_id} as in "
                            f"the ground truth (frames pair by position), got {p.image_id}")


def labeled_view(gts: list[Sequence]) -> list[Sequence]:
    """Copies of GT sequences without people in the frames not marked `is_labeled`.

    poseval's semantics (`evaluate`, for keypoint MOTA) score the frames whose GT has people;
    PoseTrack21 GT also has (box-only) people in unlabeled frames. In this view the two agree.
    """
    return [dataclasses.replace(seq, frames=[
        f if f.is_labeled else dataclasses.replace(f, people=[]) for f in seq.frames])
        for seq in gts]


def _pairs(gts: list[Sequence], preds: list[Sequence]) -> list[tuple[Sequence, Sequence]]:
    """(GT, prediction) by name, in the kit's order (sorted file names); frames checked."""
    by_name = {p.name: p for p in preds}
    if not gts:
        raise DataError("ground truth: no sequences to evaluate")
    pairs = []
    for gt in sorted(gts, key=lambda s: s.name + ".json"):
        pred = by_name.get(gt.name)
        if pred is None:
            raise DataError(f"predictions: no sequence named {gt.name} (ground truth has one)")
        _check_frames(gt, pred, f"predictions for {gt.name}")
        pairs.append((gt, pred))
    return pairs


def _side(people: list[Person], frame: list[int], regions: dict[int, list[np.ndarray]],
          gt: bool) -> People:
    """One side's flat arrays with the kit's ignore-region rule applied."""
    n, num_joints = len(people), len(joints.EVAL_SLOTS)
    kp = np.stack([p.keypoints[joints.EVAL_SLOTS, :2] for p in people]) if n \
        else np.zeros((0, num_joints, 2))
    frame_arr = np.asarray(frame, dtype=int)
    keep = np.ones(n, bool)
    starts = np.searchsorted(frame_arr, sorted(regions))
    ends = np.searchsorted(frame_arr, sorted(regions), side="right")
    for f, lo, hi in zip(sorted(regions), starts, ends, strict=True):
        if hi == lo:
            continue
        inside = points_in_polygons(kp[lo:hi].reshape(-1, 2), regions[f]).reshape(hi - lo, -1)
        kp[lo:hi][inside] = 0.0
        keep[lo:hi] = ~inside.all(axis=1) & ~((kp[lo:hi] <= 0).all(axis=2)).all(axis=1)
    kept = [p for p, k in zip(people, keep, strict=True) if k]
    kp = kp[keep]
    if gt:
        score = np.zeros((len(kept), num_joints))
        head_size = np.array([_head_size(p) for p in kept], dtype=np.float64)
    else:
        score = np.array([np.full(num_joints, MIN_SCORE) if p.scores is None
                          else np.asarray(p.scores, np.float64)[joints.EVAL_SLOTS]
                          for p in kept]).reshape(len(kept), num_joints)
        head_size = np.full(len(kept), np.nan)
    return People(frame=frame_arr[keep], xy=kp, present=(kp > 0).all(axis=2),
                  track_id=np.array([p.track_id for p in kept], dtype=np.int64),
                  score=score, head_size=head_size)


def prepare(ground_truth: Inputs, predictions: Inputs) -> Prepared:
    """Reads (if given paths), pairs and preprocesses GT and predictions as the kit does.

    Sequences pair by name and are taken in the kit's order (sorted file names); frames pair
    by position, and the frames the GT marks `is_labeled` are scored.

    Args:
      ground_truth: a folder of PoseTrack21 files, or sequences.
      predictions: a folder holding `<name>.json` per GT sequence, or sequences (by name).

    Returns:
      The flat data (`Prepared`; `present` is the kit's joint validity, `frame_last` unused).

    Raises:
      DataError: one line: no GT sequence, a missing prediction, a frame-count mismatch, a
        labeled frame whose image ids differ, or a GT person with a valid joint but no head
        box in a labeled frame.
    """
    pairs = _pairs(*load(ground_truth, predictions))
    gt_people, gt_frame, pred_people, pred_frame = [], [], [], []
    regions: dict[int, list[np.ndarray]] = {}
    frame_seq = []
    for s, (gt, pred) in enumerate(pairs):
        for i, (g, p) in enumerate(zip(gt.frames, pred.frames, strict=True)):
            if not g.is_labeled:
                continue
            f = len(frame_seq)
            frame_seq.append(s)
            gt_people.extend(g.people)
            gt_frame.extend([f] * len(g.people))
            pred_people.extend(p.people)
            pred_frame.extend([f] * len(p.people))
            if g.ignore_regions:
                regions[f] = g.ignore_regions
            for k, person in enumerate(g.people):
                if person.head_box is None and (person.keypoints[:, :2] > 0).all(axis=1).any():
                    raise DataError(f"ground truth {gt.name}: frame {i} ({g.file_name}), person "
                                    f"{k}: field 'bbox_head': expected a head box on every "
                                    f"annotated person (PCKh needs it)")
    frame_seq = np.asarray(frame_seq, dtype=int)
    return Prepared(seq_names=[gt.name for gt, _ in pairs], frame_seq=frame_seq,
                    frame_last=np.zeros(len(frame_seq), bool),
                    gt=_side(gt_people, gt_frame, regions, gt=True),
                    pred=_side(pred_people, pred_frame, regions, gt=False), warnings=[])


def keypoint_map(ground_truth: Inputs | Prepared, predictions: Inputs | None = None) -> dict:
    """PoseTrack21 keypoint mAP, precision and recall as the kit's `PosemAP` computes them.

    poseval's AP on the kit's preprocessing: people are assigned per frame by PCKh@0.5,
    ignoring scores; every valid predicted joint is a detection, ranked by its score over all
    sequences; VOC AP per joint. Precision and recall are those of the whole ranked list. A
    joint without GT scores 0. Ties in score rank the later detection first (numpy's stable
    `argsort()[::-1]`).

    Args:
      ground_truth: a folder of PoseTrack21 files, sequences, or `prepare`'s result.
      predictions: a folder or sequences (not given with a `Prepared`).

    Returns:
      {"ap" | "precision" | "recall": {head, shoulder, elbow, wrist, hip, knee, ankle, total,
      per_joint}} in percent, `evaluate`'s layout; total is the mean of the 15 joints.

    Raises:
      DataError: see `prepare`.
    """
    prep = ground_truth if isinstance(ground_truth, Prepared) else \
        prepare(ground_truth, predictions)
    pairs = make_pairs(prep)
    labels = detection_labels(prep, pairs, assign_people(prep, pairs))
    positives = np.count_nonzero(prep.gt.present, axis=0)
    num_joints = len(positives)
    ap, precision, recall = np.zeros(num_joints), np.zeros(num_joints), np.zeros(num_joints)
    for j in range(num_joints):
        detected = prep.pred.present[:, j]
        hits = np.count_nonzero(labels[detected, j])
        if positives[j]:
            ap[j] = voc_ap(prep.pred.score[detected, j], labels[detected, j], positives[j])
        if detected.any():
            precision[j] = PERCENT * hits / np.count_nonzero(detected)
            recall[j] = PERCENT * hits / max(positives[j], 1)
    return {"ap": _block(ap), "precision": _block(precision), "recall": _block(recall)}
