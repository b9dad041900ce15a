"""The online tracker of docs/spec/method.md §1: estimate, predict, match, merge, emit.

Each frame: HRNet estimates a pose per person box; a `PosePredictor` (the GNN, or a hand-set
one in tests) predicts each active track's pose from its recent history without looking at
this frame's boxes; predictions and estimates are matched by the Hungarian algorithm on
1 − OKS with a gate; matched pairs merge and keep the track id, unmatched estimates start
tracks, unmatched predictions are emitted for people the detector missed, and pose NMS removes
duplicates. Without a predictor (the baseline) tracks are associated by OKS against their last
pose and unmatched tracks are not emitted.

Merge rules (`TrackerConfig.merge`): "weighted", "max", "hrnet_only" (`merge_poses`) and
"heatmap_average" (`heatmap_merge`), the one rule that needs the sources' per-joint maps: only
under it does the tracker ask the estimator and the predictor for them (`Pose.maps`), so the
other rules copy no maps off the device; emitted poses never keep them.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from typing import Any, NamedTuple, Protocol

import numpy as np
from scipy.optimize import linear_sum_assignment

from gnnpose_jax.data import joints, transforms
from gnnpose_jax.errors import ConfigError
from gnnpose_jax.tracking.heatmap_merge import JointMaps, heatmap_average
from gnnpose_jax.tracking.oks import oks_matrix, pose_box_area

MERGE_RULES = ("weighted", "max", "hrnet_only", "heatmap_average")
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
        "hrnet_only" (the estimate), or "heatmap_average" (decoded from the score-weighted
        mean of the two sources' maps as distributions on HRNet's heatmap grid; see
        `heatmap_merge`).
      merge_agree: agreement distance for "weighted", as a fraction of the box diagonal.
      recovered_confidence: an unmatched prediction's joint scores are multiplied by the mean
        joint score of the track's last pose before `keep_score` and the output thresholds
        apply [ours]: the GNN's probabilities assume a right history, and a track whose last
        pose was doubtful (a false detection, a half-hidden person) extrapolates doubt.
      nms_oks: of two outputs with OKS above this, the lower-scoring one is dropped.
      min_box_score: detections below this score are ignored.
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
    recovered_confidence: bool = False
    nms_oks: float = 0.9
    min_box_score: float = 0.0
    cover_iou: float = 0.3
    output_thresholds: tuple[float, ...] | float = 0.2

    def __post_init__(self):
        if self.merge not in MERGE_RULES:
            raise ConfigError(f"tracker.merge: expected one of {MERGE_RULES}, got {self.merge!r}")


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
    """A tracked person: id, the last n (frame, pose) pairs emitted for it, missed frames."""

    track_id: int
    history: collections.deque
    misses: int = 0

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


def _present(poses: list[Pose], threshold: float) -> np.ndarray:
    return np.stack([p.scores >= threshold for p in poses]).reshape(len(poses), -1)


def _oks(a: list[Pose], b: list[Pose], threshold: float) -> np.ndarray:
    """OKS of each pose of `a` against each pose of `b`, with `b`'s box area as the scale."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    ak, bk = np.stack([p.keypoints for p in a]), np.stack([p.keypoints for p in b])
    ap, bp = _present(a, threshold), _present(b, threshold)
    return oks_matrix(ak, ap, bk, bp, pose_box_area(bk, bp))


def match(similarity: np.ndarray, gate: float) -> list[tuple[int, int]]:
    """Hungarian assignment maximising similarity; pairs below `gate` are dropped."""
    if similarity.size == 0:
        return []
    rows, cols = linear_sum_assignment(1.0 - similarity)
    return [(r, c) for r, c in zip(rows, cols, strict=True) if similarity[r, c] >= gate]


def merge_poses(predicted: Pose, estimated: Pose, rule: str, agree: float,
                threshold: float) -> Pose:
    """Merges a matched prediction and estimate joint by joint (docs/spec/method.md §1 step 5).
    Only "heatmap_average" reads maps (both poses need them); its result carries none."""
    if rule == "hrnet_only":
        return estimated
    p, e = predicted, estimated
    if rule == "heatmap_average":
        if p.maps is None or e.maps is None:
            raise ValueError("merge_poses: heatmap_average needs both poses' maps")
        return Pose(*heatmap_average(p.maps, p.scores, e.maps, e.scores, p.keypoints,
                                     e.keypoints, threshold))
    take_pred = p.scores > e.scores
    keypoints = np.where(take_pred[:, None], p.keypoints, e.keypoints)
    if rule == "weighted":
        present = (p.scores >= threshold) & (e.scores >= threshold)
        area_box = _box_diagonal(e, threshold)
        close = np.linalg.norm(p.keypoints - e.keypoints, axis=1) < agree * area_box
        both = present & close
        w = p.scores / np.maximum(p.scores + e.scores, 1e-9)
        mean = w[:, None] * p.keypoints + (1 - w[:, None]) * e.keypoints
        keypoints = np.where(both[:, None], mean, keypoints)
    return Pose(keypoints, np.maximum(p.scores, e.scores))


def _box_diagonal(pose: Pose, threshold: float) -> float:
    present = pose.scores >= threshold
    if present.sum() < 2:
        return 0.0
    _, _, w, h = transforms.box_from_keypoints(pose.keypoints, present=present)
    return float(np.linalg.norm((w, h)))


