"""PoseTrack21 keypoint HOTA, as the official kit's `HOTAeypoints` computes it, vectorised.

Per labeled frame and joint, GT and predicted people are matched by a Hungarian assignment on
the similarity S = max(0, 1 - d / 0.5001) alone, d = |gt - pred| / (0.6 x GT head-box
diagonal), each joint on its own. At each of 19 thresholds alpha = 0.05, ..., 0.95 a matched
pair with S >= alpha is a true positive; TP, FN, FP, the sum of S over TPs and, per (GT id,
predicted id, joint), the match counts and the runs of consecutive matches accumulate per
sequence. Then, per sequence, joint and alpha:

    DetA = TP / (TP + FN + FP), DetRe = TP / (TP + FN), DetPr = TP / (TP + FP)
    AssA = sum over id pairs of c^2 / (n_gt + n_pred - c) / TP   (AssRe: c^2 / n_gt, AssPr:
    c^2 / n_pred; c matches of the pair, n_gt and n_pred valid joints of each id)
    FragA = as AssA with the sum of squared run lengths for c^2
    LocA = sum of S / TP (1 without TPs), HOTA = sqrt(DetA AssA), RHOTA = sqrt(DetRe AssA),
    FA-HOTA = sqrt(DetA sqrt(AssA FragA)), FA-RHOTA = sqrt(DetRe sqrt(AssA FragA)),

all denominators at least 1. Each sequence gets a 16th "total" column: the sum of the joints'
counts and the mean of their ratios. Sequences combine by summing counts and TP-weighting
AssA, AssRe, AssPr, FragA and LocA, column by column (total included), and the ratios are then
recomputed from the combined values. Reported values are means over the 19 alphas.

Where the matching is decided without a choice (each joint's positive similarities form a
matching), it is read off directly; elsewhere scipy's `linear_sum_assignment` runs on the very
matrix the kit builds, so ties resolve the same way.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from gnnpose_jax.evaluation.ap import PERCENT
from gnnpose_jax.evaluation.pairs import Pairs, make_pairs
from gnnpose_jax.evaluation.prepare import Prepared
from gnnpose_jax.evaluation.pt21 import EVAL_TO_KIT, KIT_JOINT_NAMES, KIT_LABELS, Inputs, prepare

#: The kit's 19 thresholds (its own `np.arange`, so the floats are the same).
ALPHAS = np.arange(0.05, 0.99, 0.05)
#: S = max(0, SLOPE x d + 1): linear, 0 beyond PCKh 0.5 (the kit's 0.5001).
SLOPE = -1 / 0.5001
#: A pair counts at alpha when S >= alpha - EPS.
EPS = np.finfo(float).eps
#: Reported fields, in the kit's order, and the count fields of the per-alpha curves.
FIELDS = ("HOTA", "DetA", "AssA", "FragA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "RHOTA",
          "FA-HOTA", "FA-RHOTA")
COUNTS = ("TP", "FN", "FP")
#: The rows `evaluate.py` prints (issue 13); OUT.json holds every field.
SUMMARY_FIELDS = ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr", "FA-HOTA")
#: LocA's floor on numerator and denominator (1 where there is no TP).
_LOCA_FLOOR = 1e-10
_ID_SHIFT = 32


def _similarity(pairs: Pairs) -> np.ndarray:
    """(M, J) S of every same-frame pair; 0 where a side lacks the joint (or d is NaN)."""
    with np.errstate(invalid="ignore"):
        sim = np.maximum(SLOPE * pairs.dist + 1, 0)
    return np.where(np.isnan(sim), 0.0, sim)


def _matches(prep: Prepared, pairs: Pairs, sim: np.ndarray) -> tuple[np.ndarray, ...]:
    """The Hungarian matches with S > 0 of every (labeled frame, joint): (gt, pred, joint, S).

    A (frame, joint) cell whose positive entries share no row or column is matched as they
    are: every optimal assignment contains them all, and zero entries never count. Other cells
    go to `linear_sum_assignment` on the kit's matrix (-S, GT rows, predictions as columns, in
    file order).
    """
    num_joints = sim.shape[1]
    m, j = np.nonzero(sim > 0)
    g, p = pairs.gt[m], pairs.pred[m]
    rows = np.bincount(g * num_joints + j, minlength=len(prep.gt.frame) * num_joints)
    cols = np.bincount(p * num_joints + j, minlength=len(prep.pred.frame) * num_joints)
    cell = prep.gt.frame[g] * num_joints + j
    contested = np.unique(cell[(rows[g * num_joints + j] > 1) | (cols[p * num_joints + j] > 1)])
    free = ~np.isin(cell, contested)
    out = [(g[free], p[free], j[free], sim[m[free], j[free]])]
    gt_start = pairs.gt_start
    pred_start = prep.pred.frame_starts(prep.num_frames)
    for c in contested:
        f, joint = divmod(int(c), num_joints)
        num_gt = gt_start[f + 1] - gt_start[f]
        lo, hi = pairs.pred_start[pred_start[f]], pairs.pred_start[pred_start[f + 1]]
        score = sim[lo:hi, joint].reshape(-1, num_gt).T
        r, k = linear_sum_assignment(-score)
        keep = score[r, k] > 0
        out.append((gt_start[f] + r[keep], pred_start[f] + k[keep],
                    np.full(np.count_nonzero(keep), joint), score[r[keep], k[keep]]))
    return tuple(np.concatenate(parts) for parts in zip(*out, strict=True))


def _ids(seq: np.ndarray, track_id: np.ndarray) -> tuple[np.ndarray, int]:
    """(N,) dense index of each (sequence, track id), and how many there are."""
    unique, index = np.unique((seq.astype(np.int64) << _ID_SHIFT) | track_id,
                              return_inverse=True)
    return index.ravel(), len(unique)


def _by_frame(frame: np.ndarray, values: np.ndarray, num_frames: int) -> np.ndarray:
    """(F, ...) sums of per-person values over each frame (people sorted by frame)."""
    starts = np.searchsorted(frame, np.arange(num_frames + 1))
    cum = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
    return cum[starts[1:]] - cum[starts[:-1]]


def _sums(key: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """(size, ...) sums of the rows of (N, ...) values by key."""
    flat = values.reshape(len(values), int(np.prod(values.shape[1:])))
    out = np.stack([np.bincount(key, weights=flat[:, c], minlength=size)
                    for c in range(flat.shape[1])], axis=1)
    return out.reshape((size,) + values.shape[1:])


def _above(key: np.ndarray, level: np.ndarray, weights: np.ndarray | None, size: int
           ) -> np.ndarray:
    """(size, A) sums of weights (default 1) by key over the entries with level > a."""
    width = len(ALPHAS) + 1
    hist = np.bincount(key * width + level, weights=weights, minlength=size * width)
    return np.cumsum(hist.reshape(size, width)[:, ::-1], axis=1)[:, ::-1][:, 1:]


def _counts(prep: Prepared, fix_empty_frames: bool) -> dict[str, np.ndarray]:
    """Per sequence, alpha and joint (S, A, J): TP, FN, FP, the sum of S over TPs ("LocA"),
    and the sums of AssA's, AssRe's, AssPr's and FragA's terms (not yet divided by TP)."""
    num_seqs, num_frames = len(prep.seq_names), prep.num_frames
    num_joints, num_alphas = prep.gt.present.shape[1], len(ALPHAS)
    size = num_seqs * num_joints
    gt_joints = _by_frame(prep.gt.frame, prep.gt.present, num_frames)  # (F, J)
    pred_joints = _by_frame(prep.pred.frame, prep.pred.present, num_frames)
    gt_people = np.bincount(prep.gt.frame, minlength=num_frames)
    pred_people = np.bincount(prep.pred.frame, minlength=num_frames)

    def per_seq(values: np.ndarray, frames: np.ndarray) -> np.ndarray:
        return _sums(prep.frame_seq[frames], values[frames], num_seqs)

    seq_gt_joints = per_seq(gt_joints, slice(None))
    seq_pred_joints = per_seq(pred_joints, slice(None))
    both = (gt_people > 0) & (pred_people > 0)
    no_gt, no_pred = gt_people == 0, (gt_people > 0) & (pred_people == 0)
    if fix_empty_frames:
        extra_fp, extra_fn = per_seq(pred_joints, no_gt), per_seq(gt_joints, no_pred)
    else:  # the kit's issue #10: the whole sequence's joints, once per such frame
        extra_fp = np.bincount(prep.frame_seq[no_gt], minlength=num_seqs)[:, None] \
            * seq_pred_joints
        extra_fn = np.bincount(prep.frame_seq[no_pred], minlength=num_seqs)[:, None] \
            * seq_gt_joints
    base_fn = per_seq(gt_joints, both) + extra_fn
    base_fp = per_seq(pred_joints, both) + extra_fp

    pairs = make_pairs(prep)
    g, p, j, s = _matches(prep, pairs, _similarity(pairs))
    level = np.searchsorted(ALPHAS - EPS, s, side="right")  # thresholds reached, 0..19
    gt_seq = prep.frame_seq[prep.gt.frame]
    cell = gt_seq[g] * num_joints + j
    out = {"TP": _above(cell, level, None, size), "LocA": _above(cell, level, s, size)}

    gt_id, num_gt_ids = _ids(gt_seq, prep.gt.track_id)
    pred_id, num_pred_ids = _ids(prep.frame_seq[prep.pred.frame], prep.pred.track_id)
    gt_id_joints = _sums(gt_id, prep.gt.present, num_gt_ids)  # valid joints of each id
    pred_id_joints = _sums(pred_id, prep.pred.present, num_pred_ids)
    gid, pid = gt_id[g], pred_id[p]
    triples, triple = np.unique((gid * num_pred_ids + pid) * num_joints + j,
                                return_inverse=True)
    triple = triple.ravel()
    t_joint = triples % num_joints
    t_gid = triples // (num_pred_ids * num_joints)
    t_pid = triples // num_joints % num_pred_ids
    matched = _above(triple, level, None, len(triples))  # (U, A) matches at each alpha
    n_gt = gt_id_joints[t_gid, t_joint][:, None]
    n_pred = pred_id_joints[t_pid, t_joint][:, None]
    union = np.maximum(1, n_gt + n_pred - matched)
    square = matched ** 2

    # Runs: consecutive matches (in frame order) of a GT id's joint to the same prediction id.
    order = np.lexsort((prep.gt.frame[g], j, gid))
    runs = np.zeros_like(square)
    for a in range(num_alphas):
        sel = order[level[order] > a]
        key = gid[sel] * num_joints + j[sel]
        start = np.ones(len(sel), bool)
        start[1:] = (key[1:] != key[:-1]) | (pid[sel][1:] != pid[sel][:-1])
        first = np.flatnonzero(start)
        length = np.diff(np.append(first, len(sel))).astype(float)
        runs[:, a] = np.bincount(triple[sel[first]], weights=length ** 2, minlength=len(runs))

    id_seq = np.zeros(num_gt_ids, dtype=int)
    id_seq[gt_id] = gt_seq
    triple_cell = id_seq[t_gid] * num_joints + t_joint
    out.update({"AssA": _sums(triple_cell, square / union, size),
                "AssRe": _sums(triple_cell, square / np.maximum(1, n_gt), size),
                "AssPr": _sums(triple_cell, square / np.maximum(1, n_pred), size),
                "FragA": _sums(triple_cell, runs / union, size)})
    out = {k: v.reshape(num_seqs, num_joints, num_alphas).transpose(0, 2, 1)
           for k, v in out.items()}
    out["FN"] = base_fn[:, None, :] - out["TP"]
    out["FP"] = base_fp[:, None, :] - out["TP"]
    # A sequence without any predicted person counts every GT joint once as a miss; one
    # without GT people, every predicted joint once as a false positive (no per-frame rule).
    seq_pred_people = np.bincount(prep.frame_seq, weights=pred_people, minlength=num_seqs)
    seq_gt_people = np.bincount(prep.frame_seq, weights=gt_people, minlength=num_seqs)
    no_trk, no_gt_seq = seq_pred_people == 0, (seq_pred_people > 0) & (seq_gt_people == 0)
    out["FN"][no_trk] = seq_gt_joints[no_trk][:, None, :]
    out["FP"][no_trk] = 0
    out["FN"][no_gt_seq] = 0
    out["FP"][no_gt_seq] = seq_pred_joints[no_gt_seq][:, None, :]
    return out


def _ratios(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The kit's final fields from TP, FN, FP and the (already divided) AssA, AssRe, AssPr,
    FragA and LocA."""
    tp = c["TP"]
    out = dict(c)
    out["DetRe"] = tp / np.maximum(1, tp + c["FN"])
    out["DetPr"] = tp / np.maximum(1, tp + c["FP"])
    out["DetA"] = tp / np.maximum(1, tp + c["FN"] + c["FP"])
    out["HOTA"] = np.sqrt(out["DetA"] * c["AssA"])
    out["RHOTA"] = np.sqrt(out["DetRe"] * c["AssA"])
    frag = np.sqrt(c["AssA"] * c["FragA"])
    out["FA-HOTA"] = np.sqrt(out["DetA"] * frag)
    out["FA-RHOTA"] = np.sqrt(out["DetRe"] * frag)
    return out


