"""The synthetic world: procedural videos of walking and running people, in PoseTrack 2018 layout.

PoseTrack cannot be downloaded automatically, so this module gives the whole pipeline real work
on any machine, deterministically from a seed (DESIGN.md, "The synthetic world"):

- People are articulated 2-D figures with the 17-slot skeleton (`joints.py`; ears never
  annotated), seen by a static camera over a ground plane at 15 frames per second. Each has
  its own proportions, clothing and gait (a walking or running cycle), and changes speed and
  direction; depth sets the scale, so people walking towards the camera grow. People enter,
  leave, and come back into the frame.
- Limbs are filled capsules, left limbs lighter and right limbs darker than the clothing colour;
  the head shows hair, a face when it faces the camera, and a nose dot.
- People cross each other (drawn far to near) and pass behind static occluders (pillars and
  boards, drawn last). A joint inside the frame that something nearer covers keeps its
  annotation with visibility 0, as in PoseTrack; fully hidden people stay annotated. People
  with fewer than 3 joints inside the frame are not annotated. Some videos have a small
  standing crowd in a far corner, unannotated and covered by an ignore region (no annotated
  joint lies inside it).
- Detections are the boxes of the visible part of each person, with jitter and false
  positives. A person is missed with probability 0.05 + 0.9 * occluded_fraction ** 1.5, and
  always when hidden: the failure the GNN exists to repair.

Frames are landscape video frames, `image_hw = (H, W)`, by default 288 x 384 (the CLI's
`--size 384x288` is width x height, the usual video convention). Sequences are named
`{number:06d}_mpii_{split}` (train from 000001, val from 100001, so image ids never collide)
and image ids follow poseval: 1e10 + number * 1e4 + frame. Layout written by `generate_world`,
as in PoseTrack 2018::

    DIR/images/{split}/{seq}/{frame:06d}.jpg
    DIR/annotations/{split}/{seq}.json     PoseTrack 2018 ground truth
    DIR/detections/{split}.json            COCO detections keyed by the annotations' image ids

`python -m gnnpose_jax.data.synthetic --out DIR --seed S --videos N [--split val] ...`

The same arguments give byte-identical files with the same numpy and OpenCV builds.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from collections.abc import Sequence as SequenceType
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from gnnpose_jax import atomic
from gnnpose_jax.cli import run_cli
from gnnpose_jax.data import joints, posetrack
from gnnpose_jax.data.types import Frame, Person, Sequence
from gnnpose_jax.errors import ConfigError, DataError

SPLITS = ("train", "val")
#: Sequence numbers per split start here, so image ids stay unique across splits.
SPLIT_NUMBER_OFFSET = {"train": 0, "val": 100000}
#: poseval's image id: sequence type (mpii = 1) * 1e10 + sequence number * 1e4 + frame.
IMAGE_ID_BASE = 10_000_000_000
SEQUENCE_TYPE = "mpii"
#: poseval requires frame numbers below 10000.
MAX_FRAMES = 10_000
#: Sequence numbers of different splits must not meet.
MAX_VIDEOS = 99_999
MIN_IMAGE_SIDE = 32

# Internal skeleton: the 17 slots, then points that are drawn but never annotated.
_HEAD_CENTRE, _LEFT_TOE, _RIGHT_TOE = 17, 18, 19
_NUM_POINTS = 20
# Label-map values: figures (walkers, then the crowd) use their index; these values are not
# figures, and bound how many figures a video can hold.
_OCCLUDER_LABEL, _EMPTY_LABEL = 254, 255
# cv2 draws with sub-pixel precision: coordinates carry this many fractional bits.
_SHIFT = 4
_FIXED = float(1 << _SHIFT)


@dataclasses.dataclass(frozen=True)
class Gait:
    """A periodic gait, as joint angles (radians) driven by the gait phase.

    Attributes:
      thigh_amp, thigh_offset: thigh swing amplitude and mean angle from vertical (forward > 0).
      knee_base, knee_amp: knee flexion at stance and its extra amount during swing.
      arm_amp, arm_offset: upper-arm swing (opposite to the same-side leg) and mean angle.
      elbow_base, elbow_amp: elbow flexion, and its extra amount when the arm swings forward.
      lean: forward lean of the torso.
      bounce: extra vertical bounce, as a fraction of body height.
      stride: ground covered per gait cycle, in leg lengths.
    """

    thigh_amp: float
    thigh_offset: float
    knee_base: float
    knee_amp: float
    arm_amp: float
    arm_offset: float
    elbow_base: float
    elbow_amp: float
    lean: float
    bounce: float
    stride: float


WALK = Gait(thigh_amp=0.42, thigh_offset=0.0, knee_base=0.08, knee_amp=0.85, arm_amp=0.38,
            arm_offset=0.0, elbow_base=0.2, elbow_amp=0.35, lean=0.04, bounce=0.0, stride=1.65)
STAND = Gait(thigh_amp=0.0, thigh_offset=0.0, knee_base=0.05, knee_amp=0.0, arm_amp=0.0,
             arm_offset=0.05, elbow_base=0.15, elbow_amp=0.0, lean=0.0, bounce=0.0, stride=1.0)
RUN = Gait(thigh_amp=0.7, thigh_offset=0.15, knee_base=0.35, knee_amp=1.6, arm_amp=0.7,
           arm_offset=0.1, elbow_base=1.45, elbow_amp=0.25, lean=0.17, bounce=0.03, stride=2.2)


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


@dataclasses.dataclass(frozen=True)
class Camera:
    """A static, level camera over a ground plane (weak perspective per person)."""

    height: int
    width: int
    focal: float
    horizon: float
    elevation: float

    def scale(self, depth: np.ndarray) -> np.ndarray:
        """Pixels per world unit at `depth`."""
        return self.focal / depth

    def ground_y(self, depth: np.ndarray) -> np.ndarray:
        """Image row of the ground at `depth`."""
        return self.horizon + self.focal * self.elevation / depth

    def half_width(self, depth: float) -> float:
        """Half the visible width, in world units, at `depth`."""
        return 0.5 * self.width * depth / self.focal


@dataclasses.dataclass(frozen=True)
class Body:
    """One person's proportions (world units), limb thicknesses and colours (RGB)."""

    height: float
    thigh: float
    shin: float
    ankle_height: float
    foot: float
    torso: float
    torso_depth: float
    neck: float
    head_radius: float
    upper_arm: float
    forearm: float
    shoulder_width: float
    hip_width: float
    thickness: dict[str, float]
    colours: dict[str, tuple[float, float, float]]


# Proportions of a standard body, as fractions of its height.
_PROPORTIONS = {
    "thigh": 0.245, "shin": 0.245, "ankle_height": 0.04, "foot": 0.07, "torso": 0.3,
    "torso_depth": 0.12, "neck": 0.05, "head_radius": 0.065, "upper_arm": 0.175,
    "forearm": 0.155, "shoulder_width": 0.23, "hip_width": 0.16,
}
_THICKNESS = {"thigh": 0.075, "shin": 0.06, "foot": 0.035, "upper_arm": 0.055, "forearm": 0.045,
              "neck": 0.05, "shoulders": 0.06, "hand": 0.03}
