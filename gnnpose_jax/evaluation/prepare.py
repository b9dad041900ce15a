"""Preprocessing (docs/spec/metrics.md §2): labeled frames, ignore regions, empty people; arrays.

Everything downstream works on flat arrays of all people of all labeled frames, grouped frame by
frame in file order, with J = 15 evaluated joints in PoseTrack 2017 order (`joints.EVAL_SLOTS`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gnnpose_jax.data import joints
from gnnpose_jax.data.posetrack import MIN_SCORE
from gnnpose_jax.data.types import Person, Sequence
from gnnpose_jax.errors import DataError
from gnnpose_jax.evaluation.regions import points_in_polygons

#: Head size = HEAD_SIZE_FACTOR x the diagonal of the GT head box.
HEAD_SIZE_FACTOR = 0.6


@dataclasses.dataclass(frozen=True)
class People:
    """The people of all labeled frames, frame by frame (N people, J evaluated joints).

    Attributes:
      frame: (N,) int labeled-frame index, non-decreasing.
      xy: (N, J, 2) float64 joint positions.
      present: (N, J) bool: the joint exists (after ignore regions).
      track_id: (N,) int.
      score: (N, J) float64 joint scores (predictions; MIN_SCORE where missing).
      head_size: (N,) float64 (ground truth; NaN for predictions).
      visible: (N, J) bool: the joint's stored visibility flag is set (v > 0); a present joint
        without it is annotated but hidden. None where not read (PoseTrack21 scoring).
    """

    frame: np.ndarray
    xy: np.ndarray
    present: np.ndarray
    track_id: np.ndarray
    score: np.ndarray
    head_size: np.ndarray
    visible: np.ndarray | None = None

    def frame_starts(self, num_frames: int) -> np.ndarray:
        """(F + 1,) int: the people of labeled frame f are `starts[f]:starts[f + 1]`."""
        return np.searchsorted(self.frame, np.arange(num_frames + 1))


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Ground truth and predictions after preprocessing.

    Attributes:
      seq_names: (S,) names of the evaluated sequences, in order.
      frame_seq: (F,) int sequence index of each labeled frame.
      frame_last: (F,) bool: the last labeled frame of its sequence.
      gt: ground-truth people.
      pred: predicted people.
      warnings: one line per thing the user should know (skipped sequences, missing scores).
    """

    seq_names: list[str]
    frame_seq: np.ndarray
    frame_last: np.ndarray
    gt: People
    pred: People
    warnings: list[str]

    @property
    def num_frames(self) -> int:
        """F, the number of labeled frames."""
        return len(self.frame_seq)


def _stack_people(people: list[Person], frame: list[int]) -> tuple[np.ndarray, ...]:
    """(N,) frame, (N, J, 3) keypoints, (N,) track ids of a list of people."""
    if not people:
        return np.zeros(0, int), np.zeros((0, len(joints.EVAL_SLOTS), 3)), np.zeros(0, int)
    kp = np.stack([p.keypoints for p in people])[:, joints.EVAL_SLOTS]
    return np.asarray(frame, int), kp.astype(np.float64), np.array([p.track_id for p in people])


def _pair_sequences(gt_seqs: list[Sequence],
                    pred_seqs: list[Sequence]) -> list[tuple[Sequence, Sequence]]:
    """Pairs each GT sequence with the prediction of the same name, frame counts checked."""
    by_name = {s.name: s for s in pred_seqs}
    pairs = []
    for gt in gt_seqs:
        pred = by_name.get(gt.name)
        if pred is None:
            raise DataError(f"predictions: no sequence named {gt.name} (ground truth has one)")
        if len(pred.frames) != len(gt.frames):
            raise DataError(f"predictions for {gt.name}: {len(pred.frames)} frames, but the "
                            f"ground truth has {len(gt.frames)}; frames pair by position")
        pairs.append((gt, pred))
    return pairs


def _apply_regions(kp: np.ndarray, frame: np.ndarray, regions: dict[int, list[np.ndarray]],
                   present: np.ndarray) -> None:
    """Clears `present` for points strictly inside their frame's ignore regions (in place)."""
    if not regions or not len(frame):
        return
    starts = np.searchsorted(frame, np.array(sorted(regions)))
    ends = np.searchsorted(frame, np.array(sorted(regions)), side="right")
    for f, lo, hi in zip(sorted(regions), starts, ends, strict=True):
        if hi > lo:
            inside = points_in_polygons(kp[lo:hi, :, :2].reshape(-1, 2), regions[f])
            present[lo:hi] &= ~inside.reshape(hi - lo, -1)