def _sequence_results(sums: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-sequence fields (S, A, 16): the 15 joints and the total column (count sums, ratio
    means), as the kit's `eval_sequence` returns them."""
    tp = sums["TP"]
    per = {k: sums[k] for k in COUNTS}
    for k in ("AssA", "AssRe", "AssPr", "FragA"):
        per[k] = sums[k] / np.maximum(1, tp)
    per["LocA"] = np.maximum(_LOCA_FLOOR, sums["LocA"]) / np.maximum(_LOCA_FLOOR, tp)
    per = _ratios(per)
    return {k: np.concatenate([v, (v.sum if k in COUNTS else v.mean)(axis=2, keepdims=True)],
                              axis=2) for k, v in per.items()}


def _combine(per: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The kit's `combine_sequences`: (A, 16) fields of all sequences together."""
    tp_seq = per["TP"]
    out = {k: per[k].sum(axis=0) for k in COUNTS}
    for k in ("AssA", "AssRe", "AssPr", "FragA"):
        out[k] = (per[k] * tp_seq).sum(axis=0) / np.maximum(1.0, out["TP"])
    out["LocA"] = np.maximum(_LOCA_FLOOR, (per["LocA"] * tp_seq).sum(axis=0)) \
        / np.maximum(_LOCA_FLOOR, out["TP"])
    return _ratios(out)


def _columns(values: np.ndarray) -> dict[str, float]:
    """{joint: v, ..., "total": v} from a (16,) row in `Prepared`'s joint order + total."""
    ordered = np.append(values[:-1][EVAL_TO_KIT], values[-1])
    return dict(zip((*KIT_JOINT_NAMES, "total"), (float(v) for v in ordered), strict=True))


def _report(fields: dict[str, np.ndarray], per_alpha: bool) -> dict:
    """Alpha means in percent, and with `per_alpha` the curves (counts as counts)."""
    out = {k: _columns(PERCENT * fields[k].mean(axis=0)) for k in FIELDS}
    if per_alpha:
        curves = {k: [_columns(PERCENT * row) for row in fields[k]] for k in FIELDS}
        curves.update({k: [_columns(row) for row in fields[k]] for k in COUNTS})
        out["per_alpha"] = {"alpha": ALPHAS.tolist(),
                            **{k: {name: [c[name] for c in v] for name in v[0]}
                               for k, v in curves.items()}}
    return out


def keypoint_hota(ground_truth: Inputs | Prepared, predictions: Inputs | None = None, *,
                  fix_empty_frames: bool = False, per_alpha: bool = False,
                  per_sequence: bool = False) -> dict:
    """PoseTrack21 keypoint HOTA and its parts, as the official kit reports them.

    Args:
      ground_truth: a folder of PoseTrack21 files, sequences, or `pt21.prepare`'s result.
      predictions: a folder holding `<name>.json` per GT sequence, or sequences (paired by
        name); not given with a `Prepared`.
      fix_empty_frames: count a labeled frame without GT people as its own predicted joints
        (false positives) and one without predictions as its own GT joints (misses). By default
        such frames count the whole sequence's joints, as the kit does (its issue #10), so that
        numbers match published ones.
      per_alpha: also return the 19 per-threshold values under "per_alpha".
      per_sequence: also return each sequence's values (the kit's per-sequence table, whose
        total column is the mean over joints) under "per_sequence".

    Returns:
      {field: {joint: v, ..., "total": v}} for `FIELDS` (HOTA, DetA, AssA, FragA, DetRe, DetPr,
      AssRe, AssPr, LocA, RHOTA, FA-HOTA, FA-RHOTA), in percent, means over the 19 alphas;
      joints are named as in `joints.JOINT_NAMES`, in the kit's order. With `per_alpha`,
      "per_alpha": {"alpha": [19], field: {joint: [19]}, "TP" | "FN" | "FP": {joint: [19]}}.
      With `per_sequence`, "per_sequence": {name: the same layout}.

    Raises:
      DataError: see `pt21.prepare`.
    """
    prep = ground_truth if isinstance(ground_truth, Prepared) else \
        prepare(ground_truth, predictions)
    per = _sequence_results(_counts(prep, fix_empty_frames))
    result = _report(_combine(per), per_alpha)
    if per_sequence:
        result["per_sequence"] = {name: _report({k: v[s] for k, v in per.items()}, per_alpha)
                                  for s, name in enumerate(prep.seq_names)}
    return result


def format_hota_table(result: dict, fields: tuple[str, ...] = FIELDS) -> str:
    """The kit's summary table of a `keypoint_hota` result: one row per field (default all),
    15 joints and the total, in percent."""
    names = (*KIT_JOINT_NAMES, "total")
    lines = [f"{'Metric':<8} | " + " | ".join(f"{h:>5}" for h in (*KIT_LABELS, "Total"))]
    for field in fields:
        lines.append(f"{field:<8} | " + " | ".join(f"{result[field][n]:5.1f}" for n in names))
    return "\n".join(lines)