_WIDTH_KEYS = ("torso_depth", "shoulder_width", "hip_width")
# Head landmarks in head radii, [forward, left, up] from the head centre: head_top and the nose
# sit just inside the head disc, so they land on drawn pixels.
_HEAD_TOP_OFFSET = (0.0, 0.0, 0.9)
_NOSE_OFFSET = (0.75, 0.0, -0.15)
# The face disc: shifted towards the nose, dropped and shrunk, in head radii.
_FACE_SHIFT, _FACE_DROP, _FACE_RADIUS = 0.3, 0.15, 0.8
_NOSE_RADIUS, _NOSE_SHADE = 0.18, 0.6
# Left parts are lighter (gain, offset), right parts darker (gain).
_LIGHTER, _DARKER = (1.25, 20.0), 0.7

# Capsules of a body: (from point, to point, thickness key, colour key, side).
_L, _R = "left", "right"
_CAPSULES = (
    (11, 13, "thigh", "trousers", _L), (13, 15, "shin", "trousers", _L),
    (15, _LEFT_TOE, "foot", "shoes", _L),
    (12, 14, "thigh", "trousers", _R), (14, 16, "shin", "trousers", _R),
    (16, _RIGHT_TOE, "foot", "shoes", _R),
    (5, 7, "upper_arm", "shirt", _L), (7, 9, "forearm", "sleeves", _L),
    (6, 8, "upper_arm", "shirt", _R), (8, 10, "forearm", "sleeves", _R),
)


class Walker(NamedTuple):
    """A person's screen trajectory over a video.

    Attributes:
      points: (T, P, 2) screen positions of the internal points (slots, head centre, toes).
      depth: (T, P) world depth of each point (larger is farther).
      root_depth: (T,) depth of the person, which orders people.
      scale: (T,) pixels per world unit.
      facing: (T,) sine of the heading: < 0 faces the camera, > 0 faces away.
      forward_dx: (T,) screen x offset of one world unit forward.
      body: proportions and colours.
    """

    points: np.ndarray
    depth: np.ndarray
    root_depth: np.ndarray
    scale: np.ndarray
    facing: np.ndarray
    forward_dx: np.ndarray
    body: Body


@dataclasses.dataclass
class Scene:
    """Everything static in a video, and every person's trajectory."""

    camera: Camera
    background: np.ndarray
    occluder_image: np.ndarray
    occluder_mask: np.ndarray
    walkers: list[Walker]
    crowd: list[Walker]
    ignore_polygon: np.ndarray | None
    ignore_mask: np.ndarray
    noise_sd: float


class SimulatedFrame(NamedTuple):
    """One rendered frame: its annotation, RGB image (H, W, 3) uint8 and COCO detections."""

    frame: Frame
    image: np.ndarray
    detections: list[dict[str, Any]]


def sequence_name(number: int, split: str) -> str:
    """The PoseTrack-style sequence name, e.g. `100001_mpii_val`."""
    return f"{number:06d}_{SEQUENCE_TYPE}_{split}"


def image_id(number: int, frame_index: int) -> int:
    """The image id poseval derives from the file name of frame `frame_index`."""
    return IMAGE_ID_BASE + number * MAX_FRAMES + frame_index


def make_camera(rng: np.random.Generator, image_hw: tuple[int, int],
                config: WorldConfig) -> Camera:
    """Draws a camera whose nearest standard person is `near_height_frac` of the frame tall.

    Args:
      rng: random generator.
      image_hw: (H, W) of the frames.
      config: world settings.

    Returns:
      The camera.
    """
    height, width = image_hw
    z_near = config.depth_range[0]
    focal = (rng.uniform(*config.zoom) * config.near_height_frac * height * z_near
             / config.person_height)
    horizon = rng.uniform(*config.horizon_frac) * height
    elevation = (config.ground_near_frac * height - horizon) * z_near / focal
    return Camera(height=height, width=width, focal=focal, horizon=horizon, elevation=elevation)


