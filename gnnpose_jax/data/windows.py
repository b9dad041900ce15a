"""Tracklet windows for GNN training (docs/spec/method.md §4).

A sample is (track, t): the track has a ground-truth pose at frame t and at least one in
t-n ... t-1. Its window holds, for offsets f = 0 ... n (frame t - f):

- the history poses (f >= 1): the GT poses, augmented as estimates would be wrong [ours]:
  joints jittered with sd 0.03 x the pose box's longer side, dropped with probability 0.1, and
  given scores from U(0.5, 1); or, with `history_from_estimates`, HRNet's estimates of those
  people as they are (`training/history.py`);
- the crops, cut one of two ways (`WindowConfig.feature_source`, recorded in the GNN export):
  "poses": frame t - f cropped around that frame's (augmented) pose box, enlarged 1.25 as a
  detection would be, and the current frame (f = 0) around the box of the *last* history pose
  enlarged 1.25 x 1.2, exactly as the tracker does at inference (`track_crop_region`);
  "detections": every frame cropped around the person's detection-like box of that frame
  (`detection_like_box`, enlarged 1.25 as HRNet's crops are), the crops the tracker already
  ran HRNet on; with probability `uncovered_prob` the current crop is the last pose's track
  crop instead, as for a track no detection covers at inference;
- the GT pose at t, the GNN's target, with each joint's visibility (for validation).

One random similarity is applied to the whole window: a mirror (left/right slots swapped) and a
rotation about the last pose box's centre move every pose, and a scale multiplies every crop
size, so the person appears larger or smaller in the crops while positions stay comparable
(official HRNet draws: scale clip(N(1, 0.35), 0.65, 1.35), rotation clip(N(0, 45), -90, 90)
degrees with probability 0.6, mirror with probability 0.5). All coordinates of a window live in
its *window frame*: the image frame moved by that similarity (`frame_matrix`); without
augmentation the two are the same. Windows plug into `graphs.build_graph` as
`(history, crop_matrices[1:], crop_matrices[0], box, target)`.

Pure NumPy functions, deterministic given the `np.random.Generator`. Shapes: n history frames,
T = n + 1 crops, K joint slots, (H, W) the HRNet input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from collections.abc import Sequence as SequenceType
from typing import NamedTuple

import numpy as np

from gnnpose_jax.data import transforms
from gnnpose_jax.data.joints import FLIP_PERMUTATION

#: Room for motion around the last pose, on top of the box enlargement (docs/spec/method.md §2).
TRACK_ENLARGE = 1.2
#: Where the GNN's crops come from: crops of their own around poses, or the detections' crops.
FEATURE_SOURCES = ("poses", "detections")


@dataclasses.dataclass(frozen=True)
class WindowConfig:
    """Window size, crop geometry and augmentation of GNN training samples.

    Attributes:
      history: n, history frames per window.
      input_hw: (H, W) of the HRNet input, the crop size.
      box_enlarge: enlargement of a history frame's pose box (a detection crop).
      track_enlarge: extra enlargement of the current crop around the last pose.
      box_threshold: joints scoring above this count for a pose's box.
      min_box_side: a pose box is grown to at least this many pixels per side.
      min_joints: a GT pose needs at least this many annotated joints.
      jitter: history joint jitter sd, as a fraction of the pose box's longer side.
      dropout: probability of dropping a history joint.
      score_range: history joint scores are drawn uniformly from this range.
      scale_factor: crop sizes scale by clip(N(1, sf), 1 - sf, 1 + sf).
      rotation_factor: rotation clip(N(0, rf), -2 rf, 2 rf) degrees, drawn with
        `rotation_prob`, else 0.
      rotation_prob: see `rotation_factor`.
      flip_prob: probability of mirroring the window.
      history_from_estimates: the history poses given to `make_window` are estimates
        [x, y, score], used as they are (no jitter, dropout or drawn scores).
      feature_source: "poses" or "detections" (the module docstring).
      uncovered_prob: under "detections", the probability that an augmented window's current
        crop is the track crop (no detection covers the track).
      detection_jitter: (centre sd as a fraction of the side, log-scale sd of each side) of
        `detection_like_box`.
    """

    history: int = 3
    input_hw: tuple[int, int] = (384, 288)
    box_enlarge: float = transforms.BOX_ENLARGE
    track_enlarge: float = TRACK_ENLARGE
    box_threshold: float = 0.0
    min_box_side: float = 8.0
    min_joints: int = 1
    jitter: float = 0.03
    dropout: float = 0.1
    score_range: tuple[float, float] = (0.5, 1.0)
    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    history_from_estimates: bool = False
    feature_source: str = "poses"
    uncovered_prob: float = 0.2
    detection_jitter: tuple[float, float] = (0.05, 0.08)


class TrackletWindow(NamedTuple):
    """One GNN training sample. Offset f indexes frame t - f (0 is the current frame).

    Attributes:
      crops: (T, H, W, 3) float32 normalised RGB crops, crops[f] of frame t - f; zeros for a
        history frame without a pose.
      crop_matrices: (T, 2, 3) float32 window-frame -> crop matrices; zeros where no crop.
      image_matrices: (T, 2, 3) float32 image -> crop matrices, the warps that made the crops
        (`crop_matrices` after `frame_matrix`); zeros where no crop.
      frame_valid: (T,) bool, which crops exist.
      history: (n, K, 3) float32 [x, y, score] window-frame poses, history[f - 1] of frame
        t - f; a missing joint (or frame) has score 0.
      box: (4,) float32 [x, y, w, h] window-frame box of the last history pose; its centre and
        longer side set the GNN's position frame.
      target: (K, 4) float32 [x, y, annotated, visible] window-frame GT pose at t (visible:
        annotated with a visibility flag > 0, as HRNet mode's validation counts it).
      frame_matrix: (2, 3) float32 image -> window frame (the window's similarity).
    """

    crops: np.ndarray
    crop_matrices: np.ndarray
    image_matrices: np.ndarray
    frame_valid: np.ndarray
    history: np.ndarray
    box: np.ndarray
    target: np.ndarray
    frame_matrix: np.ndarray


def pose_box(pose: np.ndarray, threshold: float = 0.0, min_side: float = 8.0,
             present: np.ndarray | None = None) -> np.ndarray:
    """`transforms.box_from_keypoints`, each side grown to at least `min_side`.

    The crops of windows and of the tracker are cut around this box; `min_side` keeps a pose
    of one or two joints from giving a degenerate crop.

    Args:
      pose: (K, 3) [x, y, score or visibility-like value], or (K, 2) with `present`.
      threshold: joints with a third value above it count.
      min_side: short sides grow about the box centre to this length.
      present: optional (K,) bool mask of the joints that count, replacing the threshold test.

    Returns:
      (4,) float64 [x, y, w, h].

    Raises:
      ValueError: if no joint counts.
    """
    x, y, w, h = transforms.box_from_keypoints(pose, threshold, present)
    grow_w, grow_h = max(min_side - w, 0.0), max(min_side - h, 0.0)
    return np.array([x - grow_w / 2, y - grow_h / 2, w + grow_w, h + grow_h])


def track_crop_region(pose: np.ndarray, input_hw: tuple[int, int],
                      enlarge: float = transforms.BOX_ENLARGE * TRACK_ENLARGE,
                      threshold: float = 0.0, min_side: float = 8.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Centre and pixel scale of the current-frame crop from a track's last pose (inference rule).

    The pose's box is fixed to the input's aspect ratio and enlarged 1.25 x 1.2.

    Args:
      pose: (K, 3) [x, y, score] the track's last pose.
      input_hw: (H, W) of the HRNet input.
      enlarge: the total enlargement.
      threshold: joints scoring above it make the box.
      min_side: minimum box side in pixels.

    Returns:
      center (2,) and scale (2,) for `transforms.get_affine_transform`.
    """
    box = pose_box(pose, threshold, min_side)
    return transforms.box_to_center_scale(box, input_hw[1] / input_hw[0], enlarge)


def history_crop_matrix(pose: np.ndarray, input_hw: tuple[int, int], enlarge: float,
                        threshold: float = 0.0, min_side: float = 8.0, scale: float = 1.0
                        ) -> np.ndarray:
    """(2, 3) matrix of a history frame's crop: the pose's box enlarged like a detection's.

    Training windows (`make_window`) and the tracker's GNN predictor both cut crops with it.

    Args:
      pose: (K, 3) [x, y, score] the pose of that frame.
      input_hw: (H, W) of the crop.
      enlarge: the box enlargement.
      threshold, min_side: of `pose_box`.
      scale: multiplies the crop size (training's scale augmentation).
    """
    in_h, in_w = input_hw
    center, size = transforms.box_to_center_scale(pose_box(pose, threshold, min_side),
                                                  in_w / in_h, enlarge)
    return transforms.get_affine_transform(center, size * scale, 0.0, (in_w, in_h))


def current_crop_matrix(pose: np.ndarray, input_hw: tuple[int, int], enlarge: float,
                        threshold: float = 0.0, min_side: float = 8.0, scale: float = 1.0
                        ) -> np.ndarray:
    """(2, 3) matrix of the current frame's crop around a track's last pose
    (`track_crop_region`; `enlarge` is the total enlargement), for training and the tracker
    alike; arguments as `history_crop_matrix`."""
    in_h, in_w = input_hw
    center, size = track_crop_region(pose, input_hw, enlarge, threshold, min_side)
    return transforms.get_affine_transform(center, size * scale, 0.0, (in_w, in_h))


def detection_like_box(box: np.ndarray, record_index: int, track: int,
                       jitter: tuple[float, float]) -> np.ndarray:
    """A person's box [x, y, w, h] moved as a detector's box would be: the centre by
    N(0, centre sd x side) per axis, each side scaled by exp(N(0, log sd)) (the synthetic
    world's detection model). The draw depends only on (record, track), so a person's history
    estimate and every window's crop of that frame are cut from the one box, as at inference.
    """
    centre_sd, scale_sd = jitter
    rng = np.random.default_rng([int(record_index), int(track) % 2**32])
    x, y, w, h = np.asarray(box, np.float64)
    cx = x + w / 2 + centre_sd * w * rng.standard_normal()
    cy = y + h / 2 + centre_sd * h * rng.standard_normal()
    w *= np.exp(scale_sd * rng.standard_normal())
    h *= np.exp(scale_sd * rng.standard_normal())
    return np.array([cx - w / 2, cy - h / 2, w, h])


def detection_crop_matrix(box: np.ndarray, input_hw: tuple[int, int], enlarge: float,
                          frame_matrix: np.ndarray | None = None, scale: float = 1.0
                          ) -> np.ndarray:
    """(2, 3) matrix of a detection box's crop, the one HRNet's estimator cuts
    (`transforms.box_crop_transform`, bitwise): training windows and the tracker's GNN
    predictor both use it. In a window frame (`frame_matrix`, image -> window frame) the box's
    centre moves with the frame and the crop size is multiplied by `scale`."""
    in_h, in_w = input_hw
    center, size = transforms.box_to_center_scale(box, in_w / in_h, enlarge)
    if frame_matrix is not None:
        center = transforms.apply_affine(center[None], frame_matrix)[0]
    return transforms.get_affine_transform(center, size * scale, 0.0, (in_w, in_h))


def window_samples(tracks_by_frame: Mapping[int, Collection[int]], history: int
                   ) -> list[tuple[int, int]]:
    """All samples (t, track) of one sequence.

    Args:
      tracks_by_frame: frame index -> the track ids with a GT pose there (labeled frames).
      history: n.

    Returns:
      Sorted (t, track_id) pairs: a pose of the track at t and at least one in t-n ... t-1.
    """
    samples = []
    for t in sorted(tracks_by_frame):
        seen = set()
        for f in range(1, history + 1):
            seen.update(tracks_by_frame.get(t - f, ()))
        samples.extend((t, track) for track in sorted(set(tracks_by_frame[t]) & seen))
    return samples


def augment_history_pose(pose: np.ndarray, rng: np.random.Generator, config: WindowConfig
                         ) -> np.ndarray:
    """A GT pose turned into a plausible estimate: jitter, joint dropout, random scores.

    A pose whose every joint would be dropped keeps them all.

    Args:
      pose: (K, 3) [x, y, v] GT pose; (0, 0, 0) rows are unannotated.
      rng: random generator.
      config: jitter, dropout and score range.

    Returns:
      (K, 3) float64 [x, y, score]; missing joints are (0, 0, 0).
    """
    present = np.any(pose != 0.0, axis=1)
    _, _, w, h = pose_box(pose, min_side=config.min_box_side, present=present)
    xy = pose[:, :2] + rng.normal(0.0, config.jitter * max(w, h), size=(len(pose), 2))
    kept = present & (rng.random(len(pose)) >= config.dropout)
    if not kept.any():
        kept = present
    scores = rng.uniform(*config.score_range, size=len(pose))
    out = np.concatenate([xy, scores[:, None]], axis=1)
    return np.where(kept[:, None], out, 0.0)


def window_similarity(center: np.ndarray, rotation: float, flip: bool) -> np.ndarray:
    """(2, 3) image -> window-frame matrix: mirror, then rotate, about `center`.

    The rotation has the sign of `transforms.get_affine_transform`.
    """
    rad = np.deg2rad(rotation)
    linear = np.array([[np.cos(rad), np.sin(rad)], [-np.sin(rad), np.cos(rad)]])
    if flip:
        linear = linear @ np.diag([-1.0, 1.0])
    center = np.asarray(center, dtype=np.float64)
    return np.concatenate([linear, (center - linear @ center)[:, None]], axis=1)


def _move_pose(pose: np.ndarray, matrix: np.ndarray, flip: bool) -> np.ndarray:
    """A (K, 3) pose mapped through `matrix`, slots swapped if mirrored; absent rows stay 0."""
    present = np.any(pose != 0.0, axis=1)
    moved = np.concatenate([transforms.apply_affine(pose[:, :2], matrix), pose[:, 2:]], axis=1)
    moved = np.where(present[:, None], moved, 0.0)
    return moved[FLIP_PERMUTATION] if flip else moved


def _draw_similarity(rng: np.random.Generator, config: WindowConfig
                     ) -> tuple[float, float, bool]:
    """One (scale, rotation, flip) draw for the whole window."""
    sf, rf = config.scale_factor, config.rotation_factor
    scale = float(np.clip(rng.standard_normal() * sf + 1.0, 1.0 - sf, 1.0 + sf))
    rotation = 0.0
    if rng.random() < config.rotation_prob:
        rotation = float(np.clip(rng.standard_normal() * rf, -2.0 * rf, 2.0 * rf))
    return scale, rotation, bool(rng.random() < config.flip_prob)


def _history_poses(poses: SequenceType[np.ndarray | None], rng: np.random.Generator,
                   config: WindowConfig, augment: bool) -> np.ndarray:
    """(n, K, 3) image-frame [x, y, score] history poses; all zeros where the track has none."""
    num_joints = len(poses[0])
    history = np.zeros((config.history, num_joints, 3))
    for f in range(1, config.history + 1):
        pose = None if poses[f] is None else np.asarray(poses[f], dtype=np.float64)
        present = None if pose is None else np.any(pose != 0.0, axis=1)
        if pose is None or not present.any():
            continue
        if config.history_from_estimates:
            history[f - 1] = pose
        elif augment:
            history[f - 1] = augment_history_pose(pose, rng, config)
        else:
            history[f - 1, present] = np.concatenate(
                [pose[present, :2], np.ones((present.sum(), 1))], axis=1)
    return history


def history_has_pose(history: np.ndarray, threshold: float) -> np.ndarray:
    """(n,) which history frames (n, K, 3) have a pose: a joint scoring above `threshold`.
    The first such frame is the window's last pose."""
    return history[:, :, 2].max(axis=1) > threshold


def crop_geometry(history: np.ndarray, input_hw: tuple[int, int], box_enlarge: float,
                  track_enlarge: float, threshold: float, min_side: float = 8.0,
                  scale: float = 1.0) -> tuple[np.ndarray, np.ndarray] | None:
    """The crops of a window, from its history poses: what training windows and the tracker's
    GNN predictor both cut.

    Args:
      history: (n, K, 3) [x, y, score] poses, history[f - 1] of frame t - f (zeros where the
        track has none).
      input_hw: (H, W) of the crops.
      box_enlarge: enlargement of a history pose's box (a detection crop).
      track_enlarge: extra enlargement of the current crop around the last pose.
      threshold: joints scoring above it count, for the boxes and for "the frame has a pose".
      min_side: of `pose_box`.
      scale: multiplies every crop's size (training's scale augmentation).

    Returns:
      (n + 1, 2, 3) frame -> crop matrices (the current crop around the most recent history
      pose at f = 0, each history pose's crop at f; zeros where a frame has no pose)
      and the box of that most recent pose, or None when no history frame has a pose.
    """
    has_pose = history_has_pose(history, threshold)
    if not has_pose.any():
        return None
    last = history[int(np.argmax(has_pose))]
    matrices = np.zeros((len(history) + 1, 2, 3))
    matrices[0] = current_crop_matrix(last, input_hw, box_enlarge * track_enlarge, threshold,
                                      min_side, scale)
    for f in np.flatnonzero(has_pose) + 1:
        matrices[f] = history_crop_matrix(history[f - 1], input_hw, box_enlarge, threshold,
                                          min_side, scale)
    return matrices, pose_box(last, threshold, min_side)


def _detection_matrices(pose_matrices: np.ndarray, boxes, has_pose: np.ndarray,
                        frame_matrix: np.ndarray, scale: float, config: WindowConfig,
                        uncovered: bool) -> np.ndarray:
    """The window's crop matrices under "detections": each frame's detection crop, the
    current one the track crop of `pose_matrices` when `uncovered`."""
    needed = np.concatenate([[not uncovered], has_pose])
    if boxes is None or len(boxes) != len(needed) or any(
            boxes[f] is None for f in np.flatnonzero(needed)):
        raise ValueError("make_window: feature_source 'detections' needs a box for the "
                         "current frame and every history frame with a pose")
    matrices = np.zeros_like(pose_matrices)
    if uncovered:
        matrices[0] = pose_matrices[0]
    for f in np.flatnonzero(needed):
        matrices[f] = detection_crop_matrix(boxes[f], config.input_hw, config.box_enlarge,
                                            frame_matrix, scale)
    return matrices


def make_window(images: SequenceType[np.ndarray | None], poses: SequenceType[np.ndarray | None],
                rng: np.random.Generator, config: WindowConfig = WindowConfig(),
                augment: bool = True, boxes: SequenceType[np.ndarray | None] | None = None
                ) -> TrackletWindow:
    """The training window of one track at frame t.

    Args:
      images: T = n + 1 (H_img, W_img, 3) uint8 RGB frames, images[f] of frame t - f; only
        those with a pose are read (others may be None).
      poses: T (K, 3) [x, y, v] GT poses of the track, poses[f] of frame t - f, None where the
        track has none; poses[0] is required and at least one history pose. With
        `config.history_from_estimates`, poses[1:] are [x, y, score] estimates.
      rng: random generator (the only source of randomness).
      config: the window settings.
      augment: False: no pose noise (scores 1), no similarity, no crop scaling (and, under
        "detections", the current crop is always the detection's).
      boxes: under `config.feature_source == "detections"`, T image [x, y, w, h]
        detection-like boxes of the person, boxes[f] of frame t - f (None where no pose).

    Returns:
      The window.

    Raises:
      ValueError: wrong lengths, no pose at t, no history pose, or a missing detection box.
    """
    n = config.history
    if len(images) != n + 1 or len(poses) != n + 1 or poses[0] is None:
        raise ValueError(f"make_window: expected {n + 1} images and poses with a pose at t")
    history = _history_poses(poses, rng, config, augment)
    has_pose = history_has_pose(history, config.box_threshold)
    if not has_pose.any():
        raise ValueError("make_window: the track has no history pose")
    scale, rotation, flip = _draw_similarity(rng, config) if augment else (1.0, 0.0, False)
    x, y, w, h = pose_box(history[int(np.argmax(has_pose))], config.box_threshold,
                          config.min_box_side)
    frame_matrix = window_similarity(np.array([x + w / 2, y + h / 2]), rotation, flip)
    history = np.stack([_move_pose(p, frame_matrix, flip) for p in history])
    gt = np.asarray(poses[0], dtype=np.float64)
    annotated_t = np.any(gt != 0.0, axis=1)
    visible_t = annotated_t & (gt[:, 2] > 0)
    target = _move_pose(np.concatenate([gt[:, :2], annotated_t[:, None], visible_t[:, None]],
                                       axis=1), frame_matrix, flip)

    matrices, box = crop_geometry(history, config.input_hw, config.box_enlarge,
                                  config.track_enlarge, config.box_threshold,
                                  config.min_box_side, scale)
    if config.feature_source == "detections":
        matrices = _detection_matrices(matrices, boxes, has_pose, frame_matrix, scale, config,
                                       augment and rng.random() < config.uncovered_prob)
    valid = np.concatenate([[True], has_pose])
    crops = np.zeros((n + 1, *config.input_hw, 3), np.float32)
    image_matrices = np.zeros_like(matrices)
    for f in np.flatnonzero(valid):
        image_matrices[f] = transforms.compose_affine(matrices[f], frame_matrix)
        crops[f] = transforms.normalize_image(
            transforms.warp_crop(images[f], image_matrices[f], config.input_hw))
    return TrackletWindow(crops, matrices.astype(np.float32),
                          image_matrices.astype(np.float32), valid,
                          history.astype(np.float32), box.astype(np.float32),
                          target.astype(np.float32), frame_matrix.astype(np.float32))
