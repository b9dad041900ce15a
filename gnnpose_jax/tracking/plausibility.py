"""Pose plausibility: limb lengths and joint spread against the pose's own scale, with bounds
learned from ground-truth poses (`PoseBounds.fit`), and the pruning the tracker applies.

Scale. A limb's typical length m_l is the median, over fully annotated training poses, of its
length over the pose's box diagonal. A pose's scale ŝ is the median over its present limbs of
length / m_l: the box diagonal it would have were each limb typical. A median, so the one or
two limbs that join a pose stitched from two people do not move it.

Bounds. Each limb's ratio r_l = length / (ŝ m_l) and each joint's spread (its distance from
the median of the pose's present joints, over ŝ) are measured on every training pose. The
limbs get the t and 1 − t quantiles of their ratios (t = 0.001) as lower and upper bounds,
the joints the 1 − t quantile of their spreads. Then the lower bounds are scaled by
(1 − shrink) and the upper and spread bounds by (1 + grow), each margin the smallest that
rejects at most half of 1 − `accept` (`accept` = 99.5%) of the poses of videos held out of
the fit (5-fold cross-validation over whole videos). A world's people differ in build, so
bounds fitted on some people need a margin to accept others; nothing but t and the accepted
share is set by hand.

Pruning (`prune`). The present joints (score ≥ τ_joint) are linked by their limbs within
bounds; the linked group with the highest summed joint score is kept, and every other group
that touches an out-of-bounds limb is removed (its scores set to 0): a pose stitched from two
people keeps the better-supported person and loses the other. Then any joint left outside the
kept group (one no limb ties to it: its neighbours are absent) that lies farther from the
median of the remaining joints than its spread bound is removed. (The kept group's own joints
are vouched for by their limbs; their spread would be measured from a centre that moves with
the joints removed.) Poses with fewer than two present limbs have no scale and are left as
they are. `implausible` is the strict test the bounds were fitted with: any limb or any joint
outside its bounds. Bounds travel as a small JSON file (`save`, `load`); GNN training writes
one into its run folder (`POSE_BOUNDS`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gnnpose_jax.atomic import write_text
from gnnpose_jax.data import joints
from gnnpose_jax.errors import DataError

#: The bounds file's name in a run folder.
POSE_BOUNDS = "pose_bounds.json"
#: The file's `format` field.
FORMAT = "gnnpose_jax.pose_bounds"
#: The limbs measured (slot pairs): the drawn skeleton's.
LIMBS = np.array(joints.LIMBS, np.int64)
#: Fewest fully annotated poses `fit` needs for the typical limb lengths.
MIN_COMPLETE_POSES = 10
#: Fewest present limbs that give a pose a scale.
MIN_LIMBS = 2
#: The quantile tail of the bounds before the margins: robust to a few bad annotations.
DEFAULT_TAIL = 0.001
#: Folds of the margins' cross-validation (whole groups held out), and the largest margin.
FOLDS, MAX_MARGIN = 5, 10.0


@dataclasses.dataclass(frozen=True)
class PoseBounds:
    """Learned bounds of a plausible pose (module docstring).

    Attributes:
      typical: (L,) each limb's median length over the box diagonal (m_l).
      lower, upper: (L,) bounds of length / (ŝ m_l).
      spread: (K,) the farthest each joint may lie from the pose's median joint, over ŝ
        (inf for a slot with no training joint).
      accept: the share of held-out training poses the bounds were fitted to accept.
      tail: the quantile tail t of the bounds before the margins.
      shrink, grow: the cross-validated margins: lower bounds × (1 − shrink) (at least 0),
        upper and spread bounds × (1 + grow).
      poses: how many training poses were measured.
    """

    typical: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    spread: np.ndarray
    accept: float
    tail: float
    shrink: float
    grow: float
    poses: int

    @classmethod
    def fit(cls, poses: Iterable, groups: Iterable | None = None, accept: float = 0.995,
            tail: float = DEFAULT_TAIL) -> PoseBounds:
        """Bounds from ground-truth poses: `Person`s or (K, 3) keypoint arrays (a joint is
        present when its row is not all zero, PoseTrack's rule; hidden joints count).

        Args:
          poses: the training poses.
          groups: one label per pose (its video): the margins are cross-validated over
            whole groups, so that they cover people the fit has not seen. None: one group,
            no margins.
          accept: the share of held-out poses the bounds must accept.
          tail: the quantile tail of the bounds before the margins.

        Raises:
          ValueError: fewer than `MIN_COMPLETE_POSES` poses with every limb annotated, or
            `accept` outside (0, 1].
        """
        if not 0.0 < accept <= 1.0:
            raise ValueError(f"PoseBounds.fit: accept {accept} is not in (0, 1]")
        points, present = _gt_arrays(poses)
        labels = np.zeros(len(points), np.int64) if groups is None else _labels(groups)
        if len(labels) != len(points):
            raise ValueError(f"PoseBounds.fit: {len(labels)} groups for {len(points)} poses")
        typical = _typical(points, present)
        ratio, spread = _measure(points, present, typical)
        measured = ~np.isnan(ratio).all(axis=1)
        ratio, spread, labels = ratio[measured], spread[measured], labels[measured]
        shrink, grow = _margins_for(ratio, spread, labels, tail, accept)
        lower, upper, far = _widened(_quantiles(ratio, spread, tail), shrink, grow)
        return cls(typical, lower, upper, far, float(accept), float(tail), float(shrink),
                   float(grow), int(measured.sum()))

    @classmethod
    def fit_sequences(cls, sequences: Iterable, accept: float = 0.995) -> PoseBounds:
        """`fit` on every person of annotated `Sequence`s, grouped by sequence."""
        poses, groups = [], []
        for sequence in sequences:
            for frame in sequence.frames:
                poses += frame.people
                groups += [sequence.name] * len(frame.people)
        return cls.fit(poses, groups, accept)

    def limb_ratios(self, keypoints: np.ndarray, present: np.ndarray
                    ) -> tuple[np.ndarray, float]:
        """(L,) length / (ŝ m_l) of each limb (NaN where an end is absent) and ŝ (NaN with
        fewer than `MIN_LIMBS` limbs)."""
        ratio, scale = _ratios(keypoints[None].astype(np.float64), present[None], self.typical)
        return ratio[0], float(scale[0])

    def implausible(self, keypoints: np.ndarray, present: np.ndarray) -> bool:
        """Whether any limb or joint of the pose lies outside the bounds."""
        ratio, scale = self.limb_ratios(keypoints, present)
        if np.isnan(scale):
            return False
        if scale <= 0:
            return True
        has = ~np.isnan(ratio)
        outside = (ratio[has] < self.lower[has]) | (ratio[has] > self.upper[has])
        return bool(outside.any() or _too_far(keypoints, present, scale, self.spread).any())

    def keep(self, keypoints: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
        """(K,) bool: the joints `prune` keeps (module docstring; absent joints count as
        kept)."""
        present = scores >= threshold
        ratio, scale = self.limb_ratios(keypoints, present)
        if np.isnan(scale):
            return np.ones(len(scores), bool)
        if scale <= 0:  # half the limbs have no length: a collapsed pose
            return ~present
        has = ~np.isnan(ratio)
        bad = has & ((ratio < self.lower) | (ratio > self.upper))
        group = _groups(len(scores), LIMBS[has & ~bad], present)
        sums = np.bincount(group[present], weights=scores[present], minlength=len(scores))
        best = int(np.argmax(sums))
        cut = np.zeros(len(scores), bool)
        cut[np.unique(group[LIMBS[bad].ravel()])] = True
        removed = present & (group != best) & cut[group]
        remaining = present & ~removed
        removed |= (group != best) & _too_far(keypoints, remaining, scale, self.spread)
        return ~removed

    def prune(self, keypoints: np.ndarray, scores: np.ndarray, threshold: float
              ) -> np.ndarray:
        """The scores with every joint `keep` removes set to 0."""
        return np.where(self.keep(keypoints, scores, threshold), scores, 0.0)

    def to_json(self) -> dict:
        """The JSON object `save` writes."""
        return {"format": FORMAT, "limbs": LIMBS.tolist(), "typical": self.typical.tolist(),
                "lower": self.lower.tolist(), "upper": self.upper.tolist(),
                "spread": [None if np.isinf(s) else float(s) for s in self.spread],
                "accept": self.accept, "tail": self.tail, "shrink": self.shrink,
                "grow": self.grow,
                "poses": self.poses}

    def save(self, path: str | Path) -> None:
        """Writes the bounds to `path` (atomically)."""
        write_text(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> PoseBounds:
        """Reads bounds `save` wrote.

        Raises:
          DataError: a missing, unreadable or malformed file (one line naming the field).
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"{path}: cannot read pose bounds ({e})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(f"{path}: not a pose bounds file (expected a JSON object with "
                            f"format {FORMAT!r})")
        if data.get("limbs") != LIMBS.tolist():
            raise DataError(f"{path}: limbs: expected the skeleton {LIMBS.tolist()}")
        arrays = {}
        for key, size in (("typical", len(LIMBS)), ("lower", len(LIMBS)),
                          ("upper", len(LIMBS)), ("spread", joints.NUM_JOINTS)):
            values = data.get(key)
            if key == "spread" and isinstance(values, list):
                values = [np.inf if v is None else v for v in values]
            try:
                array = np.asarray(values, np.float64)
            except (TypeError, ValueError):
                array = np.zeros(0)
            if array.shape != (size,) or np.isnan(array).any() or (array < 0).any():
                raise DataError(f"{path}: {key}: expected {size} non-negative numbers")
            arrays[key] = array
        if not (np.isfinite(arrays["typical"]).all() and (arrays["typical"] > 0).all()):
            raise DataError(f"{path}: typical: expected positive finite numbers")
        if (arrays["lower"] > arrays["upper"]).any():
            raise DataError(f"{path}: lower: expected each bound at most its upper bound")
        meta = {}
        for key, kind in (("accept", float), ("tail", float), ("shrink", float), ("grow", float),
                          ("poses", int)):
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataError(f"{path}: {key}: expected a number")
            meta[key] = kind(value)
        return cls(**arrays, **meta)


def _annotated() -> np.ndarray:
    """The slots PoseTrack annotates."""
    return np.setdiff1d(np.arange(joints.NUM_JOINTS), joints.UNANNOTATED_SLOTS)


def _gt_arrays(poses: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, 2) points and (N, K) presence of ground-truth poses."""
    rows = [np.asarray(getattr(p, "keypoints", p), np.float64) for p in poses]
    if not rows:
        return np.zeros((0, joints.NUM_JOINTS, 2)), np.zeros((0, joints.NUM_JOINTS), bool)
    stacked = np.stack(rows)
    return stacked[..., :2], np.any(stacked != 0.0, axis=-1)


def _limb_lengths(points: np.ndarray) -> np.ndarray:
    """(N, L) limb lengths."""
    return np.linalg.norm(points[:, LIMBS[:, 0]] - points[:, LIMBS[:, 1]], axis=-1)


def _ratios(points: np.ndarray, present: np.ndarray, typical: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """(N, L) length / (ŝ m_l), NaN where a limb is absent, and (N,) ŝ (NaN: no scale)."""
    has = present[:, LIMBS[:, 0]] & present[:, LIMBS[:, 1]]
    relative = np.where(has, _limb_lengths(points) / typical, np.nan)
    enough = has.sum(axis=1) >= MIN_LIMBS
    scale = np.where(enough, _row_median(relative), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(enough[:, None] & (scale[:, None] > 0), relative / scale[:, None],
                         np.nan)
    return ratio, scale


def _row_median(values: np.ndarray) -> np.ndarray:
    """(N,) the median of each row's non-NaN values (NaN for a row without one); faster than
    `np.nanmedian` on the tracker's single short rows."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = (~np.isnan(values)).sum(axis=1)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[:, None], axis=1)[:, 0]
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[:, None], axis=1)[:, 0]
    return np.where(count > 0, (low + high) / 2, np.nan)


