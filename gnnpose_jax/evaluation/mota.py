"""Per-joint CLEAR-MOT counts (docs/spec/metrics.md §4), with the official toolkit's quirks.

The official toolkit feeds one py-motmetrics accumulator per sequence and joint. Each frame:
matches from earlier frames that are still candidates carry forward (each GT id keeps its last
matched prediction id), the rest are solved by a maximum-cardinality, minimum-total-distance
assignment, and a GT id matched to another prediction id than at its last match is a switch.

Most (frame, joint) cells are unambiguous: every object and hypothesis has at most one
candidate, so all candidates match whatever the history. Those are counted in bulk; only the
ambiguous cells run the sequential carry-forward + assignment, in frame order per accumulator.
Switches and the official MOTP's extra distance terms then follow from the match history,
vectorised.

Quirks reproduced: the last labeled frame of each sequence is not scored, and a labeled frame
with no predicted (or, after ignore regions, no GT) people counts 1 miss + 1 false positive
for every joint.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import linear_sum_assignment

from gnnpose_jax.evaluation.pairs import Pairs
from gnnpose_jax.evaluation.prepare import Prepared


@dataclasses.dataclass(frozen=True)
class MotCounts:
    """CLEAR-MOT counts per sequence and joint, each (S, J).

    Attributes:
      objects: GT joints scored.
      matches: matched pairs, switches included (motmetrics' `num_detections`).
      misses: unmatched GT joints.
      false_positives: unmatched predicted joints.
      switches: identity switches.
      sum_dist: sum of the matched pairs' distances.
      sum_dist_official: the official MOTP's sum (motmetrics' `events['D'].sum()`).
    """

    objects: np.ndarray
    matches: np.ndarray
    misses: np.ndarray
    false_positives: np.ndarray
    switches: np.ndarray
    sum_dist: np.ndarray
    sum_dist_official: np.ndarray


@dataclasses.dataclass(frozen=True)
class JointMatches:
    """Matched pairs, one row each: labeled frame, joint, GT id, prediction id, distance."""

    frame: np.ndarray
    joint: np.ndarray
    gt_id: np.ndarray
    pred_id: np.ndarray
    dist: np.ndarray


def _lap_costs(dist: np.ndarray) -> np.ndarray:
    """py-motmetrics' finite cost matrix: missing edges so expensive they are used last."""
    valid = np.isfinite(dist)
    if valid.all():
        return dist
    if not valid.any():
        return np.zeros_like(dist)
    edge = np.abs(dist[valid]).max() + 1
    return np.where(valid, dist, 2 * min(dist.shape) * edge + 1)


def solve_frame(oids: np.ndarray, hids: np.ndarray, dist: np.ndarray,
                last_match: dict[int, int]) -> list[tuple[int, int]]:
    """One accumulator update: carry forward still-valid matches, then assign the rest.

    Args:
      oids: (No,) GT track ids present in the frame, in GT order.
      hids: (Nh,) predicted track ids present in the frame, in prediction order.
      dist: (No, Nh) candidate distances, NaN where a pair may not match.
      last_match: GT id -> the prediction id of its last match (before this frame).

    Returns:
      Matched (row, column) index pairs.
    """
    dist = dist.copy()
    row_used = np.zeros(len(oids), bool)
    col_used = np.zeros(len(hids), bool)
    matches = []
    for i, oid in enumerate(oids.tolist()):
        previous = last_match.get(oid)
        if previous is None:
            continue
        cols = np.flatnonzero(~col_used & (hids == previous))
        if len(cols) and np.isfinite(dist[i, cols[0]]):
            row_used[i] = col_used[cols[0]] = True
            matches.append((i, int(cols[0])))
    dist[row_used, :] = np.nan
    dist[:, col_used] = np.nan
    if dist.size:
        rows, cols = linear_sum_assignment(_lap_costs(dist))
        matches.extend((int(r), int(c)) for r, c in zip(rows, cols, strict=True)
                       if np.isfinite(dist[r, c]))
    return matches


def _max_track(prep: Prepared) -> int:
    """One more than the largest track id on either side (for composite keys)."""
    return int(max(prep.gt.track_id.max(initial=0), prep.pred.track_id.max(initial=0))) + 1


def _history_key(acc: np.ndarray, track: np.ndarray, frame: np.ndarray,
                 num_frames: int, max_track: int) -> np.ndarray:
    """int64 sort key (accumulator, track id, frame)."""
    return (acc.astype(np.int64) * max_track + track) * (num_frames + 1) + frame


