"""People in motion: bodies, gaits, paths over the ground, and the camera that projects them."""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import cv2
import numpy as np

from gnnpose_jax.data.synthetic.config import WorldConfig

# Internal skeleton: the 17 slots, then points that are drawn but never annotated.
HEAD_CENTRE, LEFT_TOE, RIGHT_TOE = 17, 18, 19
_NUM_POINTS = 20


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


def random_colour(rng: np.random.Generator, saturation: tuple[float, float],
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
    shirt = random_colour(rng, (0.35, 1.0), (0.35, 0.95))
    colours = {
        "shirt": shirt,
        "sleeves": shirt if rng.random() < 0.5 else skin,
        "trousers": random_colour(rng, (0.2, 0.9), (0.2, 0.75)),
        "shoes": random_colour(rng, (0.0, 0.5), (0.05, 0.3)),
        "hair": random_colour(rng, (0.3, 0.8), (0.05, 0.45)),
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
    slots = {"left": (11, 13, 15, LEFT_TOE), "right": (12, 14, 16, RIGHT_TOE)}
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
    pts[:, HEAD_CENTRE] = np.stack([head[:, 0], zero, head[:, 1]], -1)
    pts[:, 2] = pts[:, HEAD_CENTRE] + r * np.asarray(_HEAD_TOP_OFFSET)
    pts[:, 0] = pts[:, HEAD_CENTRE] + r * np.asarray(_NOSE_OFFSET)
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


def make_walker(rng: np.random.Generator, camera: Camera, num_frames: int,
                config: WorldConfig) -> Walker:
    """Draws a body, a gait and a path, and projects them."""
    body = sample_body(rng, config)
    running = rng.random() < config.run_probability
    gait = RUN if running else WALK
    leg = body.thigh + body.shin
    path = simulate_path(rng, camera, num_frames, running, leg, gait, config)
    return project_walker(body_points(body, gait, path["phase"]), path, camera, body)
