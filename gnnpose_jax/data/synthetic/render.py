"""Drawing the world: people as capsules and discs, backdrops, occluders, the crowd, frames."""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import cv2
import numpy as np

from gnnpose_jax.data.synthetic.config import WorldConfig
from gnnpose_jax.data.synthetic.motion import (
    HEAD_CENTRE,
    LEFT_TOE,
    RIGHT_TOE,
    STAND,
    Camera,
    Walker,
    body_points,
    make_camera,
    make_walker,
    project_walker,
    random_colour,
    sample_body,
)
from gnnpose_jax.viz.draw import SUBPIXEL, SUBPIXEL_BITS, subpixel

# Label-map values: figures (walkers, then the crowd) use their index; these values are not
# figures, and bound how many figures a video can hold.
OCCLUDER_LABEL, EMPTY_LABEL = 254, 255
# The face disc: shifted towards the nose, dropped and shrunk, in head radii.
_FACE_SHIFT, _FACE_DROP, _FACE_RADIUS = 0.3, 0.15, 0.8
_NOSE_RADIUS, _NOSE_SHADE = 0.18, 0.6
# Left parts are lighter (gain, offset), right parts darker (gain): the world's side cue. A mirror
# keeps it on the same limb while flip augmentation swaps the labels, so the synthetic configs
# train without flips (docs/results.md: cues that survive a mirror were not learned in budget).
_LIGHTER, _DARKER = (1.25, 20.0), 0.7
# A backpack on the upper back shows which way a person faces at the torso's scale (the face is
# a few pixels): its depth in world units, its width as a fraction of the shoulders' and its
# length as a fraction of the shoulder-to-hip span. Its colour is the shirt's complement.
_PACK_DEPTH, _PACK_WIDTH, _PACK_LENGTH = 0.1, 0.75, 0.6

# Capsules of a body: (from point, to point, thickness key, colour key, side: +1 left, -1 right).
_CAPSULES = (
    (11, 13, "thigh", "trousers", 1), (13, 15, "shin", "trousers", 1),
    (15, LEFT_TOE, "foot", "shoes", 1),
    (12, 14, "thigh", "trousers", -1), (14, 16, "shin", "trousers", -1),
    (16, RIGHT_TOE, "foot", "shoes", -1),
    (5, 7, "upper_arm", "shirt", 1), (7, 9, "forearm", "sleeves", 1),
    (6, 8, "upper_arm", "shirt", -1), (8, 10, "forearm", "sleeves", -1),
)


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