def _solve_ambiguous(prep: Prepared, pairs: Pairs, cells: np.ndarray, easy: JointMatches,
                     num_joints: int) -> JointMatches:
    """Runs the sequential update on the ambiguous cells, in frame order per accumulator."""
    max_track = _max_track(prep)
    nf = prep.num_frames
    easy_acc = prep.frame_seq[easy.frame] * num_joints + easy.joint
    easy_key = _history_key(easy_acc, easy.gt_id, easy.frame, nf, max_track)
    order = np.argsort(easy_key, kind="stable")
    easy_key, easy_pred = easy_key[order], easy.pred_id[order]
    gt_start = pairs.gt_start
    pred_start = prep.pred.frame_starts(nf)
    frame, joint = np.divmod(cells, num_joints)
    acc = prep.frame_seq[frame] * num_joints + joint
    solved: dict[tuple[int, int], tuple[int, int]] = {}  # (acc, GT id) -> (frame, pred id)
    rows: list[tuple[int, int, int, int, float]] = []
    for c in np.lexsort((frame, acc)).tolist():
        f, j, a = int(frame[c]), int(joint[c]), int(acc[c])
        gts = gt_start[f] + np.flatnonzero(prep.gt.present[gt_start[f]:gt_start[f + 1], j])
        preds = pred_start[f] + np.flatnonzero(prep.pred.present[pred_start[f]:pred_start[f + 1],
                                                                 j])
        index = pairs.index(np.repeat(preds, len(gts)), np.tile(gts, len(preds)))
        dist = np.where(pairs.match[index, j], pairs.dist[index, j], np.nan)
        dist = dist.reshape(len(preds), len(gts)).T
        oids, hids = prep.gt.track_id[gts], prep.pred.track_id[preds]
        last = {}
        query = _history_key(np.full(len(oids), a), oids, np.full(len(oids), f), nf, max_track)
        pos = np.searchsorted(easy_key, query) - 1
        for i, oid in enumerate(oids.tolist()):
            best_frame = -1
            if pos[i] >= 0 and easy_key[pos[i]] // (nf + 1) == query[i] // (nf + 1):
                best_frame = int(easy_key[pos[i]] % (nf + 1))
                last[oid] = int(easy_pred[pos[i]])
            seen = solved.get((a, oid))
            if seen is not None and seen[0] > best_frame:
                last[oid] = seen[1]
        for r, col in solve_frame(oids, hids, dist, last):
            solved[(a, int(oids[r]))] = (f, int(hids[col]))
            rows.append((f, j, int(oids[r]), int(hids[col]), float(dist[r, col])))
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 5
    return JointMatches(*(np.asarray(v, dtype=t)
                          for v, t in zip(cols, (int, int, int, int, float), strict=True)))


