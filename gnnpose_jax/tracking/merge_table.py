"""The learned merge rule (`TrackerConfig.merge = "learned"`): where a matched prediction and
estimate disagree on a joint, take the source that was right more often for the joint's pair of
scores (where they agree, the rule averages them as "weighted" does).

At run time the tracker cannot see whether a joint is visible, and visibility decides which
source is right: HRNet finds a hidden joint about a fifth of the time, the GNN, which reads the
track's history, more often. The two sources' joint scores are the run-time proxy. A
`MergeTable` holds, for each joint slot k and each cell of (estimate score bin, prediction score
bin), how often each source was right (PCKh@0.5 against the GT person) among the matched pairs
of a labeled split whose GT joint k is annotated, the counts split by GT visibility for the
report (`tracking.merge_fit` records the pairs and fits the table). `take_prediction` picks, per
joint, the source right more often in its cell. A cell with fewer than `min_pairs` pairs (20 by
default), or a tie, falls back to the same score cell pooled over all joints, and where that
does not decide either, to the "weighted" rule's choice where the two disagree: the
higher-scoring source. (A labeled split of a few videos gives a few hundred pairs per joint
over 25 cells, so many joint cells are thin; the pooled cell still knows whether a score pair
favours the history or the frame.) The merged joint's score is the higher of the two, as under
every rule.

A table travels as a small JSON file (`save`, `load`); `python -m gnnpose_jax.fit_merge`
writes one into a GNN run folder (`MERGE_TABLE`), where `tracking.networks` finds it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np

from gnnpose_jax.atomic import write_text
from gnnpose_jax.data import joints
from gnnpose_jax.errors import ConfigError

#: The table's file name in a run folder.
MERGE_TABLE = "merge_table.json"
#: The file's `format` field.
FORMAT = "gnnpose_jax.merge_table"
#: Score bin edges of both sources: five bins of 0.2 (scores outside [0, 1] go to the end bins).
DEFAULT_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: A cell decides only with at least this many pairs; fewer fall back to the higher score.
MIN_PAIRS = 20
#: The most bins per source, and the largest file `load` reads (bytes).
MAX_BINS, MAX_FILE_BYTES = 20, 1 << 20
#: Visibility states of the counts' last axis.
VISIBILITY = ("hidden", "visible")
#: The counts, each (K, bins, bins, 2): [joint, estimate bin, prediction bin, visibility].
COUNTS = ("pairs", "estimate_right", "prediction_right")


@dataclasses.dataclass(frozen=True, eq=False)
class MergeTable:
    """How often each source was right, per joint and score cell (module docstring).

    Attributes:
      edges: (B + 1,) increasing score bin edges, the same for both sources.
      pairs: (K, B, B, 2) int matched pairs with the GT joint annotated, per joint, estimate
        score bin, prediction score bin and GT visibility (hidden, visible).
      estimate_right, prediction_right: (K, B, B, 2) int of those, how many had the estimate's
        (the prediction's) joint within PCKh@0.5 of the GT joint.
      min_pairs: a cell with fewer pairs (both visibility states together) does not decide.
    """

    edges: np.ndarray
    pairs: np.ndarray
    estimate_right: np.ndarray
    prediction_right: np.ndarray
    min_pairs: int = MIN_PAIRS

    @property
    def bins(self) -> int:
        """B, score bins per source."""
        return len(self.edges) - 1

    def bin_of(self, scores: np.ndarray) -> np.ndarray:
        """The bin index of each score: [e_i, e_i+1) is bin i; outside the edges, the end bins."""
        index = np.searchsorted(self.edges, np.asarray(scores, np.float64), side="right") - 1
        return np.clip(index, 0, self.bins - 1)

    @classmethod
    def fit(cls, prediction_scores: np.ndarray, estimate_scores: np.ndarray,
            prediction_right: np.ndarray, estimate_right: np.ndarray, annotated: np.ndarray,
            visible: np.ndarray, edges=DEFAULT_EDGES, min_pairs: int = MIN_PAIRS) -> MergeTable:
        """Counts N matched pairs into a table.

        Args:
          prediction_scores, estimate_scores: (N, K) joint scores of the two sources.
          prediction_right, estimate_right: (N, K) bool, the source's joint within PCKh@0.5 of
            the GT joint.
          annotated: (N, K) bool, the GT joint is annotated (only those count).
          visible: (N, K) bool, the GT joint is annotated visible.
          edges: the score bin edges.
          min_pairs: of the table.
        """
        edges = _checked_edges(np.asarray(edges, np.float64), "edges")
        arrays = [np.asarray(a).reshape(-1, joints.NUM_JOINTS) for a in
                  (prediction_scores, estimate_scores, prediction_right, estimate_right,
                   annotated, visible)]
        p_scores, e_scores, p_right, e_right, present, seen = arrays
        shape = (joints.NUM_JOINTS, len(edges) - 1, len(edges) - 1, len(VISIBILITY))
        empty = cls(edges, *(np.zeros(shape, np.int64) for _ in COUNTS), int(min_pairs))
        n, k = np.nonzero(present.astype(bool))
        cell = (k, empty.bin_of(e_scores[n, k]), empty.bin_of(p_scores[n, k]),
                seen[n, k].astype(np.int64))
        for counts, hit in ((empty.pairs, None), (empty.estimate_right, e_right),
                            (empty.prediction_right, p_right)):
            np.add.at(counts, cell, 1 if hit is None else hit[n, k].astype(np.int64))
        return empty

    @functools.cached_property
    def choice(self) -> tuple[np.ndarray, np.ndarray]:
        """(decides, takes), each (K, B, B) bool: whether a cell decides (its own counts, else
        the cell pooled over joints; both visibility states together) and, where it does,
        whether it takes the prediction."""
        pairs, p, e = (a.sum(-1) for a in (self.pairs, self.prediction_right,
                                            self.estimate_right))
        own = (pairs >= self.min_pairs) & (p != e)
        pooled_pairs, pooled_p, pooled_e = pairs.sum(0), p.sum(0), e.sum(0)
        pooled = (pooled_pairs >= self.min_pairs) & (pooled_p != pooled_e)
        return own | pooled[None], np.where(own, p > e, (pooled_p > pooled_e)[None])

    def take_prediction(self, prediction_scores: np.ndarray, estimate_scores: np.ndarray
                        ) -> np.ndarray:
        """(K,) bool: per joint, whether the merge takes the prediction's joint: the choice of
        its score cell (`choice`), where that decides, else the higher-scoring source."""
        p, e = np.asarray(prediction_scores), np.asarray(estimate_scores)
        cell = (np.arange(joints.NUM_JOINTS), self.bin_of(e), self.bin_of(p))
        decides, takes = self.choice
        return np.where(decides[cell], takes[cell], p > e)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per visibility state: pairs, the share each source had right, and, over the pairs
        whose cell decides (`decided`), the share the table's choice and the estimate have
        right (in sample: the pairs the table was fitted on)."""
        total = self.pairs.sum(axis=(1, 2))  # (K, 2)
        out = {}
        decides, takes = self.choice
        for v, name in enumerate(VISIBILITY):
            n = int(total[:, v].sum())
            chosen = np.where(takes, self.prediction_right[..., v], self.estimate_right[..., v])
            decided = int(self.pairs[..., v][decides].sum())
            out[name] = {
                "pairs": n,
                "estimate_right": int(self.estimate_right[..., v].sum()) / max(n, 1),
                "prediction_right": int(self.prediction_right[..., v].sum()) / max(n, 1),
                "decided": decided,
                "choice_right_where_decided": int(chosen[decides].sum()) / max(decided, 1),
                "estimate_right_where_decided":
                    int(self.estimate_right[..., v][decides].sum()) / max(decided, 1)}
        return out

    def to_json(self) -> dict:
        """The JSON form `save` writes."""
        return {"format": FORMAT, "joints": joints.NUM_JOINTS, "visibility": list(VISIBILITY),
                "edges": self.edges.tolist(), "min_pairs": self.min_pairs,
                **{key: getattr(self, key).tolist() for key in COUNTS}}

    def save(self, path: str | Path) -> None:
        """Writes the table to `path` (atomically)."""
        write_text(path, json.dumps(self.to_json()) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> MergeTable:
        """Reads a table `save` wrote.

        Raises:
          ConfigError: a missing, oversized, unreadable or malformed file (one line naming the
            file and the field).
        """
        path = Path(path)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ConfigError(f"{path}: a merge table is at most {MAX_FILE_BYTES} bytes; "
                                  f"this file has {path.stat().st_size}")
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise ConfigError(f"{path}: cannot read the merge table ({e})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"{path}: not a merge table (expected a JSON object with format "
                              f"{FORMAT!r})")
        if data.get("joints") != joints.NUM_JOINTS or data.get("visibility") != list(VISIBILITY):
            raise ConfigError(f"{path}: joints, visibility: expected {joints.NUM_JOINTS} and "
                              f"{list(VISIBILITY)}")
        edges = _checked_edges(_array(data.get("edges"), np.float64), "edges", path)
        shape = (joints.NUM_JOINTS, len(edges) - 1, len(edges) - 1, len(VISIBILITY))
        counts = {}
        for key in COUNTS:
            array = _array(data.get(key), np.float64)
            if (array.shape != shape or not np.isfinite(array).all() or (array < 0).any()
                    or (array != np.round(array)).any() or (array > 2**53).any()):
                raise ConfigError(f"{path}: {key}: expected {shape} non-negative whole numbers")
            counts[key] = array.astype(np.int64)
        for key in COUNTS[1:]:
            if (counts[key] > counts["pairs"]).any():
                raise ConfigError(f"{path}: {key}: expected at most the pairs of each cell")
        min_pairs = data.get("min_pairs")
        if isinstance(min_pairs, bool) or not isinstance(min_pairs, int) or not (
                1 <= min_pairs <= 2**31):
            raise ConfigError(f"{path}: min_pairs: expected a whole number >= 1")
        return cls(edges, **counts, min_pairs=min_pairs)


def _array(values, dtype) -> np.ndarray:
    """`values` as an array of `dtype`, or an empty one when it is not numbers."""
    try:
        return np.asarray(values, dtype)
    except (TypeError, ValueError, OverflowError):
        return np.zeros(0, dtype)


def _checked_edges(edges: np.ndarray, field: str, path: Path | None = None) -> np.ndarray:
    """`edges` if 2 to MAX_BINS + 1 finite increasing numbers, else a ConfigError."""
    if (edges.ndim != 1 or not 2 <= len(edges) <= MAX_BINS + 1 or not np.isfinite(edges).all()
            or (np.diff(edges) <= 0).any()):
        where = f"{path}: " if path is not None else ""
        raise ConfigError(f"{where}{field}: expected 2 to {MAX_BINS + 1} increasing finite "
                          "numbers")
    return edges
