"""Top-down HRNet training samples: an augmented affine crop of one person and its targets.

The rules are the official HRNet `JointsDataset` ones (docs/spec/method.md §4), built on
`transforms.py`: the person box is enlarged 1.25 and fixed to the input's aspect ratio; with
probability 0.3 a person with more than 8 annotated joints is cropped to its upper or lower
body instead (half-body); the crop size is scaled by `clip(N(1, 0.35), 0.65, 1.35)`; with
probability 0.6 it is rotated by `clip(N(0, 45), -90, 90)` degrees; with probability 0.5 it is
mirrored, left and right joints swapped (`joints.FLIP_PERMUTATION`). The mirror is composed into
the affine matrix rather than applied to the image, which gives the same pixels.

Targets are Gaussians on the heatmap grid (the input divided by the stride), sigma 3 at 96 x 72
and scaled with the heatmap width (2 at 64 x 48). Joint k is centred on the cell
`int(x / stride + 0.5)` (Python `int`, which truncates towards zero), the official rule under
which flip testing with the one-column shift is exact. The Gaussian covers the cells within
3 sigma of its centre. A joint's weight is 0 when it is not annotated or when that window has
no cell on the heatmap; otherwise 1 (a joint just outside the crop keeps the visible tail of
its Gaussian, as officially). For integer sigmas the heatmaps equal the official
`generate_target`; for others the official window is off-centre, ours is not.

Everything is NumPy, deterministic given the `np.random.Generator`. Shapes: K joint slots,
(H, W) the network input, (h, w) = (H, W) / stride the heatmap.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from gnnpose_jax.data import transforms
from gnnpose_jax.data.joints import FLIP_PERMUTATION, UPPER_BODY

#: The heatmap sigma at the reference heatmap width (96 x 72 heatmaps of 384 x 288 inputs).
REFERENCE_SIGMA = 3.0
REFERENCE_HEATMAP_WIDTH = 72
#: The Gaussian window reaches this many sigmas from its centre (official `tmp_size`).
GAUSSIAN_RADIUS_SIGMAS = 3.0
#: Official half-body rule: a body part is used only if it has more than this many joints,
#: and the chosen part must have at least `_HALF_BODY_MIN_SELECTED` joints.
_HALF_BODY_MIN_PART = 2
_HALF_BODY_MIN_SELECTED = 2


@dataclasses.dataclass(frozen=True)
class TopDownConfig:
    """Crop size, target codec and augmentation of top-down samples (official defaults).

    Attributes:
      input_hw: (H, W) of the network input.
      heatmap_stride: input pixels per heatmap cell.
      sigma: Gaussian sigma in heatmap cells; None scales 3 at width 72 with the heatmap width.
      box_enlarge: person box enlargement before cropping.
      scale_factor: sf; the crop size is scaled by clip(N(1, sf), 1 - sf, 1 + sf).
      rotation_factor: rf; the rotation is clip(N(0, rf), -2 rf, 2 rf) degrees.
      rotation_prob: probability of drawing a rotation (else 0).
      flip_prob: probability of the horizontal mirror.
      half_body_prob: probability of a half-body crop, for people with more than
        `half_body_min_joints` annotated joints.
      half_body_min_joints: see `half_body_prob`.
      half_body_upper_prob: probability of choosing the upper body (the official draw
        `randn() < 0.5` is true with probability 0.69).
      half_body_enlarge: enlargement of the half-body box.
    """

    input_hw: tuple[int, int] = (384, 288)
    heatmap_stride: int = transforms.HEATMAP_STRIDE
    sigma: float | None = None
    box_enlarge: float = transforms.BOX_ENLARGE
    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8
    half_body_upper_prob: float = 0.69
    half_body_enlarge: float = 1.5

    @property
    def heatmap_hw(self) -> tuple[int, int]:
        """(h, w) of the heatmaps."""
        return self.input_hw[0] // self.heatmap_stride, self.input_hw[1] // self.heatmap_stride

    @property
    def heatmap_sigma(self) -> float:
        """The Gaussian sigma in heatmap cells."""
        if self.sigma is not None:
            return float(self.sigma)
        return REFERENCE_SIGMA * self.heatmap_hw[1] / REFERENCE_HEATMAP_WIDTH


class Augmentation(NamedTuple):
    """One draw of the crop augmentation: region, rotation (degrees) and mirror."""

    center: np.ndarray
    scale: np.ndarray
    rotation: float
    flip: bool


class TopDownSample(NamedTuple):
    """One training sample.

    Attributes:
      image: (H, W, 3) float32 ImageNet-normalised RGB crop.
      heatmaps: (h, w, K) float32 Gaussian targets.
      weights: (K,) float32 joint weights (0: unannotated or off the heatmap).
      keypoints: (K, 4) float32 [x, y, annotated, visible] in crop pixels, slots already swapped
        when mirrored (visible: annotated with a visibility flag > 0).
      matrix: (2, 3) float32 image -> crop matrix (the mirror included).
    """

    image: np.ndarray
    heatmaps: np.ndarray
    weights: np.ndarray
    keypoints: np.ndarray
    matrix: np.ndarray


def annotated(keypoints: np.ndarray) -> np.ndarray:
    """(K,) bool: joints whose row is not (0, 0, 0), the PoseTrack 2018 rule."""
    return np.any(np.asarray(keypoints) != 0.0, axis=-1)


def gaussian_targets(points: np.ndarray, present: np.ndarray, heatmap_hw: tuple[int, int],
                     stride: tuple[float, float], sigma: float,
                     radius_sigmas: float = GAUSSIAN_RADIUS_SIGMAS
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian heatmaps and joint weights for points in input (crop) pixels.

    Args:
      points: (K, 2) [x, y] crop pixels.
      present: (K,) bool, annotated joints.
      heatmap_hw: (h, w).
      stride: [x, y] input pixels per heatmap cell.
      sigma: Gaussian sigma in cells.
      radius_sigmas: the window reaches this many sigmas from the centre.

    Returns:
      heatmaps (h, w, K) float32 and weights (K,) float32.
    """
    h, w = heatmap_hw
    points = np.asarray(points, dtype=np.float64)
    # Python int() truncates towards zero; the official centre rule depends on it.
    mu = np.trunc(points / np.asarray(stride, dtype=np.float64) + 0.5)
    radius = radius_sigmas * sigma
    meets = ((mu + radius >= 0) & (mu - radius <= np.array([w - 1, h - 1]))).all(axis=1)
    weights = (np.asarray(present, bool) & meets).astype(np.float32)
    du = np.arange(w)[None, :] - mu[:, :1]  # (K, w)
    dv = np.arange(h)[None, :] - mu[:, 1:]  # (K, h)
    gx = np.where(np.abs(du) <= radius, np.exp(-du**2 / (2 * sigma**2)), 0.0)
    gy = np.where(np.abs(dv) <= radius, np.exp(-dv**2 / (2 * sigma**2)), 0.0)
    heatmaps = np.einsum("kv,ku->vuk", gy, gx) * weights
    return heatmaps.astype(np.float32), weights