def _spreads(points: np.ndarray, present: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(N, K) each present joint's distance from its pose's median joint over ŝ (else NaN)."""
    masked = np.where(present[..., None], points, np.nan)
    centre = np.stack([_row_median(masked[..., 0]), _row_median(masked[..., 1])], axis=-1)
    with np.errstate(invalid="ignore"):
        distance = np.linalg.norm(points - centre[:, None], axis=-1) / scale[:, None]
    return np.where(present, distance, np.nan)


def _too_far(keypoints: np.ndarray, present: np.ndarray, scale: float, spread: np.ndarray
             ) -> np.ndarray:
    """(K,) bool: present joints farther from the median present joint than their bound."""
    if not present.any():
        return np.zeros(len(present), bool)
    spreads = _spreads(keypoints[None].astype(np.float64), present[None], np.array([scale]))
    return present & (np.nan_to_num(spreads[0], nan=0.0) > spread)


def _measure(points: np.ndarray, present: np.ndarray, typical: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Every pose's limb ratios (N, L) and joint spreads (N, K), NaN where unmeasured."""
    ratio, scale = _ratios(points, present, typical)
    usable = scale > 0
    spread = np.full(present.shape, np.nan)
    spread[usable] = _spreads(points[usable], present[usable], scale[usable])
    return ratio, spread


def _quantiles(ratio: np.ndarray, spread: np.ndarray, tail: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper limb bounds and joint spread bounds at quantile tail `tail`."""
    lower = np.array([np.quantile(c[~np.isnan(c)], tail) if (~np.isnan(c)).any() else 0.0
                      for c in ratio.T])
    upper = np.array([np.quantile(c[~np.isnan(c)], 1 - tail) if (~np.isnan(c)).any()
                      else np.inf for c in ratio.T])
    far = np.array([np.quantile(c[~np.isnan(c)], 1 - tail) if (~np.isnan(c)).any()
                    else np.inf for c in spread.T])
    return lower, upper, far


def _typical(points: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(L,) each limb's median length over the box diagonal, over the complete poses."""
    complete = present[:, LIMBS].all(axis=(1, 2))
    if complete.sum() < MIN_COMPLETE_POSES:
        raise ValueError(f"PoseBounds.fit: {int(complete.sum())} poses with every limb "
                         f"annotated; need at least {MIN_COMPLETE_POSES}")
    full = points[complete]
    diagonal = np.linalg.norm(np.ptp(full[:, _annotated()], axis=1), axis=-1)
    return np.median(_limb_lengths(full) / np.maximum(diagonal, 1e-9)[:, None], axis=0)


def _labels(groups: Iterable) -> np.ndarray:
    """(N,) integer labels of hashable group names."""
    names = {}
    return np.array([names.setdefault(g, len(names)) for g in groups], np.int64)


def _too_short(ratio: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """(N,) bool: poses with a limb below its lower bound."""
    with np.errstate(invalid="ignore"):
        return (ratio < lower).any(axis=1)


def _too_long(ratio: np.ndarray, spread: np.ndarray, upper: np.ndarray, far: np.ndarray
              ) -> np.ndarray:
    """(N,) bool: poses with a limb above its upper bound or a joint beyond its spread."""
    with np.errstate(invalid="ignore"):
        return (ratio > upper).any(axis=1) | (spread > far).any(axis=1)


def _widened(bounds: tuple, shrink: float, grow: float) -> tuple:
    """`(lower, upper, far)` widened: lower × (1 − shrink) (at least 0), the rest × (1 + grow)."""
    lower, upper, far = bounds
    return lower * max(0.0, 1.0 - shrink), upper * (1.0 + grow), far * (1.0 + grow)


def _margins_for(ratio: np.ndarray, spread: np.ndarray, labels: np.ndarray, tail: float,
                 accept: float) -> tuple[float, float]:
    """(shrink, grow): the smallest widenings of the lower and of the upper bounds, fitted
    without a fold's groups, that each reject at most half of 1 − `accept` of the held-out
    poses over all folds (0, 0 with one group)."""
    names = np.unique(labels)
    if len(names) < 2:
        return 0.0, 0.0
    fold_of = {g: i % FOLDS for i, g in enumerate(names)}
    fold = np.array([fold_of[g] for g in labels])
    folds = [(fold == f, _quantiles(ratio[fold != f], spread[fold != f], tail))
             for f in np.unique(fold)]
    budget = (1.0 - accept) / 2 * len(ratio)

    def short(margin: float) -> int:
        return sum(int(_too_short(ratio[held], _widened(b, margin, 0.0)[0]).sum())
                   for held, b in folds)

    def long(margin: float) -> int:
        return sum(int(_too_long(ratio[held], spread[held],
                                 *_widened(b, 0.0, margin)[1:]).sum()) for held, b in folds)

    return _smallest(short, budget), _smallest(long, budget)


def _smallest(rejected, budget: float, steps: int = 30) -> float:
    """The smallest margin in [0, MAX_MARGIN] with `rejected(margin)` <= `budget`, by
    bisection (`rejected` falls as the margin grows); MAX_MARGIN if none."""
    if rejected(0.0) <= budget:
        return 0.0
    low, high = 0.0, MAX_MARGIN
    if rejected(high) > budget:
        return high
    for _ in range(steps):
        mid = (low + high) / 2
        low, high = (low, mid) if rejected(mid) <= budget else (mid, high)
    return high


def _groups(num_joints: int, links: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(K,) the linked group of each joint (union-find over `links` among present joints;
    absent joints are groups of their own)."""
    parent = np.arange(num_joints)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        if present[a] and present[b]:
            parent[root(a)] = root(b)
    return np.array([root(i) for i in range(num_joints)])