def _random_colour(rng: np.random.Generator, saturation: tuple[float, float],
                   value: tuple[float, float]) -> tuple[float, float, float]:
    """An RGB colour (0..255) from a random hue and the given saturation and value ranges."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255,
                      rng.uniform(*value) * 255]]], dtype=np.uint8)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return tuple(float(c) for c in rgb)


def sample_body(rng: np.random.Generator, config: WorldConfig) -> Body:
    """Draws one person's proportions, limb thicknesses and clothing.

    Args:
      rng: random generator.
      config: world settings (height, limb and width variation).

    Returns:
      The body.
    """
    height = config.person_height * (1.0 + config.height_sd * rng.standard_normal())
    lengths = {}
    for key, frac in _PROPORTIONS.items():
        sd = config.width_sd if key in _WIDTH_KEYS else config.limb_sd
        lengths[key] = height * frac * (1.0 + sd * rng.standard_normal())
    build = 1.0 + config.width_sd * rng.standard_normal()
    thickness = {k: height * v * build for k, v in _THICKNESS.items()}
    skin_tones = ((255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66),
                  (141, 85, 36), (92, 58, 30))
    skin = tuple(float(c) for c in skin_tones[rng.integers(len(skin_tones))])
    shirt = _random_colour(rng, (0.35, 1.0), (0.35, 0.95))
    colours = {
        "shirt": shirt,
        "sleeves": shirt if rng.random() < 0.5 else skin,
        "trousers": _random_colour(rng, (0.2, 0.9), (0.2, 0.75)),
        "shoes": _random_colour(rng, (0.0, 0.5), (0.05, 0.3)),
        "hair": _random_colour(rng, (0.3, 0.8), (0.05, 0.45)),
        "skin": skin,
    }
    return Body(height=height, thickness=thickness, colours=colours, **lengths)


def body_points(body: Body, gait: Gait, phase: np.ndarray) -> np.ndarray:
    """Poses the body at each gait phase, in its own frame.

    Args:
      body: proportions.
      gait: joint-angle model.
      phase: (T,) gait phase in radians (left leg; the right leg is half a cycle later).

    Returns:
      (T, P, 3) points [forward, left, up] with the ground at up = 0; P = 17 slots + head
      centre + two toes. The ear slots stay zero (never annotated, never drawn).
    """
    num = phase.shape[0]
    pts = np.zeros((num, _NUM_POINTS, 3))
    ankle_up = []
    legs = {}
    for side, sign, ph in (("left", 1.0, phase), ("right", -1.0, phase + math.pi)):
        alpha = gait.thigh_amp * np.sin(ph) + gait.thigh_offset
        beta = alpha - (gait.knee_base + gait.knee_amp * np.maximum(np.cos(ph), 0.0))
        knee = body.thigh * np.stack([np.sin(alpha), -np.cos(alpha)], -1)
        ankle = knee + body.shin * np.stack([np.sin(beta), -np.cos(beta)], -1)
        toe = ankle + body.foot * np.stack([np.cos(beta), np.sin(beta)], -1)
        legs[side] = (sign, knee, ankle, toe)
        ankle_up.append(ankle[:, 1])
    # The lower ankle stands on the ground: the pelvis rides on the stance leg.
    pelvis = (body.ankle_height - np.minimum(*ankle_up)
              + gait.bounce * body.height * np.sin(2.0 * phase) ** 2)
    slots = {"left": (11, 13, 15, _LEFT_TOE), "right": (12, 14, 16, _RIGHT_TOE)}
    for side, (sign, knee, ankle, toe) in legs.items():
        hip, knee_slot, ankle_slot, toe_slot = slots[side]
        lateral = sign * body.hip_width / 2
        pts[:, hip] = np.stack([np.zeros(num), np.full(num, lateral), pelvis], -1)
        for slot, rel in ((knee_slot, knee), (ankle_slot, ankle), (toe_slot, toe)):
            pts[:, slot] = np.stack([rel[:, 0], np.full(num, lateral), pelvis + rel[:, 1]], -1)
    lean = np.array([math.sin(gait.lean), math.cos(gait.lean)])
    chest = np.stack([np.full(num, body.torso * lean[0]), pelvis + body.torso * lean[1]], -1)
    for sign, ph, (shoulder, elbow, wrist) in ((1.0, phase, (5, 7, 9)),
                                               (-1.0, phase + math.pi, (6, 8, 10))):
        gamma = gait.arm_offset - gait.arm_amp * np.sin(ph)
        eps = gait.elbow_base + gait.elbow_amp * np.maximum(-np.sin(ph), 0.0)
        el = chest + body.upper_arm * np.stack([np.sin(gamma), -np.cos(gamma)], -1)
        wr = el + body.forearm * np.stack([np.sin(gamma + eps), -np.cos(gamma + eps)], -1)
        lateral = np.full(num, sign * body.shoulder_width / 2)
        for slot, fu in ((shoulder, chest), (elbow, el), (wrist, wr)):
            pts[:, slot] = np.stack([fu[:, 0], lateral, fu[:, 1]], -1)
    neck = chest + body.neck * lean
    head = neck + body.head_radius * lean
    r = body.head_radius
    zero = np.zeros(num)
    pts[:, 1] = np.stack([neck[:, 0], zero, neck[:, 1]], -1)
    pts[:, _HEAD_CENTRE] = np.stack([head[:, 0], zero, head[:, 1]], -1)
    pts[:, 2] = pts[:, _HEAD_CENTRE] + r * np.asarray(_HEAD_TOP_OFFSET)
    pts[:, 0] = pts[:, _HEAD_CENTRE] + r * np.asarray(_NOSE_OFFSET)
    return pts


def _wrap(angle: float) -> float:
    """Wraps an angle to [-pi, pi)."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def simulate_path(rng: np.random.Generator, camera: Camera, num_frames: int, running: bool,
                  leg_length: float, gait: Gait, config: WorldConfig) -> dict[str, np.ndarray]:
    """Moves one person over the ground: speed, turns and gait phase, frame by frame.

    Args:
      rng: random generator.
      camera: the camera (for the visible width at each depth).
      num_frames: T.
      running: whether the person runs (speed range).
      leg_length: thigh + shin, which sets the cadence.
      gait: the gait (its stride).
      config: world settings.

    Returns:
      Arrays of shape (T,): `x` and `z` (world position), `heading` (radians, 0 = screen right,
      pi/2 = away from the camera) and `phase` (gait phase).
    """
    dt = 1.0 / config.fps
    z_lo, z_hi = config.depth_range
    band = config.depth_turn_band * (z_hi - z_lo)
    z = rng.uniform(z_lo, z_hi)
    half = camera.half_width(z)
    x = rng.uniform(-1.0, 1.0) * half * config.spawn_margin
    heading = (0.0 if rng.random() < 0.5 else math.pi) + config.heading_sd * rng.standard_normal()
    if abs(x) > half and x * math.cos(heading) > 0:
        heading = math.pi - heading  # start outside the frame only when walking into it
    target = heading
    mean_speed = rng.uniform(*(config.run_speed if running else config.walk_speed))
    speed = mean_speed
    phase = rng.uniform(0.0, 2.0 * math.pi)
    out = {k: np.empty(num_frames) for k in ("x", "z", "heading", "phase")}
    for t in range(num_frames):
        out["x"][t], out["z"][t], out["heading"][t], out["phase"][t] = x, z, heading, phase
        if rng.random() < config.turn_rate * dt:
            target = heading + config.turn_sd * rng.standard_normal()
        # Turning takes time, so people turn back before they reach the edge of the depth band.
        if (z < z_lo + band and math.sin(target) < 0) or (z > z_hi - band and math.sin(target) > 0):
            target = -target
        # Far outside the frame, people come back, so videos stay populated.
        if abs(x) > config.spawn_margin * camera.half_width(z) and x * math.cos(target) > 0:
            target = math.pi - target
        step = config.max_turn_speed * dt
        heading = _wrap(heading + float(np.clip(_wrap(target - heading), -step, step)))
        speed += ((mean_speed - speed) * dt / config.speed_tau
                  + config.speed_sd * mean_speed * math.sqrt(dt) * rng.standard_normal())
        speed = max(speed, 0.2 * mean_speed)
        x += speed * math.cos(heading) * dt
        # Turning back takes time; the hard limit keeps fast runners from reaching the lens.
        z = min(max(z + speed * math.sin(heading) * dt, z_lo * (1.0 - config.depth_overshoot)),
                z_hi * (1.0 + config.depth_overshoot))
        phase += 2.0 * math.pi * speed * dt / (gait.stride * leg_length)
    return out


def project_walker(points: np.ndarray, path: dict[str, np.ndarray], camera: Camera,
                   body: Body) -> Walker:
    """Projects body-frame points along a path onto the screen.

    Args:
      points: (T, P, 3) [forward, left, up] body-frame points.
      path: `x`, `z`, `heading` arrays of shape (T,).
      camera: the camera.
      body: proportions and colours, carried along.

    Returns:
      The walker's screen trajectory.
    """
    cos_h = np.cos(path["heading"])[:, None]
    sin_h = np.sin(path["heading"])[:, None]
    fwd, left, up = points[..., 0], points[..., 1], points[..., 2]
    world_x = path["x"][:, None] + fwd * cos_h - left * sin_h
    world_z = path["z"][:, None] + fwd * sin_h + left * cos_h
    scale = camera.scale(path["z"])
    screen = np.stack([0.5 * camera.width + world_x * scale[:, None],
                       camera.ground_y(path["z"])[:, None] - up * scale[:, None]], -1)
    return Walker(points=screen, depth=world_z, root_depth=path["z"], scale=scale,
                  facing=sin_h[:, 0], forward_dx=scale * cos_h[:, 0], body=body)


def _shade(colour: tuple[float, float, float], side: str | None) -> tuple[float, float, float]:
    """Left parts lighter, right parts darker, so the two sides can be told apart."""
    if side is None:
        return colour
    if side == _L:
        gain, offset = _LIGHTER
        return tuple(min(255.0, gain * c + offset) for c in colour)
    return tuple(_DARKER * c for c in colour)


def _fixed(p: np.ndarray) -> tuple[int, int]:
    """A point in cv2's fixed-point coordinates."""
    return int(round(p[0] * _FIXED)), int(round(p[1] * _FIXED))


