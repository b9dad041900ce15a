"""The online tracker of docs/spec/method.md §1: estimate, predict, match, merge, emit.

Each frame: HRNet estimates a pose per person box; a `PosePredictor` (the GNN, or a hand-set
one in tests) predicts each active track's pose from its recent history without looking at
this frame's boxes; predictions and estimates are matched by the Hungarian algorithm on
1 − OKS with a gate; matched pairs merge and keep the track id, unmatched estimates start
tracks, unmatched predictions are emitted for people the detector missed, and pose NMS removes
duplicates. Without a predictor (the baseline) tracks are associated by OKS against their last
pose and unmatched tracks are not emitted. Two association rules of ours, both off by default,
live in `association`: a second round that matches tracks left unmatched to low-score boxes,
and an inactive pool that re-identifies ended tracks before an estimate starts a new one.

Rules that keep people apart, each off by default (`TrackerConfig`): a matched pair that
disagrees on the person is not merged, the estimate is taken whole (`merge_min_agree`,
`same_person.agreement`); a recovered pose on a detected person is suppressed
(`recovered_max_oks`, `same_person.covered`); and every pose is pruned by the pose bounds
learned from the training annotations before it is kept or emitted (`plausibility`,
`plausibility.PoseBounds`).

Merge rules (`TrackerConfig.merge`): "weighted", "max", "hrnet_only" (`merge_poses`),
"learned" (`merge_table`: per joint, the source right more often at that pair of scores on a
labeled split; the tracker's `on_pair` hook records the matched pairs it is fitted on) and
"heatmap_average" (`heatmap_merge`), the one rule that needs the sources' per-joint maps: only
under it does the tracker ask the estimator and the predictor for them (`Pose.maps`), so the
other rules copy no maps off the device; emitted poses never keep them.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import numpy as np

from gnnpose_jax.data import joints, transforms
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.tracking.association import (
    InactivePool,
    low_boxes,
    match,
    pose_box,
    pose_oks,
)
from gnnpose_jax.tracking.heatmap_merge import JointMaps, heatmap_average
from gnnpose_jax.tracking.merge_table import MERGE_TABLE, MergeTable
from gnnpose_jax.tracking.plausibility import POSE_BOUNDS, PoseBounds
from gnnpose_jax.tracking.same_person import agreement, close_joints, covered

MERGE_RULES = ("weighted", "max", "hrnet_only", "heatmap_average", "learned")
#: Settings that are the GNN export's graph settings of the same name (n, τ_joint): a run with a
#: GNN export takes them from it (`tracking.config`), so run configs do not carry them.
FROM_GNN = ("history", "joint_threshold")

#: The most person boxes a frame may bring (COCO's and the detectors' usual 100 per image):
#: matching and pose NMS compare every pair of poses, so 5,000 boxes took 15 GB and 80 s a
#: frame. The highest-scoring boxes are kept; the rest are counted in `capped_boxes`.
MAX_BOXES_PER_FRAME = 100


@dataclasses.dataclass(frozen=True)
class TrackerConfig:
    """Every threshold of the loop (docs/spec/method.md §1); configs set these.

    Attributes:
      history: n, frames of history a prediction may use.
      joint_threshold: τ_joint, a history joint below this score is missing.
      new_track_score: τ_new, the mean joint score an unmatched estimate needs to start a track.
      keep_score: τ_keep, the mean joint score a prediction needs to be emitted unmatched.
      max_misses: frames in a row a track may go without a detection before it ends.
      oks_gate: pairs with OKS below this stay unmatched.
      merge: how a matched prediction and estimate merge, per joint (the score is the higher
        of the two under every rule but "hrnet_only"): "weighted" (score-weighted mean where
        both agree, else the higher-scoring source), "max" (the higher-scoring source),
        "hrnet_only" (the estimate), "heatmap_average" (decoded from the score-weighted
        mean of the two sources' maps as distributions on HRNet's heatmap grid; see
        `heatmap_merge`), or "learned" ("weighted", except that where the two disagree the
        joint comes from the source the run's merge table finds right more often at that
        pair of scores; see `merge_table`) [ours].
      merge_agree: agreement distance for "weighted" and `merge_min_agree`, as a fraction of
        the estimate's box diagonal.
      merge_min_agree: the share of the joints present in both a matched prediction and
        estimate that must lie within the agreement distance for a joint-by-joint merge;
        below it the estimate is taken whole, so a merge never mixes two people [ours; 0:
        always merge, as before].
      recovered_confidence: an unmatched prediction's joint scores are multiplied by the mean
        joint score of the track's last pose before `keep_score` and the output thresholds
        apply [ours]: the GNN's probabilities assume a right history, and a track whose last
        pose was doubtful (a false detection, a half-hidden person) extrapolates doubt.
      recovered_max_oks: a recovered pose (an unmatched prediction) whose OKS against a
        detected pose of the frame (a matched estimate, or one that starts a track) exceeds
        this is suppressed: that person is already emitted [ours; 1: never, as before].
      plausibility: prune every pose before it is emitted or kept by the learned pose bounds
        (`plausibility.PoseBounds.keep`: joints cut off by a limb out of bounds, or too far
        from the rest, are removed) [ours; off by default; needs the run's bounds file].
      nms_oks: of two outputs with OKS above this, the lower-scoring one is dropped.
      min_box_score: detections below this score start no track and take no part in the
        first matching round.
      low_box_score: detections scored in [low_box_score, min_box_score) go to the second
        round [ours]: tracks the first round left unmatched are matched to their poses; the
        default 1.0 leaves the round off (`association`).
      low_oks_gate: the second round's OKS gate.
      reid_frames: an ended track stays re-identifiable while its person has gone undetected
        for at most this many frames [ours]; 0 (the default) ends tracks for good
        (`association.InactivePool`).
      reid_oks_gate: the OKS gate of re-identification.
      cover_iou: a GNN trained on detection crops (feature source "detections") takes a
        track's current features from the crop of the detection whose box overlaps the
        track's last pose box most, when that IoU is at least this; a track no detection
        covers gets a crop of its own.
      output_thresholds: per-joint (K,) or scalar score below which a joint is not written.
    """

    history: int = 3
    joint_threshold: float = 0.2
    new_track_score: float = 0.3
    keep_score: float = 0.3
    max_misses: int = 3
    oks_gate: float = 0.3
    merge: str = "weighted"
    merge_agree: float = 0.1
    merge_min_agree: float = 0.0
    recovered_confidence: bool = False
    recovered_max_oks: float = 1.0
    plausibility: bool = False
    nms_oks: float = 0.9
    min_box_score: float = 0.0
    low_box_score: float = 1.0
    low_oks_gate: float = 0.5
    reid_frames: int = 0
    reid_oks_gate: float = 0.3
    cover_iou: float = 0.3
    output_thresholds: tuple[float, ...] | float = 0.2

    def __post_init__(self):
        if self.merge not in MERGE_RULES:
            raise ConfigError(f"tracker.merge: expected one of {MERGE_RULES}, got {self.merge!r}")
        if not isinstance(self.reid_frames, int) or self.reid_frames < 0:
            raise ConfigError(f"tracker.reid_frames: expected a whole number of frames >= 0, "
                              f"got {self.reid_frames!r}")


def config_section_defaults() -> dict[str, Any]:
    """`TrackerConfig`'s defaults less `FROM_GNN`: the `tracker` section of every run config."""
    defaults = dataclasses.asdict(TrackerConfig())
    return {k: v for k, v in defaults.items() if k not in FROM_GNN}


class Pose(NamedTuple):
    """A pose in image pixels: keypoints (K, 2), per-joint scores (K,), and the maps it was
    decoded from (only while the "heatmap_average" rule may merge it, else None)."""

    keypoints: np.ndarray
    scores: np.ndarray
    maps: JointMaps | None = None

    @property
    def score(self) -> float:
        """Mean joint score."""
        return float(np.mean(self.scores))


class TrackedPose(NamedTuple):
    """One emitted person: its track id, pose, whether it came from the predictor alone, and
    the index of the frame's box whose estimate it holds (None for a recovered pose)."""

    track_id: int
    pose: Pose
    recovered: bool
    detection: int | None = None


@dataclasses.dataclass
class Track:
    """A tracked person: id, the last n (frame, pose) pairs emitted for it, missed frames, and
    the frame of its last detection."""

    track_id: int
    history: collections.deque
    misses: int = 0
    seen: int = 0

    @property
    def last_pose(self) -> Pose:
        return self.history[-1][1]


class PoseEstimator(Protocol):
    """Estimates poses in person boxes (HRNet); `TopDownEstimator` is one.

    `estimate(image, boxes)` returns `(keypoints, scores, ...)`; with `extra` crops (only
    asked of the predictor's own estimator) it also runs them and returns their features as
    the third item. Asked with `maps=True` (only under "heatmap_average"), its result also
    has `heatmaps` (N, h, w, K) and `heatmap_to_image` (N, 2, 3) (`TopDownEstimator`'s).
    """

    def estimate(self, image: np.ndarray, boxes: np.ndarray, extra=None, maps=False): ...


class PosePredictor(Protocol):
    """Predicts a track's pose in the current frame from its history (the GNN).

    Attributes:
      estimator: the network whose crop features `predict` reads (run on `crops`); when it
        is the tracker's estimator, the crops run in the same batched call as the detections'.
      detection_features: optional, False when absent; True: `predict` and `observe` also
        read the features of the frame's detection crops (`detections`, from `estimator`).
    """

    estimator: Any

    def crops(self, image: np.ndarray, frame_index: int, tracks: list[Track],
              boxes: np.ndarray, cover_iou: float) -> np.ndarray | None:
        """The normalised crops whose features `predict` needs this frame, or None; `boxes`
        (N, 4) are the frame's detections (`TrackerConfig.cover_iou`)."""

    def predict(self, image: np.ndarray, frame_index: int, tracks: list[Track],
                features: np.ndarray | None, maps: bool = False, **detections
                ) -> list[Pose | None]:
        """One pose per track of the last `crops` call (None: no prediction); with `maps`
        (only passed, True, under "heatmap_average"), each pose carries its `JointMaps`.
        With `detection_features`, `detections=(features, image -> crop matrices)` of the
        boxes' crops is passed too."""

    def observe(self, image: np.ndarray, frame_index: int, outputs: list[TrackedPose],
                **detections) -> None:
        """Called once per frame with what was emitted, so history crops can be cached
        (`detections` as for `predict`)."""


def _bare(pose: Pose) -> Pose:
    """The pose without its maps (emitted poses and track histories never keep them)."""
    return pose if pose.maps is None else pose._replace(maps=None)


def merge_poses(predicted: Pose, estimated: Pose, rule: str, agree: float,
                threshold: float, min_agree: float = 0.0, table: MergeTable | None = None
                ) -> Pose:
    """Merges a matched prediction and estimate joint by joint (docs/spec/method.md §1 step 5),
    or returns the estimate whole where they agree on fewer than `min_agree` of their shared
    joints (`same_person.agreement`). Only "heatmap_average" reads maps (both poses need
    them); its result carries none. "learned" needs the merge `table`."""
    if rule == "hrnet_only":
        return estimated
    p, e = predicted, estimated
    if min_agree > 0 and agreement(p, e, agree, threshold) < min_agree:
        return estimated
    if rule == "heatmap_average":
        if p.maps is None or e.maps is None:
            raise ValueError("merge_poses: heatmap_average needs both poses' maps")
        return Pose(*heatmap_average(p.maps, p.scores, e.maps, e.scores, p.keypoints,
                                     e.keypoints, threshold))
    if rule == "learned":
        if table is None:
            raise ValueError("merge_poses: the learned rule needs a merge table")
        take_pred = table.take_prediction(p.scores, e.scores)
    else:
        take_pred = p.scores > e.scores
    keypoints = np.where(take_pred[:, None], p.keypoints, e.keypoints)
    if rule in ("weighted", "learned"):
        _, both = close_joints(p, e, agree, threshold)
        w = p.scores / np.maximum(p.scores + e.scores, 1e-9)
        mean = w[:, None] * p.keypoints + (1 - w[:, None]) * e.keypoints
        keypoints = np.where(both[:, None], mean, keypoints)
    return Pose(keypoints, np.maximum(p.scores, e.scores))


def pose_nms(outputs: list[TrackedPose], oks_threshold: float, joint_threshold: float
             ) -> list[TrackedPose]:
    """Drops the lower-scoring of any two outputs with OKS above `oks_threshold`."""
    order = sorted(range(len(outputs)), key=lambda i: -outputs[i].pose.score)
    poses = [outputs[i].pose for i in order]
    sim = pose_oks(poses, poses, joint_threshold)
    keep: list[int] = []
    for i in range(len(order)):
        if all(sim[i, j] <= oks_threshold and sim[j, i] <= oks_threshold for j in keep):
            keep.append(i)
    return [outputs[order[i]] for i in sorted(keep)]


class OnlineTracker:
    """Frame-by-frame tracking. `predictor=None` is the baseline.

    Args:
      estimator: HRNet on boxes (`estimate(image, boxes) -> (keypoints, scores, ...)`).
      config: thresholds.
      predictor: the pose-dynamics predictor, or None for the baseline.
      bounds: the learned pose bounds (`config.plausibility` needs them).
      merge_table: the run's merge table (`config.merge == "learned"` with a predictor
        needs it).
      on_pair: called as `on_pair(frame_index, prediction, estimate)` with every matched pair
        of a prediction and an estimate, before they merge (`merge_fit` records them).

    Raises:
      ConfigError: `config.plausibility` without bounds, or the learned merge with a predictor
        but without a table.
    """

    def __init__(self, estimator: PoseEstimator, config: TrackerConfig,
                 predictor: PosePredictor | None = None, bounds: PoseBounds | None = None,
                 merge_table: MergeTable | None = None,
                 on_pair: Callable[[int, Pose, Pose], None] | None = None):
        if config.plausibility and bounds is None:
            raise ConfigError("tracker.plausibility needs pose bounds: the run folder's "
                              f"{POSE_BOUNDS}, which GNN training writes (or set "
                              "tracker.plausibility False)")
        if config.merge == "learned" and predictor is not None and merge_table is None:
            raise ConfigError(f"tracker.merge 'learned' needs a merge table: the run folder's "
                              f"{MERGE_TABLE}; fit one with `python -m gnnpose_jax.fit_merge "
                              "--workdir RUN --data DIR --split tune` (or set tracker.merge "
                              "'weighted')")
        self.estimator, self.config, self.predictor = estimator, config, predictor
        self.bounds = bounds if config.plausibility else None
        self.merge_table, self.on_pair = merge_table, on_pair
        self.tracks: list[Track] = []
        #: Ended tracks that may still be re-identified (`TrackerConfig.reid_frames`).
        self.pool = InactivePool(config.reid_frames)
        self._next_id = 0
        #: Boxes dropped as unusable (`transforms.usable_boxes`) so far.
        self.dropped_boxes = 0
        #: Boxes dropped so far because their frame had more than `MAX_BOXES_PER_FRAME`.
        self.capped_boxes = 0
        #: Seconds spent per stage: "hrnet" (every HRNet call: the detections' crops and the
        #: predictor's), "gnn" (the predictor's own work), "match" (the rest).
        self.timings = collections.Counter()

    def _new_track(self, frame_index: int, pose: Pose) -> Track:
        track = Track(self._next_id, collections.deque(maxlen=self.config.history),
                      seen=frame_index)
        track.history.append((frame_index, pose))
        self._next_id += 1
        self.tracks.append(track)
        return track

    def _plausible(self, pose: Pose) -> Pose:
        """The pose pruned by the pose bounds (`config.plausibility`), else as it is."""
        if self.bounds is None:
            return pose
        return pose._replace(scores=self.bounds.prune(pose.keypoints, pose.scores,
                                                      self.config.joint_threshold))

    def _cap(self, boxes: np.ndarray) -> np.ndarray:
        """The `MAX_BOXES_PER_FRAME` highest-scoring boxes (the first ones without scores),
        in their order; the others are counted in `capped_boxes`."""
        if len(boxes) <= MAX_BOXES_PER_FRAME:
            return boxes
        self.capped_boxes += len(boxes) - MAX_BOXES_PER_FRAME
        if boxes.shape[1] < 5:
            return boxes[:MAX_BOXES_PER_FRAME]
        best = np.argsort(-boxes[:, 4], kind="stable")[:MAX_BOXES_PER_FRAME]
        return boxes[np.sort(best)]

    def _boxes(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The usable boxes split by score: the confident ones (capped, `[x, y, w, h]`) and
        the low-score ones of the second round (all of them, with their scores)."""
        cfg = self.config
        boxes = np.asarray(boxes, np.float64)
        boxes = boxes.reshape(-1, boxes.shape[-1] if len(boxes) else 5)
        usable = transforms.usable_boxes(boxes, image.shape[:2])
        self.dropped_boxes += int(len(boxes) - usable.sum())
        boxes, low = boxes[usable], boxes[:0]
        if boxes.shape[1] == 5:
            score = boxes[:, 4]
            low = boxes[(score >= cfg.low_box_score) & (score < cfg.min_box_score)]
            boxes = boxes[score >= cfg.min_box_score]
        return self._cap(boxes)[:, :4], low

    def _retire(self, keep) -> None:
        """Moves the tracks for which `keep(track)` is false into the inactive pool."""
        self.pool.add([t for t in self.tracks if not keep(t)])
        self.tracks = [t for t in self.tracks if keep(t)]

    def _estimate(self, image: np.ndarray, boxes: np.ndarray, crops: np.ndarray | None,
                  maps: dict) -> tuple[Any, np.ndarray | None, dict]:
        """HRNet on the frame's boxes and the predictor's crops: (the estimates, the crops'
        features, `{"detections": (features, image -> crop matrices)}` of the boxes' crops
        when the predictor reads them, else {}). When the predictor shares the tracker's
        estimator, all of it is one batched call."""
        predictor = self.predictor
        wants = predictor is not None and getattr(predictor, "detection_features", False)
        shared = predictor is not None and predictor.estimator is self.estimator
        extra = {"extra": crops} if shared and crops is not None else {}
        if shared and wants:
            extra["features"] = True
        est = self.estimator.estimate(image, boxes, **extra, **maps)
        features = est[2] if shared and crops is not None else None
        if wants and shared:
            return est, features, {"detections": (est.features, est.crop_matrices)}
        if wants:
            own = predictor.estimator.estimate(image, boxes, extra=crops, features=True)
            return est, own.extra_features, {"detections": (own.features, own.crop_matrices)}
        if crops is not None and not shared:
            features = predictor.estimator.run(crops)[1]
        return est, features, {}

    def step(self, frame_index: int, image: np.ndarray, boxes: np.ndarray) -> list[TrackedPose]:
        """Processes one frame.

        Args:
          frame_index: the frame's position in the video.
          image: (H, W, 3) uint8 RGB.
          boxes: (N, 5) `[x, y, w, h, score]` person boxes (or (N, 4) without scores); boxes
            that cannot be cropped (non-finite, empty, or absurdly large or far for the frame)
            are dropped and counted in `dropped_boxes`; of more than `MAX_BOXES_PER_FRAME`
            boxes (above `min_box_score`), the highest-scoring are kept and the others
            counted in `capped_boxes`; of the low-score boxes, those `association.low_boxes`
            picks.

        Returns:
          The emitted people of this frame.
        """
        cfg, threshold = self.config, self.config.joint_threshold
        boxes, low = self._boxes(image, boxes)
        self._retire(lambda t: frame_index - t.history[-1][0] <= cfg.history)
        active = list(self.tracks)
        self.pool.expire(frame_index)
        # Pool tracks with a pose in the last n frames: the predictor's poses re-identify them.
        recent = [t for t in self.pool.tracks if frame_index - t.history[-1][0] <= cfg.history]
        low = low_boxes(low, [b for b in (pose_box(t.last_pose, threshold) for t in active)
                              if b is not None])
        asked = active + recent
        predictor = self.predictor if asked else None
        t0 = time.perf_counter()
        all_boxes = np.concatenate([boxes, low[:, :4]])
        crops = (predictor.crops(image, frame_index, asked, all_boxes, cfg.cover_iou)
                 if predictor is not None else None)
        t1 = time.perf_counter()
        # Maps only for the rule that reads them, and only when there is a prediction to merge.
        maps = {"maps": True} if cfg.merge == "heatmap_average" and predictor is not None else {}
        est, features, detections = self._estimate(image, all_boxes, crops, maps)
        estimates = [Pose(k.astype(np.float64), s.astype(np.float64))
                     for k, s in zip(est[0], est[1], strict=True)]
        if maps:
            estimates = [pose._replace(maps=JointMaps(h, m)) for pose, h, m
                         in zip(estimates, est.heatmaps, est.heatmap_to_image, strict=True)]
        estimates, low_estimates = estimates[:len(boxes)], estimates[len(boxes):]
        t2 = time.perf_counter()
        if predictor is not None:
            predictions = predictor.predict(image, frame_index, asked, features, **maps,
                                            **detections)
        else:
            predictions = [None] * len(asked)
        pool_predictions = {t.track_id: p for t, p in zip(recent, predictions[len(active):],
                                                           strict=True) if p is not None}
        predictions = predictions[:len(active)]
        t3 = time.perf_counter()
        self.timings["hrnet"] += t2 - t1
        self.timings["gnn"] += (t1 - t0) + (t3 - t2)
        # Without a prediction, a track is associated through its last pose but never emitted.
        references = [p if p is not None else t.last_pose
                      for t, p in zip(active, predictions, strict=True)]
        first = match(pose_oks(references, estimates, threshold), cfg.oks_gate)
        matched_estimates = {ei for _, ei in first}
        # (track, pose, its box's index in all_boxes)
        pairs = [(ti, estimates[ei], ei) for ti, ei in first]
        # Second round: the tracks left unmatched against the low-score boxes' poses.
        left = sorted(set(range(len(active))) - {ti for ti, _ in first})
        second = match(pose_oks([references[ti] for ti in left], low_estimates, threshold),
                       cfg.low_oks_gate)
        pairs += [(left[li], low_estimates[ei], len(boxes) + ei) for li, ei in second]

        outputs: list[TrackedPose] = []
        matched_tracks = set()
        for ti, pose, di in pairs:
            track, prediction = active[ti], predictions[ti]
            if prediction is not None:
                if self.on_pair is not None:
                    self.on_pair(frame_index, prediction, pose)
                pose = merge_poses(prediction, pose, cfg.merge, cfg.merge_agree,
                                   cfg.joint_threshold, cfg.merge_min_agree, self.merge_table)
            pose = self._plausible(_bare(pose))
            track.history.append((frame_index, pose))
            track.misses, track.seen = 0, frame_index
            outputs.append(TrackedPose(track.track_id, pose, recovered=False, detection=di))
            matched_tracks.add(ti)

        detected = [pose for ei, pose in enumerate(estimates)
                    if ei in matched_estimates or pose.score >= cfg.new_track_score]
        for ti, track in enumerate(active):
            if ti in matched_tracks:
                continue
            track.misses += 1
            prediction = predictions[ti]
            if prediction is not None and cfg.recovered_confidence:
                prediction = Pose(prediction.keypoints,
                                  prediction.scores * track.last_pose.score)
            if prediction is not None:
                prediction = self._plausible(_bare(prediction))
            if (prediction is not None and track.misses <= cfg.max_misses
                    and prediction.score >= cfg.keep_score
                    and not covered(prediction, detected, cfg.recovered_max_oks,
                                    cfg.joint_threshold)):
                track.history.append((frame_index, prediction))
                outputs.append(TrackedPose(track.track_id, prediction, recovered=True))

        # An estimate that would start a track first looks for its person in the pool.
        fresh = [ei for ei, pose in enumerate(estimates)
                 if ei not in matched_estimates and pose.score >= cfg.new_track_score]
        for track, fi in self.pool.reidentify(frame_index, [estimates[ei] for ei in fresh],
                                              pool_predictions, cfg.reid_oks_gate, threshold):
            pose = self._plausible(_bare(estimates[fresh[fi]]))
            track.history.append((frame_index, pose))
            track.misses, track.seen = 0, frame_index
            self.tracks.append(track)
            outputs.append(TrackedPose(track.track_id, pose, recovered=False,
                                       detection=fresh[fi]))
            matched_estimates.add(fresh[fi])

        for ei, pose in enumerate(estimates):
            if ei in matched_estimates:
                continue
            pose = self._plausible(_bare(pose))
            if pose.score >= cfg.new_track_score:
                track = self._new_track(frame_index, pose)
                outputs.append(TrackedPose(track.track_id, pose, recovered=False, detection=ei))

        self._retire(lambda t: t.misses <= cfg.max_misses
                     and frame_index - t.history[-1][0] <= cfg.history)
        outputs = pose_nms(outputs, cfg.nms_oks, cfg.joint_threshold)
        t4 = time.perf_counter()
        self.timings["match"] += t4 - t3
        if self.predictor is not None:
            self.predictor.observe(image, frame_index, outputs, **detections)
            self.timings["gnn"] += time.perf_counter() - t4
        return outputs


def warn_capped_boxes(count: int, where: str) -> None:
    """Logs how many person boxes of `where` were dropped over `MAX_BOXES_PER_FRAME`, if any."""
    if count:
        logging.getLogger(__name__).warning(
            "%s: dropped %d person box(es) of frames with more than %d (the per-frame cap, "
            "docs/limits.md); the highest-scoring ones were kept", where, count,
            MAX_BOXES_PER_FRAME)


def output_keypoints(pose: Pose, thresholds: np.ndarray | float) -> np.ndarray:
    """(K, 3) [x, y, 1] rows for joints at or above their threshold, (0, 0, 0) for the rest."""
    keep = pose.scores >= np.broadcast_to(np.asarray(thresholds, np.float64),
                                          (joints.NUM_JOINTS,))
    out = np.zeros((joints.NUM_JOINTS, 3))
    out[keep, :2] = pose.keypoints[keep]
    out[keep, 2] = 1.0
    return out