def half_body_region(keypoints: np.ndarray, rng: np.random.Generator, config: TopDownConfig
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """The official half-body crop: centre and pixel scale of the upper or lower body.

    Args:
      keypoints: (K, 3) [x, y, v] image pixels.
      rng: random generator.
      config: aspect ratio, upper-body probability and enlargement.

    Returns:
      (center (2,), scale (2,)) or None when the chosen part has too few joints.
    """
    present = annotated(keypoints)
    upper_mask = np.zeros(len(keypoints), bool)
    upper_mask[list(UPPER_BODY)] = True
    upper = keypoints[present & upper_mask, :2]
    lower = keypoints[present & ~upper_mask, :2]
    if rng.random() < config.half_body_upper_prob and len(upper) > _HALF_BODY_MIN_PART:
        selected = upper
    else:
        selected = lower if len(lower) > _HALF_BODY_MIN_PART else upper
    if len(selected) < _HALF_BODY_MIN_SELECTED:
        return None
    low, high = selected.min(axis=0), selected.max(axis=0)
    aspect = config.input_hw[1] / config.input_hw[0]
    # The box centre is the joints' mean, not the box middle (official).
    _, scale = transforms.box_to_center_scale([0.0, 0.0, *(high - low)], aspect,
                                              config.half_body_enlarge)
    return selected.mean(axis=0), scale


def draw_augmentation(keypoints: np.ndarray, box: np.ndarray, rng: np.random.Generator,
                      config: TopDownConfig, augment: bool = True) -> Augmentation:
    """Draws the crop region, rotation and mirror of one sample (official order of draws).

    Args:
      keypoints: (K, 3) [x, y, v] image pixels.
      box: (4,) [x, y, w, h] person box, w and h positive.
      rng: random generator.
      config: the augmentation settings.
      augment: False gives the plain box crop (evaluation).

    Returns:
      The augmentation.
    """
    aspect = config.input_hw[1] / config.input_hw[0]
    center, scale = transforms.box_to_center_scale(box, aspect, config.box_enlarge)
    if not augment:
        return Augmentation(center, scale, 0.0, False)
    if (annotated(keypoints).sum() > config.half_body_min_joints
            and rng.random() < config.half_body_prob):
        region = half_body_region(keypoints, rng, config)
        if region is not None:
            center, scale = region
    sf, rf = config.scale_factor, config.rotation_factor
    scale = scale * np.clip(rng.standard_normal() * sf + 1.0, 1.0 - sf, 1.0 + sf)
    rotation = 0.0
    if rng.random() < config.rotation_prob:
        rotation = float(np.clip(rng.standard_normal() * rf, -2.0 * rf, 2.0 * rf))
    flip = bool(rng.random() < config.flip_prob)
    return Augmentation(center, scale, rotation, flip)


def crop_matrix(aug: Augmentation, image_width: int, input_hw: tuple[int, int]) -> np.ndarray:
    """Image -> crop matrix of an augmentation, the mirror composed in.

    Mirroring the image (`x -> width - 1 - x`, the centre with it) and then cropping is one
    affine map of the unmirrored image, so the crop is warped once.

    Args:
      aug: the augmentation.
      image_width: W of the source image.
      input_hw: (H, W) of the crop.

    Returns:
      (2, 3) float64 matrix.
    """
    center = np.array(aug.center, dtype=np.float64)
    mirror = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    if aug.flip:
        center[0] = image_width - 1 - center[0]
        mirror = np.array([[-1.0, 0.0, image_width - 1.0], [0.0, 1.0, 0.0]])
    crop = transforms.get_affine_transform(center, aug.scale, aug.rotation,
                                           (input_hw[1], input_hw[0]))
    return transforms.compose_affine(crop, mirror)


def make_topdown_sample(image: np.ndarray, keypoints: np.ndarray, box: np.ndarray,
                        rng: np.random.Generator, config: TopDownConfig = TopDownConfig(),
                        augment: bool = True) -> TopDownSample:
    """The training sample of one person.

    Args:
      image: (H_img, W_img, 3) uint8 RGB frame.
      keypoints: (K, 3) [x, y, v] image pixels; (0, 0, 0) rows are unannotated.
      box: (4,) [x, y, w, h] person box with positive w and h.
      rng: random generator (the only source of randomness).
      config: crop, target and augmentation settings.
      augment: False gives the unaugmented box crop.

    Returns:
      The sample.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    aug = draw_augmentation(keypoints, np.asarray(box, dtype=np.float64), rng, config, augment)
    matrix = crop_matrix(aug, image.shape[1], config.input_hw)
    crop = transforms.normalize_image(transforms.warp_crop(image, matrix, config.input_hw))
    present = annotated(keypoints)
    visible = present & (keypoints[:, 2] > 0)
    points = transforms.apply_affine(keypoints[:, :2], matrix)
    if aug.flip:
        points, present = points[FLIP_PERMUTATION], present[FLIP_PERMUTATION]
        visible = visible[FLIP_PERMUTATION]
    stride = (config.input_hw[1] / config.heatmap_hw[1], config.input_hw[0] / config.heatmap_hw[0])
    heatmaps, weights = gaussian_targets(points, present, config.heatmap_hw, stride,
                                         config.heatmap_sigma)
    crop_keypoints = np.concatenate([points * present[:, None], present[:, None],
                                     visible[:, None]], axis=1)
    return TopDownSample(crop, heatmaps, weights, crop_keypoints.astype(np.float32),
                         matrix.astype(np.float32))
