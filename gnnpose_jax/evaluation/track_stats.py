"""How a tracker's output follows each ground-truth person (`benchmarks/track_report.py`).

Three groups of figures, each built on the matching of the AP and MOTA code:

- **Per GT track** (a GT track id within its sequence), from MOTA's joint matches
  (`mota.match_joints`, so the frames MOTA scores: by default all labeled frames but each
  sequence's last). Joint level, per (track, joint) as MOTA's accumulators: identity switches
  (their total is MOTA's switch count) and fragmentations (a joint's matched span interrupted by
  a miss, py-motmetrics' definition). Person level: in each frame the person is *covered* by the
  predicted id that matches most of its joints (ties: the lower id); over the track's frames
  this gives its length, the distinct predicted ids covering it, the longest run of consecutive
  frames covered by one id, switches (the covering id changes) and fragmentations (coverage
  lost and found again).
- **Poses spanning two people** (every labeled frame): each joint of an emitted pose goes to the
  GT person it is nearest to, if within half that person's head size (PCKh's d <= 0.5, head size
  as docs/spec/metrics.md §3); a pose spans two people when two GT people get >= 3 joints each.
  A joint counts for one person only, so a correct pose of someone standing in front of another
  is not counted.
- **PCKh@0.5 on visible and hidden GT joints** (every labeled frame): a GT joint is hidden when
  annotated with visibility 0 (the synthetic world's occluded joints, PoseTrack's invisible
  ones). Each GT person is compared with the pose the AP code assigns to it (`ap.assign_people`);
  `pckh` counts unassigned people's joints as misses, `pckh_assigned` only scores assigned ones.
"""

from __future__ import annotations

import numpy as np

from gnnpose_jax.data.types import Sequence
from gnnpose_jax.evaluation.ap import assign_people
from gnnpose_jax.evaluation.mota import match_joints
from gnnpose_jax.evaluation.pairs import Pairs, make_pairs
from gnnpose_jax.evaluation.prepare import Prepared, prepare

#: A pose spans two people when this many of its joints lie on each of two GT people.
SPAN_MIN_JOINTS = 3

#: Per-track fields, in table order.
TRACK_FIELDS = ("frames", "covered", "ids", "longest_run", "switches", "fragmentations",
                "joint_switches", "joint_fragmentations")


def track_report(gt_seqs: list[Sequence], pred_seqs: list[Sequence],
                 official_quirks: bool = True) -> dict:
    """Per-track and total tracking figures, spanning poses and visible/hidden PCKh.

    Args:
      gt_seqs: ground-truth sequences.
      pred_seqs: predictions, paired with the ground truth by name and frame position.
      official_quirks: as `evaluate` (MOTA skips each sequence's last labeled frame).

    Returns:
      {"tracks": [{sequence, track_id, frames, covered, ids, longest_run, switches,
      fragmentations, joint_switches, joint_fragmentations}, ...] (sequence order, then track
      id), "totals": {tracks, the same sums, ids_per_track (mean over covered tracks),
      longest_run_share (longest runs / frames)}, "spanning": {poses, spanning, share (percent),
      where: [{sequence, frame, track_id}]}, "pckh": {visible|hidden: {joints, matched, pckh,
      joints_assigned, matched_assigned, pckh_assigned}}}; NaN where undefined.

    Raises:
      DataError: as `prepare` (missing sequences, frame-count mismatches, no head box).
    """
    prep = prepare(gt_seqs, pred_seqs, official_quirks)
    pairs = make_pairs(prep)
    tracks = _tracks(prep, pairs, official_quirks)
    return {"tracks": tracks, "totals": _totals(tracks),
            "spanning": _spanning(prep, pairs, gt_seqs), "pckh": _pckh(prep, pairs)}