def _people(people: list[Person], frame: list[int], regions: dict[int, list[np.ndarray]],
            heads: bool, keep_pointless: bool) -> People:
    """Flat arrays of one side, ignore regions applied, people without points dropped.

    With `keep_pointless`, people without points are dropped only in frames with ignore regions
    (the official toolkit's behaviour on 2018 files, see `prepare`).
    """
    frame_arr, kp, track = _stack_people(people, frame)
    present = np.any(kp != 0.0, axis=2)
    _apply_regions(kp, frame_arr, regions, present)
    keep = present.any(axis=1)
    if keep_pointless and len(frame_arr):
        keep |= ~np.isin(frame_arr, np.array(sorted(regions), dtype=int))
    kept = [p for p, k in zip(people, keep, strict=True) if k]
    if heads:
        head_size = np.array([_head_size(p) for p in kept], dtype=np.float64)
        score = np.zeros((len(kept), len(joints.EVAL_SLOTS)))
    else:
        head_size = np.full(len(kept), np.nan)
        score = np.array([np.full(len(joints.EVAL_SLOTS), MIN_SCORE) if p.scores is None
                          else np.asarray(p.scores, np.float64)[joints.EVAL_SLOTS]
                          for p in kept]).reshape(len(kept), len(joints.EVAL_SLOTS))
    return People(frame=frame_arr[keep], xy=kp[keep, :, :2], present=present[keep],
                  track_id=track[keep], score=score, head_size=head_size,
                  visible=kp[keep, :, 2] > 0)


def _head_size(person: Person) -> float:
    """0.6 x the head-box diagonal (NaN without a head box; checked by the caller)."""
    if person.head_box is None:
        return np.nan
    x1, y1, x2, y2 = (float(v) for v in person.head_box)
    dx, dy = x2 - x1, y2 - y1
    return HEAD_SIZE_FACTOR * float(np.sqrt(dx * dx + dy * dy))


def prepare(gt_seqs: list[Sequence], pred_seqs: list[Sequence],
            official_quirks: bool = True) -> Prepared:
    """Pairs sequences by name and frames by position, then applies docs/spec/metrics.md §2.

    A frame is labeled when its GT has people. Points strictly inside the GT frame's ignore
    regions are removed on both sides, then people without points are dropped. Official quirk
    (kept with `official_quirks`): poseval converts every 2018 person to a point list, possibly
    empty, and drops people left without points only in frames with ignore regions; elsewhere
    they stay, score nothing, but count as people of the frame (which decides MOTA's
    no-predictions rule).

    Args:
      gt_seqs: ground-truth sequences (evaluation order).
      pred_seqs: predicted sequences; each GT sequence needs one of the same name with the same
        number of frames (extra ones are ignored).
      official_quirks: reproduce the official toolkit where it departs from the plain rules.

    Returns:
      The flat, preprocessed data.

    Raises:
      DataError: a missing prediction, a frame-count mismatch, or a GT person with points but no
        head box.
    """
    gt_people, gt_frame, pred_people, pred_frame = [], [], [], []
    regions: dict[int, list[np.ndarray]] = {}
    frame_seq, warnings, where = [], [], []
    pairs = _pair_sequences(gt_seqs, pred_seqs)
    for s, (gt, pred) in enumerate(pairs):
        labeled = [i for i, fr in enumerate(gt.frames) if fr.people]
        if not labeled:
            warnings.append(f"sequence {gt.name}: no labeled frame; nothing to evaluate")
        elif len(labeled) == 1 and official_quirks:
            warnings.append(f"sequence {gt.name}: a single labeled frame; skipped by MOTA "
                            f"(the last labeled frame is never scored)")
        for i in labeled:
            f = len(frame_seq)
            frame_seq.append(s)
            where.append((gt.name, i))
            gt_people.extend(gt.frames[i].people)
            gt_frame.extend([f] * len(gt.frames[i].people))
            pred_people.extend(pred.frames[i].people)
            pred_frame.extend([f] * len(pred.frames[i].people))
            if gt.frames[i].ignore_regions:
                regions[f] = gt.frames[i].ignore_regions
    frame_seq = np.asarray(frame_seq, dtype=int)
    frame_last = np.append(frame_seq[1:] != frame_seq[:-1], True) if len(frame_seq) else \
        np.zeros(0, bool)
    gt_flat = _people(gt_people, gt_frame, regions, heads=True, keep_pointless=official_quirks)
    pred_flat = _people(pred_people, pred_frame, regions, heads=False,
                        keep_pointless=official_quirks)
    no_head = np.isnan(gt_flat.head_size) & gt_flat.present.any(axis=1)
    if no_head.any():
        name, i = where[int(gt_flat.frame[np.argmax(no_head)])]
        raise DataError(f"ground truth {name}: frame {i}: field 'bbox_head': expected a head box "
                        f"on every annotated person (PCKh needs it)")
    missing = sum(p.scores is None for p in pred_people)
    if missing:
        warnings.append(f"{missing} predicted people have no joint scores; their joints score "
                        f"{MIN_SCORE:g}")
    return Prepared(seq_names=[g.name for g, _ in pairs], frame_seq=frame_seq,
                    frame_last=frame_last, gt=gt_flat, pred=pred_flat, warnings=warnings)