def person_primitives(walker: Walker, t: int, face_threshold: float) -> list[tuple]:
    """The drawing primitives of one person at frame t, far to near.

    Args:
      walker: the person's trajectory.
      t: frame index.
      face_threshold: the face is drawn while the sine of the heading is below this.

    Returns:
      A list of `(kind, geometry, size, colour)`: `("capsule", (p, q), thickness_px, rgb)`,
      `("poly", (N, 2) points, 0, rgb)` or `("disc", centre, radius_px, rgb)`, points in pixels.
    """
    pts, depth, scale = walker.points[t], walker.depth[t], float(walker.scale[t])
    body = walker.body
    prims = []
    for a, b, thick, colour, side in _CAPSULES:
        size = max(1, int(round(body.thickness[thick] * scale)))
        prims.append((0.5 * (depth[a] + depth[b]), "capsule", (pts[a], pts[b]), size,
                      _shade(body.colours[colour], side)))
    hand = max(1.0, body.thickness["hand"] * scale)
    for wrist, side in ((9, _L), (10, _R)):
        prims.append((depth[wrist] - 1e-3, "disc", pts[wrist], hand,
                      _shade(body.colours["skin"], side)))
    # The torso: the hull of shoulders and hips widened by the chest depth along the heading.
    half_depth = 0.5 * body.torso_depth * float(walker.forward_dx[t])
    corners = pts[[5, 6, 12, 11]]
    hull = np.concatenate([corners + [half_depth, 0.0], corners - [half_depth, 0.0]])
    torso_depth = float(np.mean(depth[[5, 6, 11, 12]]))
    prims.append((torso_depth, "poly", hull, 0, body.colours["shirt"]))
    prims.append((torso_depth, "capsule", (pts[5], pts[6]),
                  max(1, int(round(body.thickness["shoulders"] * scale))), body.colours["shirt"]))
    head_depth = float(depth[_HEAD_CENTRE]) - 1e-3
    prims.append((head_depth, "capsule", (pts[1], pts[_HEAD_CENTRE]),
                  max(1, int(round(body.thickness["neck"] * scale))), body.colours["skin"]))
    radius = body.head_radius * scale
    prims.append((head_depth, "disc", pts[_HEAD_CENTRE], radius, body.colours["hair"]))
    if walker.facing[t] < face_threshold:
        # The face shows towards the heading; the nose marks the front of the head.
        face = pts[_HEAD_CENTRE] + _FACE_SHIFT * (pts[0] - pts[_HEAD_CENTRE])
        face[1] += _FACE_DROP * radius
        prims.append((head_depth, "disc", face, _FACE_RADIUS * radius, body.colours["skin"]))
        nose = tuple(_NOSE_SHADE * c for c in body.colours["skin"])
        prims.append((head_depth, "disc", pts[0], max(1.0, _NOSE_RADIUS * radius), nose))
    prims.sort(key=lambda p: -p[0])
    return [p[1:] for p in prims]


def primitives_box(prims: list[tuple]) -> np.ndarray:
    """(4,) [x1, y1, x2, y2] bounding the drawn primitives."""
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    for kind, geom, size, _ in prims:
        if kind == "capsule":
            p = np.stack(geom)
            pad = 0.5 * size
        elif kind == "poly":
            p, pad = geom, 0.0
        else:
            p, pad = geom[None], size
        lo = np.minimum(lo, p.min(0) - pad)
        hi = np.maximum(hi, p.max(0) + pad)
    return np.concatenate([lo, hi])


def draw_primitives(canvas: np.ndarray, prims: list[tuple], value: int | None = None,
                    antialias: bool = True) -> None:
    """Draws primitives onto `canvas` in place.

    Args:
      canvas: (H, W, 3) uint8 image or (H, W) uint8 label map.
      prims: from `person_primitives`.
      value: if given, every primitive is drawn with this label instead of its colour.
      antialias: smooth edges (images); label maps need hard edges.
    """
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    for kind, geom, size, colour in prims:
        c = colour if value is None else int(value)
        if kind == "capsule":
            cv2.line(canvas, _fixed(geom[0]), _fixed(geom[1]), c, size, line, _SHIFT)
        elif kind == "poly":
            hull = cv2.convexHull(np.round(geom * _FIXED).astype(np.int32))
            cv2.fillConvexPoly(canvas, hull, c, line, _SHIFT)
        else:
            cv2.circle(canvas, _fixed(geom), int(round(size * _FIXED)), c, -1, line, _SHIFT)