def _shade(colour: tuple[float, float, float], side: int) -> tuple[float, float, float]:
    """Left parts (side +1) lighter, right parts (-1) darker, so the sides can be told apart."""
    if side > 0:
        gain, offset = _LIGHTER
        return tuple(min(255.0, gain * c + offset) for c in colour)
    return tuple(_DARKER * c for c in colour)


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
    torso_depth = float(np.mean(depth[[5, 6, 11, 12]]))
    prims = []
    for a, b, thick, colour, side in _CAPSULES:
        size = max(1, int(round(body.thickness[thick] * scale)))
        prims.append((0.5 * (depth[a] + depth[b]), "capsule", (pts[a], pts[b]), size,
                      _shade(body.colours[colour], side)))
    hand = max(1.0, body.thickness["hand"] * scale)
    for wrist, side in ((9, 1), (10, -1)):
        prims.append((depth[wrist] - 1e-3, "disc", pts[wrist], hand,
                      _shade(body.colours["skin"], side)))
    # The torso: the hull of shoulders and hips widened by the chest depth along the heading.
    half_depth = 0.5 * body.torso_depth * float(walker.forward_dx[t])
    corners = pts[[5, 6, 12, 11]]
    hull = np.concatenate([corners + [half_depth, 0.0], corners - [half_depth, 0.0]])
    prims.append((torso_depth, "poly", hull, 0, body.colours["shirt"]))
    top = pts[[5, 6]]
    bottom = top + _PACK_LENGTH * (pts[[11, 12]] - top)
    panel = np.concatenate([top, bottom[::-1]])
    panel = panel.mean(0) + _PACK_WIDTH * (panel - panel.mean(0))
    pack_near, pack_far = 0.5 * body.torso_depth, 0.5 * body.torso_depth + _PACK_DEPTH
    dx = float(walker.forward_dx[t])
    pack = np.concatenate([panel - [pack_near * dx, 0.0], panel - [pack_far * dx, 0.0]])
    pack_depth = torso_depth - float(walker.facing[t]) * 0.5 * (pack_near + pack_far)
    prims.append((pack_depth, "poly", pack, 0,
                  tuple(255.0 - c for c in body.colours["shirt"])))
    prims.append((torso_depth, "capsule", (pts[5], pts[6]),
                  max(1, int(round(body.thickness["shoulders"] * scale))), body.colours["shirt"]))
    head_depth = float(depth[HEAD_CENTRE]) - 1e-3
    prims.append((head_depth, "capsule", (pts[1], pts[HEAD_CENTRE]),
                  max(1, int(round(body.thickness["neck"] * scale))), body.colours["skin"]))
    radius = body.head_radius * scale
    prims.append((head_depth, "disc", pts[HEAD_CENTRE], radius, body.colours["hair"]))
    if walker.facing[t] < face_threshold:
        # The face shows towards the heading; the nose marks the front of the head.
        face = pts[HEAD_CENTRE] + _FACE_SHIFT * (pts[0] - pts[HEAD_CENTRE])
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
            cv2.line(canvas, subpixel(geom[0]), subpixel(geom[1]), c, size, line, SUBPIXEL_BITS)
        elif kind == "poly":
            hull = cv2.convexHull(np.round(geom * SUBPIXEL).astype(np.int32))
            cv2.fillConvexPoly(canvas, hull, c, line, SUBPIXEL_BITS)
        else:
            cv2.circle(canvas, subpixel(geom), int(round(size * SUBPIXEL)), c, -1, line,
                       SUBPIXEL_BITS)


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
    top = np.array(random_colour(rng, (0.05, 0.5), (0.45, 0.95)), np.float32)
    bottom = np.array(random_colour(rng, (0.05, 0.5), (0.35, 0.85)), np.float32)
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
        upper[inside] = np.array(random_colour(rng, (0.0, 0.6), (0.2, 0.9)), np.float32)
    ground_colour = np.array(random_colour(rng, (0.05, 0.6), (0.25, 0.75)), np.float32)
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
        colour = np.array(random_colour(rng, (0.0, 0.7), (0.3, 0.9)), np.float32)
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
    walkers = [make_walker(rng, camera, num_frames, config)
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


def clip_box(box: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Clips [x1, y1, x2, y2] to the image."""
    return np.array([np.clip(box[0], 0, hw[1]), np.clip(box[1], 0, hw[0]),
                     np.clip(box[2], 0, hw[1]), np.clip(box[3], 0, hw[0])])


def pixel_slices(box: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices covering a clipped box, with a margin for rasterisation."""
    x1, y1 = int(math.floor(box[0])) - 2, int(math.floor(box[1])) - 2
    x2, y2 = int(math.ceil(box[2])) + 2, int(math.ceil(box[3])) + 2
    return slice(max(0, y1), y2), slice(max(0, x1), x2)


def _view(figure: Walker, t: int, scratch: np.ndarray, config: WorldConfig) -> PersonView:
    """Builds a person's primitives and measures how much of the image it covers alone."""
    prims = person_primitives(figure, t, config.face_threshold)
    box = clip_box(primitives_box(prims), scratch.shape)
    draw_primitives(scratch, prims, value=1, antialias=False)
    rows, cols = pixel_slices(box)
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
    label = np.full(image.shape[:2], EMPTY_LABEL, np.uint8)
    scratch = np.zeros(image.shape[:2], np.uint8)
    figures = scene.walkers + scene.crowd
    views = [_view(f, t, scratch, config) for f in figures]
    for i in sorted(range(len(views)), key=lambda i: -figures[i].root_depth[t]):
        draw_primitives(image, views[i].prims)
        draw_primitives(label, views[i].prims, value=i, antialias=False)
    np.copyto(image, scene.occluder_image, where=scene.occluder_mask[..., None])
    label[scene.occluder_mask] = OCCLUDER_LABEL
    gain = 1.0 + config.flicker_sd * rng.standard_normal()
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(scene.noise_sd)
    noisy = image.astype(np.float32) * np.float32(gain) + noise
    return np.clip(noisy, 0, 255).astype(np.uint8), label, views
