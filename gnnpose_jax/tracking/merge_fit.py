"""Fitting the learned merge rule's table (`merge_table.MergeTable`) on a labeled split.

The split is tracked with the run's networks and tracker settings, the merge rule "weighted"
in place of "learned" (the table's fallback; the table being fitted is not used), and every
matched pair of a prediction and an estimate is recorded before it merges
(`OnlineTracker.on_pair`). In each labeled frame, each recorded estimate is assigned to the GT
person with the highest OKS against it (its joints scoring at least τ_joint against the GT
person's annotated ones, the GT pose's box as the area), if that OKS is at least `min_oks`
(0.5); its pair then counts, per annotated GT joint, whether each source's joint lies within
PCKh@0.5 of the GT joint (head size 0.6 x the GT head-box diagonal, as in the evaluation).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gnnpose_jax.data import joints
from gnnpose_jax.data.types import Frame, Sequence
from gnnpose_jax.evaluation.prepare import HEAD_SIZE_FACTOR
from gnnpose_jax.tracking.boxes import BoxSource
from gnnpose_jax.tracking.merge_table import DEFAULT_EDGES, MIN_PAIRS, MergeTable
from gnnpose_jax.tracking.oks import oks_matrix, pose_box_area
from gnnpose_jax.tracking.run import counted, read_frames, track_sequence
from gnnpose_jax.tracking.tracker import OnlineTracker, Pose, TrackerConfig

#: An estimate is assigned to a GT person only with at least this OKS.
MIN_OKS = 0.5
#: PCKh's threshold, as a fraction of the head size.
PCKH_THRESHOLD = 0.5


@dataclasses.dataclass
class ScoredPairs:
    """Matched pairs assigned to GT people, as (N, K) arrays (`MergeTable.fit`'s arguments).

    `recorded` counts every pair recorded on a labeled frame, assigned or not.
    """

    prediction_scores: list = dataclasses.field(default_factory=list)
    estimate_scores: list = dataclasses.field(default_factory=list)
    prediction_right: list = dataclasses.field(default_factory=list)
    estimate_right: list = dataclasses.field(default_factory=list)
    annotated: list = dataclasses.field(default_factory=list)
    visible: list = dataclasses.field(default_factory=list)
    recorded: int = 0

    def add_frame(self, frame: Frame, pairs: list[tuple[Pose, Pose]], joint_threshold: float,
                  min_oks: float = MIN_OKS) -> None:
        """Assigns a frame's recorded (prediction, estimate) pairs to its GT people and keeps
        those assigned (module docstring)."""
        self.recorded += len(pairs)
        people = [p for p in frame.people if p.head_box is not None and p.present.any()]
        if not pairs or not people:
            return
        gt = np.stack([p.keypoints for p in people])
        gt_present = np.stack([p.present for p in people])
        estimates = np.stack([e.keypoints for _, e in pairs])
        est_present = np.stack([e.scores >= joint_threshold for _, e in pairs])
        oks = oks_matrix(estimates, est_present, gt[..., :2], gt_present,
                         pose_box_area(gt[..., :2], gt_present))
        for (prediction, estimate), row in zip(pairs, oks, strict=True):
            g = int(np.argmax(row))
            if row[g] < min_oks:
                continue
            person = people[g]
            x1, y1, x2, y2 = np.asarray(person.head_box, np.float64)
            reach = PCKH_THRESHOLD * HEAD_SIZE_FACTOR * np.hypot(x2 - x1, y2 - y1)
            for scores, right, source in ((self.prediction_scores, self.prediction_right,
                                           prediction),
                                          (self.estimate_scores, self.estimate_right, estimate)):
                scores.append(np.asarray(source.scores, np.float64))
                right.append(np.linalg.norm(source.keypoints - person.keypoints[:, :2], axis=1)
                             <= reach)
            self.annotated.append(gt_present[g])
            self.visible.append(gt_present[g] & (person.keypoints[:, 2] > 0))

    def table(self, edges=DEFAULT_EDGES, min_pairs: int = MIN_PAIRS) -> MergeTable:
        """The merge table of the pairs kept so far."""
        arrays = [np.asarray(a).reshape(-1, joints.NUM_JOINTS) for a in
                  (self.prediction_scores, self.estimate_scores, self.prediction_right,
                   self.estimate_right, self.annotated, self.visible)]
        return MergeTable.fit(*arrays, edges=edges, min_pairs=min_pairs)


def record_pairs(networks, config: TrackerConfig, root: Path, sequences: list[Sequence],
                 boxes_for: BoxSource, min_oks: float = MIN_OKS,
                 desc: str = "tracking (fitting the merge table)") -> ScoredPairs:
    """Tracks every sequence with the GNN (module docstring) and scores its matched pairs.

    Args:
      networks: a `networks.TrackerNetworks` with a GNN.
      config: the tracker settings ("learned" is replaced by "weighted").
      root: the PoseTrack-layout folder of the sequences' frames.
      sequences: the labeled sequences to track.
      boxes_for: person boxes per frame.
      min_oks: the assignment's OKS gate.
      desc: the progress bar's label.
    """
    if config.merge == "learned":
        config = dataclasses.replace(config, merge="weighted")
    scored = ScoredPairs()
    bar = tqdm(total=sum(len(s.frames) for s in sequences), desc=desc, unit="frame",
               dynamic_ncols=True)
    for sequence in sequences:
        recorded: dict[int, list[tuple[Pose, Pose]]] = {}

        def on_pair(frame_index: int, prediction: Pose, estimate: Pose, recorded=recorded):
            recorded.setdefault(frame_index, []).append((prediction, estimate))

        tracker = OnlineTracker(networks.estimator, config, networks.predictor(),
                                networks.bounds, on_pair=on_pair)
        track_sequence(tracker, sequence, counted(read_frames(root, sequence), bar), boxes_for,
                       np.asarray(config.output_thresholds))
        for frame in sequence.frames:
            if frame.is_labeled:
                scored.add_frame(frame, recorded.get(frame.frame_index, []),
                                 config.joint_threshold, min_oks)
    bar.close()
    return scored