def _low_frequency_noise(rng: np.random.Generator, hw: tuple[int, int], cell: int,
                         channels: int, colour: float = 0.0) -> np.ndarray:
    """(H, W, C) float32 smooth noise with unit-ish amplitude, from a coarse random grid.

    `colour` (0..1) is the weight of independent per-channel noise against shared brightness.
    """
    height, width = hw
    shape = (max(2, height // cell), max(2, width // cell))
    grid = ((1.0 - colour) * rng.standard_normal((*shape, 1))
            + colour * rng.standard_normal((*shape, channels)))
    smooth = cv2.resize(grid.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return smooth.reshape(height, width, channels)


def make_background(rng: np.random.Generator, camera: Camera) -> np.ndarray:
    """A textured backdrop: a wall or sky with stripes, and a tiled ground in perspective.

    Args:
      rng: random generator.
      camera: the camera (horizon and ground geometry).

    Returns:
      (H, W, 3) uint8 RGB.
    """
    height, width = camera.height, camera.width
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    top = np.array(_random_colour(rng, (0.05, 0.5), (0.45, 0.95)), np.float32)
    bottom = np.array(_random_colour(rng, (0.05, 0.5), (0.35, 0.85)), np.float32)
    mix = (yy / height)[..., None]
    upper = top * (1 - mix) + bottom * mix
    theta = rng.uniform(0, math.pi)
    period = rng.uniform(0.03, 0.2) * width
    stripes = np.sin(2 * math.pi * (xx * math.cos(theta) + yy * math.sin(theta)) / period)
    upper += rng.uniform(5, 30) * stripes[..., None]
    # Blocks (buildings, doors, windows) standing on the horizon.
    for _ in range(rng.integers(0, 6)):
        x0 = rng.uniform(-0.1, 1.0) * width
        w = rng.uniform(0.05, 0.3) * width
        h = rng.uniform(0.1, 0.9) * camera.horizon
        inside = (xx >= x0) & (xx < x0 + w) & (yy > camera.horizon - h) & (yy < camera.horizon)
        upper[inside] = np.array(_random_colour(rng, (0.0, 0.6), (0.2, 0.9)), np.float32)
    ground_colour = np.array(_random_colour(rng, (0.05, 0.6), (0.25, 0.75)), np.float32)
    below = np.maximum(yy - camera.horizon, 1.0)
    depth = camera.focal * camera.elevation / below
    world_x = (xx - 0.5 * width) * depth / camera.focal
    tile = rng.uniform(0.3, 1.2)
    checker = np.sign(np.sin(math.pi * depth / tile) * np.sin(math.pi * world_x / tile))
    # Far tiles blur into their mean, as they would through a lens.
    checker *= np.clip(1.5 / depth, 0.0, 1.0)
    ground = ground_colour + rng.uniform(5, 25) * checker[..., None]
    image = np.where((yy > camera.horizon)[..., None], ground, upper)
    image += rng.uniform(4, 16) * _low_frequency_noise(rng, (height, width), 12, 3, colour=0.3)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_occluders(rng: np.random.Generator, camera: Camera,
                   config: WorldConfig) -> tuple[np.ndarray, np.ndarray]:
    """Static occluders in front of everyone: pillars (full height) and boards (low, wide).

    Args:
      rng: random generator.
      camera: the camera (frame size).
      config: occluder counts and sizes.

    Returns:
      (H, W, 3) uint8 occluder image and (H, W) bool mask of where it covers the scene.
    """
    height, width = camera.height, camera.width
    image = np.zeros((height, width, 3), np.float32)
    mask = np.zeros((height, width), bool)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    count = rng.choice(len(config.occluder_count_probs), p=config.occluder_count_probs)
    for _ in range(count):
        colour = np.array(_random_colour(rng, (0.0, 0.7), (0.3, 0.9)), np.float32)
        if rng.random() < config.board_probability:
            w = rng.uniform(*config.board_width) * width
            h = rng.uniform(*config.board_height) * height
            x0 = rng.uniform(0.0, width - w)
            y1 = rng.uniform(0.85, 1.0) * height
            inside = (xx >= x0) & (xx < x0 + w) & (yy >= y1 - h) & (yy < y1)
            # Planks: horizontal bands with a darker border.
            bands = 12.0 * np.sign(np.sin(2 * math.pi * (yy - y1) / max(4.0, h / 5)))
            edge = np.minimum(np.minimum(xx - x0, x0 + w - xx), np.minimum(yy - y1 + h, y1 - yy))
            shade = colour + bands[..., None] - 40.0 * (edge < 3)[..., None]
        else:
            w = rng.uniform(*config.pillar_width) * width
            x0 = rng.uniform(0.05 * width, 0.95 * width - w)
            inside = (xx >= x0) & (xx < x0 + w)
            # A lit cylinder: bright in the middle, dark at the sides, with vertical fluting.
            u = (xx - x0) / w
            light = 0.55 + 0.45 * np.sin(math.pi * np.clip(u, 0, 1))
            fluting = 8.0 * np.sin(2 * math.pi * u * rng.integers(3, 7))
            shade = colour * light[..., None] + fluting[..., None]
        image[inside] = shade[inside]
        mask |= inside
    image += 6.0 * _low_frequency_noise(rng, (height, width), 6, 1)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def _make_walker(rng: np.random.Generator, camera: Camera, num_frames: int,
                 config: WorldConfig) -> Walker:
    """Draws a body, a gait and a path, and projects them."""
    body = sample_body(rng, config)
    running = rng.random() < config.run_probability
    gait = RUN if running else WALK
    leg = body.thigh + body.shin
    path = simulate_path(rng, camera, num_frames, running, leg, gait, config)
    return project_walker(body_points(body, gait, path["phase"]), path, camera, body)


def _make_crowd(rng: np.random.Generator, camera: Camera, num_frames: int,
                config: WorldConfig) -> tuple[list[Walker], np.ndarray]:
    """A small standing crowd behind everyone, in a far corner, and the polygon around it.

    Returns:
      The crowd (as motionless walkers) and the ignore polygon (N, 2) [x, y].
    """
    size = int(rng.integers(config.crowd_size[0], config.crowd_size[1] + 1))
    right = rng.random() < 0.5
    crowd = []
    for _ in range(size):
        body = sample_body(rng, config)
        z = config.depth_range[1] * rng.uniform(*config.crowd_depth)
        frac = rng.uniform(0.04, 0.22)
        x = (2.0 * (1.0 - frac if right else frac) - 1.0) * camera.half_width(z)
        heading = rng.uniform(-math.pi, math.pi)
        path = {"x": np.full(num_frames, x), "z": np.full(num_frames, z),
                "heading": np.full(num_frames, heading)}
        pose = body_points(body, STAND, np.zeros(num_frames))
        crowd.append(project_walker(pose, path, camera, body))
    boxes = np.stack([primitives_box(person_primitives(w, 0, config.face_threshold))
                      for w in crowd])
    margin = config.crowd_margin * camera.width
    x1, y1 = boxes[:, :2].min(0) - margin
    x2, y2 = boxes[:, 2:].max(0) + margin
    x1, x2 = (x1, camera.width - 1.0) if right else (0.0, x2)
    y1 = max(0.0, y1)
    y2 = min(camera.height - 1.0, y2)
    polygon = np.round(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]))
    return crowd, polygon


def make_scene(rng: np.random.Generator, num_frames: int, image_hw: tuple[int, int],
               config: WorldConfig) -> Scene:
    """Draws everything about a video except the per-frame camera noise and detections.

    Args:
      rng: random generator.
      num_frames: T.
      image_hw: (H, W).
      config: world settings.

    Returns:
      The scene.
    """
    camera = make_camera(rng, image_hw, config)
    background = make_background(rng, camera)
    occluder_image, occluder_mask = make_occluders(rng, camera, config)
    lo, hi = config.people_per_video
    walkers = [_make_walker(rng, camera, num_frames, config)
               for _ in range(int(rng.integers(lo, hi + 1)))]
    ignore_mask = np.zeros(image_hw, np.uint8)
    crowd, polygon = [], None
    if rng.random() < config.ignore_region_probability:
        crowd, polygon = _make_crowd(rng, camera, num_frames, config)
        cv2.fillPoly(ignore_mask, [polygon.astype(np.int32)], 1)
    return Scene(camera=camera, background=background, occluder_image=occluder_image,
                 occluder_mask=occluder_mask, walkers=walkers, crowd=crowd,
                 ignore_polygon=polygon, ignore_mask=ignore_mask.astype(bool),
                 noise_sd=float(rng.uniform(*config.noise_sd)))


class PersonView(NamedTuple):
    """What the renderer knows about one person in one frame."""

    prims: list[tuple]
    box: np.ndarray  # (4,) [x1, y1, x2, y2], clipped to the image
    alone_pixels: int  # pixels the person covers inside the image with nothing in front


def _clip_box(box: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Clips [x1, y1, x2, y2] to the image."""
    return np.array([np.clip(box[0], 0, hw[1]), np.clip(box[1], 0, hw[0]),
                     np.clip(box[2], 0, hw[1]), np.clip(box[3], 0, hw[0])])


def _pixel_slices(box: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices covering a clipped box, with a margin for rasterisation."""
    x1, y1 = int(math.floor(box[0])) - 2, int(math.floor(box[1])) - 2
    x2, y2 = int(math.ceil(box[2])) + 2, int(math.ceil(box[3])) + 2
    return slice(max(0, y1), y2), slice(max(0, x1), x2)


def _view(figure: Walker, t: int, scratch: np.ndarray, config: WorldConfig) -> PersonView:
    """Builds a person's primitives and measures how much of the image it covers alone."""
    prims = person_primitives(figure, t, config.face_threshold)
    box = _clip_box(primitives_box(prims), scratch.shape)
    draw_primitives(scratch, prims, value=1, antialias=False)
    rows, cols = _pixel_slices(box)
    region = scratch[rows, cols]
    alone = int(np.count_nonzero(region))
    region[...] = 0
    return PersonView(prims=prims, box=box, alone_pixels=alone)


def render_frame(scene: Scene, t: int, rng: np.random.Generator,
                 config: WorldConfig) -> tuple[np.ndarray, np.ndarray, list[PersonView]]:
    """Renders frame t: people (walkers, then the crowd) far to near, occluders, camera noise.

    Args:
      scene: the video's scene.
      t: frame index.
      rng: random generator (camera noise).
      config: world settings.

    Returns:
      The (H, W, 3) uint8 RGB image, the (H, W) uint8 label map (the index of the front-most
      figure, or the occluder/empty labels) and one view per figure.
    """
    image = scene.background.copy()
    label = np.full(image.shape[:2], _EMPTY_LABEL, np.uint8)
    scratch = np.zeros(image.shape[:2], np.uint8)
    figures = scene.walkers + scene.crowd
    views = [_view(f, t, scratch, config) for f in figures]
    for i in sorted(range(len(views)), key=lambda i: -figures[i].root_depth[t]):
        draw_primitives(image, views[i].prims)
        draw_primitives(label, views[i].prims, value=i, antialias=False)
    np.copyto(image, scene.occluder_image, where=scene.occluder_mask[..., None])
    label[scene.occluder_mask] = _OCCLUDER_LABEL
    gain = 1.0 + config.flicker_sd * rng.standard_normal()
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(scene.noise_sd)
    noisy = image.astype(np.float32) * np.float32(gain) + noise
    return np.clip(noisy, 0, 255).astype(np.uint8), label, views


def _annotate(walker: Walker, index: int, t: int, view: PersonView, label: np.ndarray,
              ignore_mask: np.ndarray, min_joints: int) -> Person | None:
    """The ground truth of one walker in a labeled frame, or None when too little is in view."""
    height, width = label.shape
    xy = np.round(walker.points[t, : joints.NUM_JOINTS], 2)
    cols = np.clip(np.round(xy[:, 0]).astype(int), 0, width - 1)
    rows = np.clip(np.round(xy[:, 1]).astype(int), 0, height - 1)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    # (0, 0) would read as "absent" in PoseTrack 2018, and nothing is annotated where ignored.
    inside &= (xy[:, 0] > 0) | (xy[:, 1] > 0)
    inside &= ~ignore_mask[rows, cols]
    inside[list(joints.UNANNOTATED_SLOTS)] = False
    if np.count_nonzero(inside) < min_joints:
        return None
    visible = inside & (label[rows, cols] == index)
    keypoints = np.zeros((joints.NUM_JOINTS, 3))
    keypoints[inside, :2] = xy[inside]
    keypoints[inside, 2] = visible[inside].astype(np.float64)
    head = walker.points[t, [0, 1, 2, _HEAD_CENTRE]]
    radius = walker.body.head_radius * walker.scale[t]
    head_lo = np.minimum(head.min(0), head[3] - radius)
    head_hi = np.maximum(head.max(0), head[3] + radius)
    x1, y1, x2, y2 = view.box
    return Person(keypoints=keypoints, track_id=index,
                  head_box=np.round(np.concatenate([head_lo, head_hi]), 2),
                  box=np.round(np.array([x1, y1, x2 - x1, y2 - y1]), 2))


def _detect(rng: np.random.Generator, box: np.ndarray, occluded: float, hw: tuple[int, int],
            config: WorldConfig) -> tuple[np.ndarray, float]:
    """A jittered detection box [x, y, w, h] and its score, for a visible box [x1, y1, x2, y2]."""
    w, h = box[2] - box[0], box[3] - box[1]
    cx = 0.5 * (box[0] + box[2]) + config.det_centre_jitter * w * rng.standard_normal()
    cy = 0.5 * (box[1] + box[3]) + config.det_centre_jitter * h * rng.standard_normal()
    w *= math.exp(config.det_scale_sd * rng.standard_normal())
    h *= math.exp(config.det_scale_sd * rng.standard_normal())
    clipped = _clip_box(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]), hw)
    score = (config.det_score_base - config.det_score_occlusion * occluded
             + config.det_score_sd * rng.standard_normal())
    xywh = np.array([clipped[0], clipped[1], clipped[2] - clipped[0], clipped[3] - clipped[1]])
    return xywh, float(np.clip(score, config.det_score_min, 1.0))