def pose_nms(outputs: list[TrackedPose], oks_threshold: float, joint_threshold: float
             ) -> list[TrackedPose]:
    """Drops the lower-scoring of any two outputs with OKS above `oks_threshold`."""
    order = sorted(range(len(outputs)), key=lambda i: -outputs[i].pose.score)
    poses = [outputs[i].pose for i in order]
    sim = _oks(poses, poses, joint_threshold)
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
    """

    def __init__(self, estimator: PoseEstimator, config: TrackerConfig,
                 predictor: PosePredictor | None = None):
        self.estimator, self.config, self.predictor = estimator, config, predictor
        self.tracks: list[Track] = []
        self._next_id = 0
        #: Boxes dropped as unusable (`transforms.usable_boxes`) so far.
        self.dropped_boxes = 0
        #: Boxes dropped so far because their frame had more than `MAX_BOXES_PER_FRAME`.
        self.capped_boxes = 0
        #: Seconds spent per stage: "hrnet" (every HRNet call: the detections' crops and the
        #: predictor's), "gnn" (the predictor's own work), "match" (the rest).
        self.timings = collections.Counter()

    def _new_track(self, frame_index: int, pose: Pose) -> Track:
        track = Track(self._next_id, collections.deque(maxlen=self.config.history))
        track.history.append((frame_index, pose))
        self._next_id += 1
        self.tracks.append(track)
        return track

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
            counted in `capped_boxes`.

        Returns:
          The emitted people of this frame.
        """
        cfg = self.config
        boxes = np.asarray(boxes, np.float64)
        boxes = boxes.reshape(-1, boxes.shape[-1] if len(boxes) else 5)
        usable = transforms.usable_boxes(boxes, image.shape[:2])
        self.dropped_boxes += int(len(boxes) - usable.sum())
        boxes = boxes[usable]
        if boxes.shape[1] == 5:
            boxes = boxes[boxes[:, 4] >= cfg.min_box_score]
        boxes = self._cap(boxes)[:, :4]
        active = [t for t in self.tracks if frame_index - t.history[-1][0] <= cfg.history]
        predictor = self.predictor if active else None
        t0 = time.perf_counter()
        crops = (predictor.crops(image, frame_index, active, boxes, cfg.cover_iou)
                 if predictor is not None else None)
        t1 = time.perf_counter()
        # Maps only for the rule that reads them, and only when there is a prediction to merge.
        maps = {"maps": True} if cfg.merge == "heatmap_average" and predictor is not None else {}
        est, features, detections = self._estimate(image, boxes, crops, maps)
        estimates = [Pose(k.astype(np.float64), s.astype(np.float64))
                     for k, s in zip(est[0], est[1], strict=True)]
        if maps:
            estimates = [pose._replace(maps=JointMaps(h, m)) for pose, h, m
                         in zip(estimates, est.heatmaps, est.heatmap_to_image, strict=True)]
        t2 = time.perf_counter()
        if predictor is not None:
            predictions = predictor.predict(image, frame_index, active, features, **maps,
                                            **detections)
        else:
            predictions = [None] * len(active)
        t3 = time.perf_counter()
        self.timings["hrnet"] += t2 - t1
        self.timings["gnn"] += (t1 - t0) + (t3 - t2)
        # Without a prediction, a track is associated through its last pose but never emitted.
        references = [p if p is not None else t.last_pose
                      for t, p in zip(active, predictions, strict=True)]
        pairs = match(_oks(references, estimates, cfg.joint_threshold), cfg.oks_gate)

        outputs: list[TrackedPose] = []
        matched_tracks, matched_estimates = set(), set()
        for ti, ei in pairs:
            track, prediction = active[ti], predictions[ti]
            pose = estimates[ei]
            if prediction is not None:
                pose = merge_poses(prediction, pose, cfg.merge, cfg.merge_agree,
                                   cfg.joint_threshold)
            pose = _bare(pose)
            track.history.append((frame_index, pose))
            track.misses = 0
            outputs.append(TrackedPose(track.track_id, pose, recovered=False, detection=ei))
            matched_tracks.add(ti)
            matched_estimates.add(ei)

        for ti, track in enumerate(active):
            if ti in matched_tracks:
                continue
            track.misses += 1
            prediction = predictions[ti]
            if prediction is not None and cfg.recovered_confidence:
                prediction = Pose(prediction.keypoints,
                                  prediction.scores * track.last_pose.score)
            if (prediction is not None and track.misses <= cfg.max_misses
                    and prediction.score >= cfg.keep_score):
                prediction = _bare(prediction)
                track.history.append((frame_index, prediction))
                outputs.append(TrackedPose(track.track_id, prediction, recovered=True))

        for ei, pose in enumerate(estimates):
            if ei not in matched_estimates and pose.score >= cfg.new_track_score:
                pose = _bare(pose)
                track = self._new_track(frame_index, pose)
                outputs.append(TrackedPose(track.track_id, pose, recovered=False, detection=ei))

        self.tracks = [t for t in self.tracks if t.misses <= cfg.max_misses
                       and frame_index - t.history[-1][0] <= cfg.history]
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