def _has_previous(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(N,) bool: the row has an earlier row of its group, rows being sorted by `order`."""
    has = np.zeros(len(order), bool)
    has[order[1:]] = groups[order[1:]] == groups[order[:-1]]
    return has


def _previous_value(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(N,) the value of the row before each row in `order` (its own value for the first)."""
    prev = values.copy()
    prev[order[1:]] = values[order[:-1]]
    return prev


def _history(m: JointMatches, acc: np.ndarray, max_track: int) -> tuple[np.ndarray, ...]:
    """Switch and official-MOTP event flags of every match, from the match history.

    Args:
      m: all matches.
      acc: (N,) accumulator (sequence, joint) index of each match.
      max_track: bound on track ids, for composite keys.

    Returns:
      switch, ascend, transfer, migrate: (N,) bool each, as py-motmetrics labels the events.
    """
    gt_key = acc.astype(np.int64) * max_track + m.gt_id
    pred_key = acc.astype(np.int64) * max_track + m.pred_id
    by_gt = np.lexsort((m.frame, gt_key))
    gt_seen = _has_previous(gt_key, by_gt)
    prev_pred = _previous_value(m.pred_id, by_gt)
    switch = gt_seen & (prev_pred != m.pred_id)
    carried = gt_seen & (prev_pred == m.pred_id)
    pred_seen = _has_previous(pred_key, np.lexsort((m.frame, pred_key)))
    ascend = switch & ~pred_seen
    # A prediction id "transfers" when its last *assigned* (not carried) GT id was another one.
    fresh = np.flatnonzero(~carried)
    by_pred = fresh[np.lexsort((m.frame[fresh], pred_key[fresh]))]
    transfer = np.zeros(len(acc), bool)
    transfer[by_pred[1:]] = (pred_key[by_pred[1:]] == pred_key[by_pred[:-1]]) & (
        m.gt_id[by_pred[1:]] != m.gt_id[by_pred[:-1]])
    migrate = transfer & ~gt_seen
    return switch, ascend, transfer, migrate


def _sum_by(index: np.ndarray, weights: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Sums weights (or counts) into a flat (S * J) histogram, reshaped to `shape`."""
    size = shape[0] * shape[1]
    return np.bincount(index, weights=weights, minlength=size)[:size].reshape(shape)


def _scored_frames(prep: Prepared, official_quirks: bool) -> tuple[np.ndarray, np.ndarray]:
    """(F,) bool each: the frames scored as 1 miss + 1 false positive per joint (no predicted
    or no GT people), and the frames scored normally (matched)."""
    nf = prep.num_frames
    gt_count = np.bincount(prep.gt.frame, minlength=nf)
    pred_count = np.bincount(prep.pred.frame, minlength=nf)
    scored = ~prep.frame_last if official_quirks else np.ones(nf, bool)
    dummy = scored & ((gt_count == 0) | (pred_count == 0)) & official_quirks
    return dummy, scored & ~dummy


def _match(prep: Prepared, pairs: Pairs, normal: np.ndarray) -> tuple[JointMatches, np.ndarray]:
    """Every match of the normally scored frames, and the (S, J) sum of the candidate pairs'
    distances (a term of the official MOTP)."""
    num_joints = prep.gt.present.shape[1]
    shape = (len(prep.seq_names), num_joints)
    pair_idx, joint = np.nonzero(pairs.match & normal[prep.pred.frame[pairs.pred]][:, None])
    gt, pred = pairs.gt[pair_idx], pairs.pred[pair_idx]
    dist = pairs.dist[pair_idx, joint]
    frame = prep.pred.frame[pred]
    raw_sum = _sum_by(prep.frame_seq[frame] * num_joints + joint, dist, shape)
    gt_degree = np.bincount(gt * num_joints + joint, minlength=len(prep.gt.frame) * num_joints)
    pred_degree = np.bincount(pred * num_joints + joint,
                              minlength=len(prep.pred.frame) * num_joints)
    cell = frame * num_joints + joint
    crowded = (gt_degree[gt * num_joints + joint] > 1) | (pred_degree[pred * num_joints + joint]
                                                          > 1)
    hard_cells = np.unique(cell[crowded])
    easy = ~np.isin(cell, hard_cells)
    easy_matches = JointMatches(frame[easy], joint[easy], prep.gt.track_id[gt[easy]],
                                prep.pred.track_id[pred[easy]], dist[easy])
    hard_matches = _solve_ambiguous(prep, pairs, hard_cells, easy_matches, num_joints)
    m = JointMatches(*(np.concatenate([a, b]) for a, b in zip(
        dataclasses.astuple(easy_matches), dataclasses.astuple(hard_matches), strict=True)))
    return m, raw_sum


def match_joints(prep: Prepared, pairs: Pairs,
                 official_quirks: bool = True) -> tuple[JointMatches, np.ndarray]:
    """Every matched (GT, predicted) joint pair that `clear_mot` counts, and which are switches.

    Args:
      prep: preprocessed data.
      pairs: all same-frame pairs with their distances and matches.
      official_quirks: as `clear_mot`.

    Returns:
      (matches, switch): the matches, and (N,) bool, True where the match is an identity switch
      (the GT id's previous match, in the same sequence and joint, had another prediction id).
    """
    m, _ = _match(prep, pairs, _scored_frames(prep, official_quirks)[1])
    num_joints = prep.gt.present.shape[1]
    return m, _history(m, prep.frame_seq[m.frame] * num_joints + m.joint, _max_track(prep))[0]


def clear_mot(prep: Prepared, pairs: Pairs, official_quirks: bool = True) -> MotCounts:
    """CLEAR-MOT counts per sequence and joint, as the official toolkit accumulates them.

    Args:
      prep: preprocessed data.
      pairs: all same-frame pairs with their distances and matches.
      official_quirks: skip each sequence's last labeled frame and count a frame without
        predicted (or GT) people as 1 miss + 1 false positive per joint. Without, every labeled
        frame is scored plainly.

    Returns:
      The counts.
    """
    num_joints = prep.gt.present.shape[1]
    shape = (len(prep.seq_names), num_joints)
    dummy, normal = _scored_frames(prep, official_quirks)

    dummies = np.bincount(prep.frame_seq[dummy], minlength=shape[0])[:, None] * np.ones(
        num_joints, int)
    gt_rows = normal[prep.gt.frame]
    objects = _cells_sum(prep.frame_seq[prep.gt.frame[gt_rows]], prep.gt.present[gt_rows],
                         shape) + dummies
    pred_rows = normal[prep.pred.frame]
    hyps = _cells_sum(prep.frame_seq[prep.pred.frame[pred_rows]], prep.pred.present[pred_rows],
                      shape) + dummies

    m, raw_sum = _match(prep, pairs, normal)
    index = prep.frame_seq[m.frame] * num_joints + m.joint
    switch, ascend, transfer, migrate = _history(m, index, _max_track(prep))
    matches = _sum_by(index, None, shape).astype(int)
    sum_dist = _sum_by(index, m.dist, shape)
    extra = m.dist * (ascend.astype(float) + transfer + migrate)
    return MotCounts(objects=objects, matches=matches, misses=objects - matches,
                     false_positives=hyps - matches,
                     switches=_sum_by(index, switch.astype(float), shape).astype(int),
                     sum_dist=sum_dist,
                     sum_dist_official=raw_sum + sum_dist + _sum_by(index, extra, shape))


def _cells_sum(seq: np.ndarray, present: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(S, J) int: present joints summed per sequence."""
    index = (seq[:, None] * shape[1] + np.arange(shape[1])).ravel()
    return _sum_by(index, present.ravel().astype(float), shape).astype(int)