def miss_probability(occluded: float, config: WorldConfig) -> float:
    """Probability that the detector misses a person with this occluded fraction (0..1)."""
    return config.miss_base + config.miss_gain * occluded ** config.miss_power


def _visible_box(label: np.ndarray, value: int, box: np.ndarray) -> np.ndarray | None:
    """[x1, y1, x2, y2] around the pixels labelled `value` inside `box`, or None."""
    rows, cols = _pixel_slices(box)
    mine = label[rows, cols] == value
    ys = np.flatnonzero(mine.any(1))
    xs = np.flatnonzero(mine.any(0))
    if ys.size == 0:
        return None
    return np.array([cols.start + xs[0], rows.start + ys[0],
                     cols.start + xs[-1] + 1, rows.start + ys[-1] + 1], np.float64)


def _detections(rng: np.random.Generator, label: np.ndarray, views: list[PersonView],
                frame_image_id: int,
                config: WorldConfig) -> list[dict[str, Any]]:
    """The detector's output on frame t: visible figures, misses, false positives."""
    hw = label.shape
    counts = np.bincount(label.ravel(), minlength=256)
    min_pixels = max(1.0, config.det_min_area * hw[0] * hw[1])
    found = []
    for i, view in enumerate(views):
        if counts[i] < min_pixels:
            continue  # hidden, outside the frame, or a sliver: never detected
        occluded = 1.0 - min(1.0, counts[i] / view.alone_pixels)
        if rng.random() < miss_probability(occluded, config):
            continue
        found.append(_detect(rng, _visible_box(label, i, view.box), occluded, hw, config))
    for _ in range(rng.poisson(config.fp_rate)):
        h = rng.uniform(*config.fp_height) * hw[0]
        w = rng.uniform(*config.fp_aspect) * h
        x = rng.uniform(0, hw[1] - w)
        y = rng.uniform(0, hw[0] - h)
        found.append((np.array([x, y, w, h]), float(rng.uniform(*config.fp_score))))
    return [{"image_id": frame_image_id, "bbox": [round(float(v), 2) for v in xywh],
             "score": round(score, 4), "category_id": 1}
            for xywh, score in found if xywh[2] > 0 and xywh[3] > 0]


def iter_video(rng: np.random.Generator, number: int = 1, split: str = "train",
               num_frames: int = 50, image_hw: tuple[int, int] = (288, 384),
               label_every: int = 1, config: WorldConfig | None = None,
               ) -> Iterator[SimulatedFrame]:
    """Simulates one video, frame by frame (for streaming to disk).

    Args:
      rng: random generator; the same generator state gives the same video.
      number: the sequence number (names the sequence and its image ids).
      split: dataset split, part of the sequence name and file names.
      num_frames: T, at most 10000.
      image_hw: (H, W) frame size.
      label_every: frames 0, label_every, 2 * label_every, ... are labeled.
      config: world settings (defaults if None).

    Yields:
      One `SimulatedFrame` per frame, in order.
    """
    config = config or WorldConfig()
    _check_video_args(num_frames, image_hw, label_every)
    if config.people_per_video[1] + config.crowd_size[1] > _OCCLUDER_LABEL:
        raise ConfigError(f"synthetic world: at most {_OCCLUDER_LABEL} people and crowd per "
                          f"video, got {config.people_per_video[1]} + {config.crowd_size[1]}")
    scene = make_scene(rng, num_frames, image_hw, config)
    name = sequence_name(number, split)
    regions = [] if scene.ignore_polygon is None else [scene.ignore_polygon.astype(np.float64)]
    for t in range(num_frames):
        image, label, views = render_frame(scene, t, rng, config)
        frame_id = image_id(number, t)
        labeled = t % label_every == 0
        people = []
        if labeled:
            for i, (walker, view) in enumerate(zip(scene.walkers, views[: len(scene.walkers)],
                                                   strict=True)):
                person = _annotate(walker, i, t, view, label, scene.ignore_mask,
                                   config.min_annotated_joints)
                if person is not None:
                    people.append(person)
        frame = Frame(file_name=f"images/{split}/{name}/{t:06d}.jpg", frame_index=t,
                      is_labeled=labeled, people=people, ignore_regions=list(regions),
                      image_id=frame_id, extra={"width": image_hw[1], "height": image_hw[0]})
        dets = _detections(rng, label, views, frame_id, config)
        yield SimulatedFrame(frame=frame, image=image, detections=dets)