def _tracks(prep: Prepared, pairs: Pairs, official_quirks: bool) -> list[dict]:
    """The per-GT-track rows."""
    gt = prep.gt
    matches, switch = match_joints(prep, pairs, official_quirks)
    # The GT row of every match: GT ids are unique within a frame.
    span = int(max(gt.track_id.max(initial=0), matches.gt_id.max(initial=0))) + 1
    row_key = gt.frame.astype(np.int64) * span + gt.track_id
    by_key = np.argsort(row_key, kind="stable")
    row = by_key[np.searchsorted(row_key[by_key], matches.frame.astype(np.int64) * span
                                 + matches.gt_id)]
    matched = np.zeros(gt.present.shape, bool)
    matched[row, matches.joint] = True
    cover = _covering_ids(row, matches.pred_id, len(gt.frame))

    scored = ~prep.frame_last if official_quirks else np.ones(prep.num_frames, bool)
    rows = np.flatnonzero(scored[gt.frame] & gt.present.any(axis=1))
    seq = prep.frame_seq[gt.frame]
    # Rows of each track, in frame order: sequence, then track id, then frame.
    rows = rows[np.lexsort((gt.frame[rows], gt.track_id[rows], seq[rows]))]
    track_key = seq[rows].astype(np.int64) * span + gt.track_id[rows]
    tracks = np.split(rows, np.flatnonzero(track_key[1:] != track_key[:-1]) + 1) if len(rows) \
        else []
    switches_per_row = np.bincount(row[switch], minlength=len(gt.frame))
    out = []
    for r in tracks:
        out.append({"sequence": prep.seq_names[seq[r[0]]], "track_id": int(gt.track_id[r[0]]),
                    **_person_level(cover[r]),
                    "joint_switches": int(switches_per_row[r].sum()),
                    "joint_fragmentations": int(sum(_fragmentations(matched[r, j][gt.present[r, j]])
                                                    for j in range(matched.shape[1])))})
    return out


def _covering_ids(row: np.ndarray, pred_id: np.ndarray, num_rows: int) -> np.ndarray:
    """(num_rows,) the predicted id matching most joints of each GT row (ties: the lower id),
    -1 where none matches."""
    cover = np.full(num_rows, -1)
    if not len(row):
        return cover
    pairs, counts = np.unique(np.stack([row, pred_id], axis=1), axis=0, return_counts=True)
    best = np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))
    first = best[np.r_[True, pairs[best[1:], 0] != pairs[best[:-1], 0]]]
    cover[pairs[first, 0]] = pairs[first, 1]
    return cover


def _person_level(cover: np.ndarray) -> dict:
    """Length, coverage, ids, longest single-id run, switches and fragmentations of one track
    from its covering ids in frame order (-1: not covered)."""
    covered = cover >= 0
    ids = cover[covered]
    longest = run = 0
    for t, c in enumerate(cover):
        run = run + 1 if c >= 0 and t > 0 and cover[t - 1] == c else int(c >= 0)
        longest = max(longest, run)
    return {"frames": len(cover), "covered": int(covered.sum()), "ids": len(np.unique(ids)),
            "longest_run": longest, "switches": int(np.count_nonzero(ids[1:] != ids[:-1])),
            "fragmentations": _fragmentations(covered)}


def _fragmentations(matched: np.ndarray) -> int:
    """Times a matched span is interrupted: misses that start between the first and the last
    match (py-motmetrics' fragmentations)."""
    hit = np.flatnonzero(matched)
    if not len(hit):
        return 0
    inside = matched[hit[0]:hit[-1] + 1]
    return int(np.count_nonzero(inside[:-1] & ~inside[1:]))


def _totals(tracks: list[dict]) -> dict:
    """Sums over the tracks, the mean ids per covered track and the longest runs' share."""
    sums = {k: int(sum(t[k] for t in tracks)) for k in TRACK_FIELDS if k != "ids"}
    covered = [t["ids"] for t in tracks if t["covered"]]
    return {"tracks": len(tracks), **sums,
            "ids_per_track": float(np.mean(covered)) if covered else float("nan"),
            "longest_run_share": sums["longest_run"] / sums["frames"] if sums["frames"]
            else float("nan")}


def _spanning(prep: Prepared, pairs: Pairs, gt_seqs: list[Sequence]) -> dict:
    """Emitted poses that put >= SPAN_MIN_JOINTS joints on each of two GT people."""
    num_pred, num_joints = prep.pred.present.shape
    per_pred = np.diff(pairs.pred_start)
    slots = int(per_pred.max(initial=0))
    dist = np.full((num_pred, max(slots, 1), num_joints), np.inf)
    slot = np.arange(len(pairs.pred)) - pairs.pred_start[pairs.pred]
    dist[pairs.pred, slot] = np.where(pairs.match, pairs.dist, np.inf)
    nearest = np.argmin(dist, axis=1)  # (Np, J): first nearest GT slot on ties
    on_someone = np.isfinite(np.min(dist, axis=1))
    joints_on = np.zeros((num_pred, max(slots, 1)), int)
    p, j = np.nonzero(on_someone)
    np.add.at(joints_on, (p, nearest[p, j]), 1)
    spans = np.count_nonzero(joints_on >= SPAN_MIN_JOINTS, axis=1) >= 2
    emitted = prep.pred.present.any(axis=1)
    # prepare's labeled frames (those whose GT has people), in its order: the GT's.
    labeled = [(s.name, i) for s in gt_seqs for i, fr in enumerate(s.frames) if fr.people]
    where = [{"sequence": labeled[f][0], "frame": labeled[f][1],
              "track_id": int(prep.pred.track_id[k])}
             for k, f in zip(np.flatnonzero(spans), prep.pred.frame[spans], strict=True)]
    poses = int(emitted.sum())
    return {"poses": poses, "spanning": int(spans.sum()),
            "share": 100.0 * spans.sum() / poses if poses else float("nan"), "where": where}


