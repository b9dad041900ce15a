"""The synthetic world's settings, split names, sequence names and image ids."""

from __future__ import annotations

import dataclasses

from gnnpose_jax.data import folders
from gnnpose_jax.errors import DataError

#: A world's splits: the datasets' train and val, and `tune`, on which the tracker's settings
#: are chosen so that val and held-out worlds are never tuned on (docs/results.md).
SPLITS = (*folders.SPLITS, "tune")
#: Sequence numbers per split start here, so image ids stay unique across splits.
SPLIT_NUMBER_OFFSET = {"train": 0, "val": 100000, "tune": 200000}
#: poseval's image id: sequence type (mpii = 1) * 1e10 + sequence number * 1e4 + frame.
IMAGE_ID_BASE = 10_000_000_000
SEQUENCE_TYPE = "mpii"
#: poseval requires frame numbers below 10000.
MAX_FRAMES = 10_000
#: Sequence numbers of different splits must not meet.
MAX_VIDEOS = 99_999
MIN_IMAGE_SIDE = 32
#: The longest frame side: a 4096 x 4096 world peaks at 1.7 GB of memory (8000 x 8000 took
#: 5.9 GB), and `track` reads frames up to 8192 x 8192 (docs/limits.md).
MAX_IMAGE_SIDE = 4096


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    """Every tunable of the world. Lengths are world units (a standard person is 1.7 tall).

    Ranges are (low, high) for uniform draws; `*_sd` are standard deviations.
    """

    # Motion: frame rate, crowd size, gait choice, speeds (units/s), turning (rad, rad/s, turns
    # per second), the depth band people walk in and how far outside the frame they may go
    # (in half frame widths) before they come back.
    fps: float = 15.0
    people_per_video: tuple[int, int] = (2, 5)
    run_probability: float = 0.3
    walk_speed: tuple[float, float] = (0.9, 1.6)
    run_speed: tuple[float, float] = (2.2, 3.2)
    speed_sd: float = 0.15
    speed_tau: float = 1.0
    heading_sd: float = 0.45
    turn_rate: float = 0.35
    turn_sd: float = 0.9
    max_turn_speed: float = 2.0
    depth_range: tuple[float, float] = (1.0, 2.6)
    depth_turn_band: float = 0.15
    depth_overshoot: float = 0.15
    spawn_margin: float = 1.6
    # Bodies: standard height and the relative spread of height, limb lengths and widths.
    person_height: float = 1.7
    height_sd: float = 0.07
    limb_sd: float = 0.06
    width_sd: float = 0.1
    # Camera, as fractions of the frame height: the nearest standard person's height, where
    # the nearest ground is, where the horizon is; zoom scales everything.
    near_height_frac: float = 0.8
    ground_near_frac: float = 0.97
    horizon_frac: tuple[float, float] = (0.3, 0.42)
    zoom: tuple[float, float] = (0.85, 1.15)
    # Occluders: P(0, 1, 2, ... occluders), P(board), sizes as fractions of the frame.
    occluder_count_probs: tuple[float, ...] = (0.15, 0.55, 0.3)
    board_probability: float = 0.4
    pillar_width: tuple[float, float] = (0.09, 0.2)
    board_width: tuple[float, float] = (0.2, 0.4)
    board_height: tuple[float, float] = (0.25, 0.45)
    # The unannotated crowd behind an ignore region: P(per video), size, depth (times the far
    # end of the depth band), polygon margin (fraction of the frame width).
    ignore_region_probability: float = 0.2
    crowd_size: tuple[int, int] = (2, 4)
    crowd_depth: tuple[float, float] = (1.2, 1.45)
    crowd_margin: float = 0.04
    # Camera noise (grey levels) and per-frame gain flicker.
    noise_sd: tuple[float, float] = (2.0, 6.0)
    flicker_sd: float = 0.01
    # Annotation: fewer joints than this inside the frame and the person is not annotated.
    min_annotated_joints: int = 3
    face_threshold: float = 0.3
    # Detections: minimum visible area (fraction of the frame), box jitter (fraction of the box
    # side, log-scale sd), P(miss) = miss_base + miss_gain * occluded ** miss_power, the score
    # model, and false positives (per frame, with their scores, heights and w/h ratios).
    det_min_area: float = 0.0008
    det_centre_jitter: float = 0.05
    det_scale_sd: float = 0.08
    miss_base: float = 0.05
    miss_gain: float = 0.9
    miss_power: float = 1.5
    det_score_base: float = 0.95
    det_score_occlusion: float = 0.5
    det_score_sd: float = 0.05
    det_score_min: float = 0.05
    fp_rate: float = 0.15
    fp_score: tuple[float, float] = (0.05, 0.45)
    fp_height: tuple[float, float] = (0.15, 0.6)
    fp_aspect: tuple[float, float] = (0.3, 0.7)


def sequence_name(number: int, split: str) -> str:
    """The PoseTrack-style sequence name, e.g. `100001_mpii_val`."""
    return f"{number:06d}_{SEQUENCE_TYPE}_{split}"


def image_id(number: int, frame_index: int) -> int:
    """The image id poseval derives from the file name of frame `frame_index`."""
    return IMAGE_ID_BASE + number * MAX_FRAMES + frame_index


def check_video_args(num_frames: int, image_hw: tuple[int, int], label_every: int) -> None:
    """Rejects frame counts, sizes and label strides the world cannot produce."""
    if not 1 <= num_frames <= MAX_FRAMES:
        raise DataError(f"synthetic world: frames must be in 1..{MAX_FRAMES} (PoseTrack frame "
                        f"numbers), got {num_frames}")
    if not MIN_IMAGE_SIDE <= min(image_hw) <= max(image_hw) <= MAX_IMAGE_SIDE:
        raise DataError(f"synthetic world: size must be {MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE} "
                        f"pixels per side, got {image_hw[1]}x{image_hw[0]} (W x H)")
    if label_every < 1:
        raise DataError(f"synthetic world: label_every must be >= 1, got {label_every}")


def check_world_args(seed: int, num_videos: int, split: str) -> None:
    """Rejects seeds, video counts and splits the world cannot produce."""
    if seed < 0:
        raise DataError(f"synthetic world: seed must be >= 0, got {seed}")
    if not 1 <= num_videos <= MAX_VIDEOS:
        raise DataError(f"synthetic world: videos must be in 1..{MAX_VIDEOS}, got {num_videos}")
    if split not in SPLITS:
        raise DataError(f"synthetic world: split must be one of {', '.join(SPLITS)}, "
                        f"got {split!r}")