def simulate_video(rng: np.random.Generator, number: int = 1, split: str = "train",
                   num_frames: int = 50, image_hw: tuple[int, int] = (288, 384),
                   label_every: int = 1, config: WorldConfig | None = None,
                   ) -> tuple[Sequence, list[np.ndarray], list[dict[str, Any]]]:
    """Simulates one video in memory.

    Args:
      rng: random generator; the same generator state gives the same video.
      number: the sequence number (names the sequence and its image ids).
      split: dataset split, part of the sequence name and file names.
      num_frames: T, at most 10000.
      image_hw: (H, W) frame size.
      label_every: frames 0, label_every, 2 * label_every, ... are labeled.
      config: world settings (defaults if None).

    Returns:
      The annotated sequence, its T frames as (H, W, 3) uint8 RGB arrays, and the COCO
      detections (dicts with image_id, bbox [x, y, w, h], score, category_id) of all frames.
    """
    frames, images, detections = [], [], []
    for sim in iter_video(rng, number, split, num_frames, image_hw, label_every, config):
        frames.append(sim.frame)
        images.append(sim.image)
        detections.extend(sim.detections)
    return Sequence(name=sequence_name(number, split), frames=frames), images, detections


def _check_video_args(num_frames: int, image_hw: tuple[int, int], label_every: int) -> None:
    """Rejects frame counts, sizes and label strides the world cannot produce."""
    if not 1 <= num_frames <= MAX_FRAMES:
        raise DataError(f"synthetic world: frames must be in 1..{MAX_FRAMES} (PoseTrack frame "
                        f"numbers), got {num_frames}")
    if min(image_hw) < MIN_IMAGE_SIDE:
        raise DataError(f"synthetic world: size must be at least {MIN_IMAGE_SIDE} pixels per "
                        f"side, got {image_hw[1]}x{image_hw[0]} (W x H)")
    if label_every < 1:
        raise DataError(f"synthetic world: label_every must be >= 1, got {label_every}")