def _pckh(prep: Prepared, pairs: Pairs) -> dict:
    """PCKh@0.5 of the assigned poses on visible and on hidden GT joints."""
    pred_to_gt = assign_people(prep, pairs)
    assigned = np.flatnonzero(pred_to_gt >= 0)
    matched = np.zeros(prep.gt.present.shape, bool)
    matched[pred_to_gt[assigned]] = pairs.match[pairs.index(assigned, pred_to_gt[assigned])]
    has_pose = np.zeros(len(prep.gt.frame), bool)
    has_pose[pred_to_gt[assigned]] = True
    out = {}
    for name, mask in (("visible", prep.gt.visible), ("hidden", ~prep.gt.visible)):
        joints = prep.gt.present & mask
        scored = joints & has_pose[:, None]
        n, n_assigned = int(joints.sum()), int(scored.sum())
        hit, hit_assigned = int((matched & joints).sum()), int((matched & scored).sum())
        out[name] = {"joints": n, "matched": hit, "pckh": hit / n if n else float("nan"),
                     "joints_assigned": n_assigned, "matched_assigned": hit_assigned,
                     "pckh_assigned": hit_assigned / n_assigned if n_assigned else float("nan")}
    return out


#: Rows of the totals table: label, and how to print a report's value.
_TOTAL_ROWS = (
    ("GT tracks", lambda r: f"{r['totals']['tracks']}"),
    ("GT person-frames scored", lambda r: f"{r['totals']['frames']}"),
    ("  covered by a predicted id", lambda r: f"{r['totals']['covered']}"),
    ("predicted ids per covered track", lambda r: f"{r['totals']['ids_per_track']:.2f}"),
    ("longest single-id run / frames", lambda r: f"{100 * r['totals']['longest_run_share']:.1f}%"),
    ("id switches, person level", lambda r: f"{r['totals']['switches']}"),
    ("fragmentations, person level", lambda r: f"{r['totals']['fragmentations']}"),
    ("id switches, joints (MOTA's)", lambda r: f"{r['totals']['joint_switches']}"),
    ("fragmentations, joints", lambda r: f"{r['totals']['joint_fragmentations']}"),
    ("emitted poses", lambda r: f"{r['spanning']['poses']}"),
    ("  spanning two people", lambda r: f"{r['spanning']['spanning']} "
                                        f"({r['spanning']['share']:.2f}%)"),
    ("PCKh visible joints: all/assigned", lambda r: _pckh_cell(r["pckh"]["visible"])),
    ("PCKh hidden joints: all/assigned", lambda r: _pckh_cell(r["pckh"]["hidden"])),
)


def _pckh_cell(block: dict) -> str:
    """`all / assigned` PCKh of one visibility class."""
    return f"{block['pckh']:.3f} / {block['pckh_assigned']:.3f}"


def format_totals(reports: dict[str, dict]) -> str:
    """The totals of one or more `track_report` results, side by side (one column each)."""
    width = max(14, *(len(n) for n in reports))
    label = max(len(r[0]) for r in _TOTAL_ROWS)
    lines = [f"{'':<{label}} | " + " | ".join(f"{n:>{width}}" for n in reports)]
    lines += [f"{name:<{label}} | " + " | ".join(f"{cell(r):>{width}}" for r in reports.values())
              for name, cell in _TOTAL_ROWS]
    return "\n".join(lines)


def format_tracks(reports: dict[str, dict]) -> str:
    """Per-track rows of one or more `track_report` results on the same ground truth: the
    track's frames, then for each run the frames covered, the predicted ids, the longest
    single-id run, switches and fragmentations (person level) and joint switches."""
    cols = ("covered", "ids", "longest_run", "switches", "fragmentations", "joint_switches")
    title = " ".join(f"{h:>4}" for h in ("cov", "ids", "run", "sw", "frag", "jsw"))
    lines = [f"{'sequence':<20} {'track':>5} {'frames':>6} | "
             + " | ".join(f"{n:<{len(title)}}" for n in reports),
             f"{'':<33} | " + " | ".join(title for _ in reports)]
    for rows in zip(*(r["tracks"] for r in reports.values()), strict=True):
        first = rows[0]
        lines.append(f"{first['sequence']:<20} {first['track_id']:>5} {first['frames']:>6} | "
                     + " | ".join(" ".join(f"{t[c]:>4}" for c in cols) for t in rows))
    return "\n".join(lines)