def _track_colour(track_id: int) -> tuple[int, int, int]:
    """A distinct RGB colour per track id (golden-ratio hue steps)."""
    hsv = np.array([[[int(track_id * 0.618034 * 180) % 180, 220, 255]]], np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def draw_ground_truth(image: np.ndarray, frame: Frame,
                      detections: SequenceType[dict[str, Any]] = ()) -> np.ndarray:
    """Draws a frame's annotations over a copy of its image.

    Limbs follow `joints.LIMBS` in each track's colour; visible joints are filled, occluded
    joints hollow; head boxes are thin; detections are white boxes; ignore regions yellow.

    Args:
      image: (H, W, 3) uint8 RGB.
      frame: the frame's annotations.
      detections: COCO detections of this frame.

    Returns:
      (H, W, 3) uint8 RGB.
    """
    out = image.copy()
    for region in frame.ignore_regions:
        cv2.polylines(out, [np.round(region).astype(np.int32)], True, (255, 230, 0), 1)
    for det in detections:
        x, y, w, h = det["bbox"]
        cv2.rectangle(out, (round(x), round(y)), (round(x + w), round(y + h)), (255, 255, 255), 1)
    for person in frame.people:
        colour = _track_colour(person.track_id)
        kp, present = person.keypoints, person.present
        for a, b in joints.LIMBS:
            if present[a] and present[b]:
                cv2.line(out, _fixed(kp[a]), _fixed(kp[b]), colour, 1, cv2.LINE_AA, _SHIFT)
        radius = int(2.5 * _FIXED)
        for k in np.flatnonzero(present):
            fill = -1 if kp[k, 2] > 0 else 1
            cv2.circle(out, _fixed(kp[k]), radius, colour, fill, cv2.LINE_AA, _SHIFT)
        if person.head_box is not None:
            x1, y1, x2, y2 = (round(v) for v in person.head_box)
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, 1)
            cv2.putText(out, str(person.track_id), (x1, max(8, y1 - 2)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    cv2.putText(out, f"t={frame.frame_index}", (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (255, 255, 255), 1, cv2.LINE_AA)
    return out


def render_preview(sequence: Sequence, images: SequenceType[np.ndarray],
                   detections: SequenceType[dict[str, Any]], num_frames: int = 6,
                   columns: int = 3) -> np.ndarray:
    """A grid of annotated frames spread over a video, for eyeballing the world.

    Args:
      sequence: the video's annotations.
      images: its (H, W, 3) uint8 RGB frames.
      detections: its COCO detections.
      num_frames: how many labeled frames to show.
      columns: frames per grid row.

    Returns:
      (rows * H, columns * W, 3) uint8 RGB.
    """
    labeled = [f for f in sequence.frames if f.is_labeled] or sequence.frames
    picks = np.unique(np.round(np.linspace(0, len(labeled) - 1, num_frames)).astype(int))
    by_image: dict[int, list[dict[str, Any]]] = {}
    for det in detections:
        by_image.setdefault(det["image_id"], []).append(det)
    tiles = [draw_ground_truth(images[labeled[i].frame_index], labeled[i],
                               by_image.get(labeled[i].image_id, [])) for i in picks]
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.concatenate(tiles[i:i + columns], 1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, 0)


class WorldSummary(NamedTuple):
    """What `generate_world` wrote."""

    videos: int
    frames: int
    labeled_frames: int
    people: int
    detections: int
    preview: Path | None


def _split_targets(out: Path, split: str) -> list[Path]:
    """The three paths a split occupies: its images, its annotations and its detections."""
    return [out / "images" / split, out / "annotations" / split,
            out / "detections" / f"{split}.json"]


def _occupied(path: Path) -> bool:
    """Whether a target already holds something (an empty folder does not count)."""
    if path.is_dir():
        return any(path.iterdir())
    return path.exists()


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an (H, W, 3) uint8 RGB image."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise DataError("synthetic world: the JPEG encoder failed")
    return buf.tobytes()


def _check_world_args(seed: int, num_videos: int, split: str) -> None:
    """Rejects seeds, video counts and splits the world cannot produce."""
    if seed < 0:
        raise DataError(f"synthetic world: seed must be >= 0, got {seed}")
    if not 1 <= num_videos <= MAX_VIDEOS:
        raise DataError(f"synthetic world: videos must be in 1..{MAX_VIDEOS}, got {num_videos}")
    if split not in SPLITS:
        raise DataError(f"synthetic world: split must be one of {', '.join(SPLITS)}, "
                        f"got {split!r}")


def _write_video(stage: Path, split: str, number: int, rng: np.random.Generator,
                 video_args: dict[str, Any], jpeg_quality: int, keep_images: bool,
                 ) -> tuple[Sequence, list[np.ndarray], list[dict[str, Any]]]:
    """Simulates one video, streaming its frames to the staging folder, and writes its JSON.

    Returns:
      The sequence, its images (only if `keep_images`, else empty) and its detections.
    """
    name = sequence_name(number, split)
    (stage / "images" / split / name).mkdir()
    frames, images, detections = [], [], []
    for sim in iter_video(rng, number, split, **video_args):
        (stage / sim.frame.file_name).write_bytes(encode_jpeg(sim.image, jpeg_quality))
        frames.append(sim.frame)
        detections.extend(sim.detections)
        if keep_images:
            images.append(sim.image)
    seq = Sequence(name=name, frames=frames)
    posetrack.write_sequence(seq, stage / "annotations" / split / f"{name}.json", fmt="2018")
    return seq, images, detections


def generate_world(out_dir: str | os.PathLike, seed: int, num_videos: int, split: str = "train",
                   num_frames: int = 50, image_hw: tuple[int, int] = (288, 384),
                   label_every: int = 1, overwrite: bool = False, preview: bool = False,
                   config: WorldConfig | None = None, jpeg_quality: int = 90,
                   progress: Callable[[int, int], None] | None = None) -> WorldSummary:
    """Writes one split of the synthetic world in PoseTrack 2018 layout.

    The split is written into a staging folder inside `out_dir` and renamed into place at the
    end, so a crash leaves no half-written split. Video i of a split depends only on (seed,
    split, i): the same arguments give byte-identical files.

    Args:
      out_dir: dataset root; `images/`, `annotations/` and `detections/` go under it.
      seed: non-negative seed.
      num_videos: number of sequences.
      split: "train" or "val".
      num_frames: frames per video (T), at most 10000.
      image_hw: (H, W) frame size.
      label_every: label every n-th frame (1 = every frame).
      overwrite: replace an existing split instead of refusing.
      preview: also write `preview_{split}.png`, annotated frames of the first video.
      config: world settings (defaults if None).
      jpeg_quality: JPEG quality of the frames.
      progress: called with (videos done, total) after each video.

    Returns:
      Counts of what was written, and the preview path if any.

    Raises:
      DataError: bad arguments, an occupied split without `overwrite`, or an unwritable folder.
    """
    _check_world_args(seed, num_videos, split)
    _check_video_args(num_frames, image_hw, label_every)
    out = Path(out_dir)
    targets = _split_targets(out, split)
    occupied = [p for p in targets if _occupied(p)]
    if occupied and not overwrite:
        raise DataError(f"{occupied[0]}: already holds a {split} split; pass --overwrite "
                        f"(overwrite=True) to replace it")
    try:
        out.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".synthetic-{split}-", dir=out))
    except OSError as e:
        raise DataError(f"{out}: cannot write the synthetic world there ({e.strerror})") from e
    try:
        for sub in ("images", "annotations", "detections"):
            (stage / sub / split).mkdir(parents=True)
        video_args = {"num_frames": num_frames, "image_hw": image_hw,
                      "label_every": label_every, "config": config}
        counts = np.zeros(4, int)
        detections: list[dict[str, Any]] = []
        first = None
        for v in range(num_videos):
            rng = np.random.default_rng([seed, SPLITS.index(split), v])
            number = SPLIT_NUMBER_OFFSET[split] + v + 1
            seq, images, dets = _write_video(stage, split, number, rng, video_args,
                                             jpeg_quality, keep_images=preview and v == 0)
            detections.extend(dets)
            counts += [1, len(seq.frames), sum(f.is_labeled for f in seq.frames),
                       sum(len(f.people) for f in seq.frames)]
            if images:
                first = (seq, images, dets)
            if progress is not None:
                progress(v + 1, num_videos)
        posetrack.write_detections(detections, stage / "detections" / f"{split}.json")
        _place_split(stage, split, targets)
        preview_path = None
        if first is not None:
            preview_path = out / f"preview_{split}.png"
            grid = cv2.cvtColor(render_preview(*first), cv2.COLOR_RGB2BGR)
            atomic.write_bytes(preview_path, cv2.imencode(".png", grid)[1].tobytes())
    except OSError as e:
        raise DataError(f"{e.filename or out}: cannot write the synthetic world "
                        f"({e.strerror})") from e
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return WorldSummary(*(int(c) for c in counts), len(detections), preview_path)


def _place_split(stage: Path, split: str, targets: list[Path]) -> None:
    """Moves a finished split from the staging folder into place, old copies aside first.

    If a move fails, the moves already made are undone, so the old split survives.
    """
    aside = stage / "old"
    aside.mkdir()
    undo = []
    try:
        for i, (new, target) in enumerate(zip(_split_targets(stage, split), targets,
                                              strict=True)):
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                os.replace(target, aside / str(i))
                undo.append((aside / str(i), target))
            os.replace(new, target)
            undo.append((target, new))
    except BaseException:
        for src, dst in reversed(undo):
            os.replace(src, dst)
        raise


def parse_size(text: str) -> tuple[int, int]:
    """Parses the CLI's `WIDTHxHEIGHT` (e.g. `384x288`) into (H, W)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise DataError(f"--size: expected WIDTHxHEIGHT such as 384x288, got {text!r}")
    width, height = (int(p) for p in parts)
    return height, width


def main(argv: SequenceType[str] | None = None) -> int:
    """Command-line entry point: writes one split of the synthetic world."""
    parser = argparse.ArgumentParser(
        prog="python -m gnnpose_jax.data.synthetic",
        description="Write a synthetic world of walking and running people in PoseTrack 2018 "
                    "layout (images, annotations, COCO detections).")
    parser.add_argument("--out", required=True, help="dataset root folder")
    parser.add_argument("--seed", type=int, required=True, help="random seed (>= 0)")
    parser.add_argument("--videos", type=int, default=20, help="number of videos")
    parser.add_argument("--split", choices=SPLITS, default="train")
    parser.add_argument("--frames", type=int, default=50, help="frames per video")
    parser.add_argument("--size", default="384x288", help="frame size WIDTHxHEIGHT")
    parser.add_argument("--label-every", type=int, default=1,
                        help="label every n-th frame (PoseTrack val labels every 4th)")
    parser.add_argument("--preview", action="store_true",
                        help="also write DIR/preview_{split}.png from the first video")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing split")
    args = parser.parse_args(argv)
    image_hw = parse_size(args.size)
    start = time.perf_counter()

    def report(done: int, total: int) -> None:
        print(f"{args.split}: {done}/{total} videos ({time.perf_counter() - start:.1f} s)",
              flush=True)

    summary = generate_world(args.out, args.seed, args.videos, args.split, args.frames, image_hw,
                             args.label_every, args.overwrite, args.preview, progress=report)
    print(f"wrote {summary.videos} videos, {summary.frames} frames ({summary.labeled_frames} "
          f"labeled, {summary.people} people), {summary.detections} detections to {args.out} "
          f"in {time.perf_counter() - start:.1f} s")
    if summary.preview is not None:
        print(f"preview: {summary.preview}")
    return 0


if __name__ == "__main__":
    run_cli(main)
