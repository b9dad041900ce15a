"""Top-down crops and the heatmap codec's decoder, in the official HRNet conventions (host-side).

Coordinates are continuous pixel coordinates `(x, y)` with integer values at pixel centres,
the convention of `cv2.warpAffine` and of the official HRNet code. A crop is described by a
centre `(x, y)` and a scale `[w, h]` **in pixels** (the official code divides by 200; we don't).
`get_affine_transform` maps that region, optionally rotated, onto an output of size
`[out_w, out_h]`; the box centre goes to `(out_w / 2, out_h / 2)` and the scale factor is
`out_w / scale_w` on both axes (a similarity, as officially: the scale's height only matters
through the aspect rule of `box_to_center_scale`).

The heatmap grid is the input grid divided by the stride: heatmap cell `(u, v)` is input pixel
`(u · in_w / hm_w, v · in_h / hm_h)`. This is exactly the official `transform_preds`, which maps
heatmap coordinates through the affine transform built for the heatmap size.

Everything here is NumPy and runs outside jit. Shapes: images (H, W, C); heatmaps (N, h, w, K);
matrices (2, 3) or (N, 2, 3); keypoints (N, K, 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from gnnpose_jax.data.image_header import check_image_size, image_size
from gnnpose_jax.data.joints import FLIP_PERMUTATION
from gnnpose_jax.errors import DataError

#: Box enlargement before cropping (official HRNet, docs/spec/method.md §1 step 2).
BOX_ENLARGE = 1.25
#: Input aspect ratio w / h of the pose network (288 × 384).
INPUT_ASPECT = 0.75
#: Heatmap stride: the heatmap grid is 1/4 of the input.
HEATMAP_STRIDE = 4
#: The 0.25-cell shift towards the higher neighbour (official `get_final_preds`).
SUBPIXEL_SHIFT = 0.25
#: ImageNet statistics, RGB, for images scaled to [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: A person box larger than this many frame sizes, or farther than that from the frame, is
#: not a person (its crop would be degenerate).
MAX_BOX_FRAMES = 10.0


def box_to_center_scale(box: Sequence[float], aspect_ratio: float = INPUT_ASPECT,
                        enlarge: float = BOX_ENLARGE) -> tuple[np.ndarray, np.ndarray]:
    """Centre and pixel scale of the crop for a person box (official `_box2cs`, without /200).

    The box is widened or heightened (never shrunk) about its centre to the input's aspect
    ratio, then both sides are multiplied by `enlarge`.

    Args:
      box: `[x, y, w, h]` in image pixels (x, y the top-left corner).
      aspect_ratio: w / h of the network input (0.75 for 288 × 384).
      enlarge: factor applied to both sides after the aspect fix.

    Returns:
      center `(2,)` `[x, y]` and scale `(2,)` `[w, h]`, float64 pixels.
    """
    x, y, w, h = (float(v) for v in box)
    center = np.array([x + w * 0.5, y + h * 0.5])
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    return center, np.array([w, h]) * enlarge


def get_affine_transform(center: Sequence[float], scale: Sequence[float], rot: float,
                         output_size: Sequence[int], shift: Sequence[float] = (0.0, 0.0),
                         inverse: bool = False) -> np.ndarray:
    """The official HRNet crop transform, with the scale in pixels.

    Equal to the official three-point `cv2.getAffineTransform` construction: the region of
    width `scale[0]` about `center + shift * scale`, rotated by `rot` degrees, is mapped onto
    `output_size` with its centre at the output centre.

    Args:
      center: `[x, y]` crop centre in image pixels.
      scale: `[w, h]` crop size in image pixels; the width sets the zoom.
      rot: rotation in degrees, the official sign: with y pointing down, positive `rot` turns
        the content counter-clockwise on screen (a point right of the centre moves up).
      output_size: `[out_w, out_h]` of the crop.
      shift: offset of the centre as a fraction of `scale`.
      inverse: return the crop-to-image matrix instead.

    Returns:
      `(2, 3)` float64 matrix mapping image points to crop points (or back if `inverse`).
    """
    center = np.asarray(center, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    out_w, out_h = float(output_size[0]), float(output_size[1])
    zoom = out_w / scale[0]
    rad = np.deg2rad(rot)
    cos, sin = np.cos(rad), np.sin(rad)
    # The official source direction is rotated by +rot, so image -> crop rotates by -rot.
    linear = zoom * np.array([[cos, sin], [-sin, cos]])
    source_center = center + scale * np.asarray(shift, dtype=np.float64)
    translation = np.array([out_w * 0.5, out_h * 0.5]) - linear @ source_center
    matrix = np.concatenate([linear, translation[:, None]], axis=1)
    return invert_affine(matrix) if inverse else matrix


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of affine matrices.

    Args:
      matrix: `(..., 2, 3)` affine matrices.

    Returns:
      `(..., 2, 3)` float64 inverses.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    linear_inv = np.linalg.inv(matrix[..., :2])
    translation = -np.einsum("...ij,...j->...i", linear_inv, matrix[..., 2])
    return np.concatenate([linear_inv, translation[..., None]], axis=-1)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map points through affine matrices, broadcasting over leading dimensions.

    Args:
      points: `(..., P, 2)` `[x, y]` points.
      matrix: `(..., 2, 3)` matrices.

    Returns:
      `(..., P, 2)` float64 mapped points.
    """
    points = np.asarray(points, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    return np.einsum("...ij,...pj->...pi", matrix[..., :2], points) + matrix[..., None, :, 2]


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """(2, 3) matrix of `outer` after `inner`: x -> outer(inner(x))."""
    outer, inner = np.asarray(outer, np.float64), np.asarray(inner, np.float64)
    return np.concatenate([outer[:, :2] @ inner[:, :2],
                           (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]], axis=1)


def box_crop_transform(box: Sequence[float], input_hw: Sequence[int],
                       enlarge: float = BOX_ENLARGE, rot: float = 0.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Image-to-crop matrix for a person box and its inverse, aspect fixed to the input's.

    Args:
      box: `[x, y, w, h]` in image pixels.
      input_hw: `(H, W)` of the network input, e.g. (384, 288).
      enlarge: box enlargement factor.
      rot: rotation in degrees.

    Returns:
      `(matrix, inverse)`, each `(2, 3)` float64.
    """
    in_h, in_w = input_hw
    center, scale = box_to_center_scale(box, aspect_ratio=in_w / in_h, enlarge=enlarge)
    matrix = get_affine_transform(center, scale, rot, (in_w, in_h))
    return matrix, invert_affine(matrix)


def warp_crop(image: np.ndarray, matrix: np.ndarray, out_hw: Sequence[int]) -> np.ndarray:
    """Warp an image `(H, W, C)` into a crop `(out_h, out_w, C)`; bilinear, zeros outside.

    Args:
      image: the source image, any dtype cv2 accepts (uint8 RGB usually).
      matrix: `(2, 3)` image-to-crop matrix.
      out_hw: `(out_h, out_w)` of the crop.

    Returns:
      The crop, with the image's dtype.
    """
    out_h, out_w = int(out_hw[0]), int(out_hw[1])
    return cv2.warpAffine(image, np.asarray(matrix, dtype=np.float64), (out_w, out_h),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def normalize_image(rgb_uint8: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN,
                    std: Sequence[float] = IMAGENET_STD) -> np.ndarray:
    """ImageNet-normalise RGB images: `(x / 255 - mean) / std`.

    Args:
      rgb_uint8: `(..., 3)` RGB uint8 image(s).
      mean: per-channel mean of the [0, 1] image, RGB.
      std: per-channel standard deviation, RGB.

    Returns:
      `(..., 3)` float32.
    """
    x = np.asarray(rgb_uint8, dtype=np.float32) / np.float32(255.0)
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def decode_heatmaps(heatmaps: np.ndarray, inverse_matrices: np.ndarray,
                    input_hw: Sequence[int] | None = None, shift: float = SUBPIXEL_SHIFT,
                    stride: int = HEATMAP_STRIDE) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints in image pixels from heatmaps (official `get_final_preds`).

    Each joint is at its heatmap argmax, moved `shift` cells towards the higher neighbour on
    each axis when the argmax lies inside the official bounds `1 < u < w - 1` and
    `1 < v < h - 1`. Heatmap cell `(u, v)` is input pixel `(u · in_w / w, v · in_h / h)`, which
    the inverse crop matrix maps to the image. Unlike the official code, a joint whose peak is
    not positive keeps its argmax instead of being moved to cell (0, 0); its score says it is
    absent either way.

    Args:
      heatmaps: `(N, h, w, K)` raw network heatmaps.
      inverse_matrices: `(N, 2, 3)` crop-to-image matrices of the N crops.
      input_hw: `(H, W)` of the network input; by default `stride` times the heatmap size.
      shift: the sub-cell shift, in cells.
      stride: input pixels per heatmap cell, used only when `input_hw` is None.

    Returns:
      keypoints `(N, K, 2)` float32 `[x, y]` image pixels and scores `(N, K)` float32 (the
      heatmap peaks).
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    n, h, w, k = heatmaps.shape
    in_h, in_w = (h * stride, w * stride) if input_hw is None else input_hw
    flat = heatmaps.reshape(n, h * w, k)
    index = flat.argmax(axis=1)  # (N, K)
    scores = np.take_along_axis(flat, index[:, None, :], axis=1)[:, 0, :]
    v, u = np.divmod(index, w)

    def at(dv: int, du: int) -> np.ndarray:
        """Heatmap value at (v + dv, u + du), clipped to the map (masked out below anyway)."""
        flat_index = np.clip(v + dv, 0, h - 1) * w + np.clip(u + du, 0, w - 1)
        return np.take_along_axis(flat, flat_index[:, None, :], axis=1)[:, 0, :]

    inside = (u > 1) & (u < w - 1) & (v > 1) & (v < h - 1)
    du = np.where(inside, np.sign(at(0, 1) - at(0, -1)) * shift, 0.0)
    dv = np.where(inside, np.sign(at(1, 0) - at(-1, 0)) * shift, 0.0)
    cells = np.stack([u + du, v + dv], axis=-1)
    input_points = cells * np.array([in_w / w, in_h / h])
    keypoints = apply_affine(input_points, inverse_matrices)
    return keypoints.astype(np.float32), scores


def flip_back_heatmaps(flipped: np.ndarray, flip_permutation: np.ndarray = FLIP_PERMUTATION,
                       shift_column: bool = True) -> np.ndarray:
    """Heatmaps of a horizontally mirrored crop, brought back to the unmirrored frame.

    Mirrors the width axis, swaps left/right channels, and (official `SHIFT_HEATMAP`) shifts
    one column right, `out[:, :, 1:] = out[:, :, :-1]`, column 0 keeping its mirrored value.

    Args:
      flipped: `(N, h, w, K)` heatmaps of the mirrored crops.
      flip_permutation: `(K,)` channel permutation swapping left and right.
      shift_column: apply the one-column shift.

    Returns:
      `(N, h, w, K)` heatmaps aligned with the unmirrored crops.
    """
    out = np.asarray(flipped)[:, :, ::-1, :][..., np.asarray(flip_permutation)].copy()
    if shift_column:
        out[:, :, 1:, :] = out[:, :, :-1, :].copy()
    return out


def average_with_flip(heatmaps: np.ndarray, flipped: np.ndarray,
                      flip_permutation: np.ndarray = FLIP_PERMUTATION,
                      shift_column: bool = True) -> np.ndarray:
    """Flip-test heatmaps: the mean of `heatmaps` and `flip_back_heatmaps(flipped)`.

    Args:
      heatmaps: `(N, h, w, K)` heatmaps of the crops.
      flipped: `(N, h, w, K)` heatmaps of the mirrored crops.
      flip_permutation: `(K,)` channel permutation swapping left and right.
      shift_column: apply the one-column shift.

    Returns:
      `(N, h, w, K)` averaged heatmaps.
    """
    back = flip_back_heatmaps(flipped, flip_permutation, shift_column)
    return (np.asarray(heatmaps) + back) * 0.5


def usable_boxes(boxes: np.ndarray, image_hw: Sequence[int] | None = None) -> np.ndarray:
    """Which person boxes can be cropped: finite in every column, width and height positive.

    Args:
      boxes: (N, 4 or more) rows `[x, y, w, h, ...]`.
      image_hw: the frame's (H, W); if given, a box must also be at most `MAX_BOX_FRAMES`
        frame sizes wide and high, start no farther than that from the frame, and overlap
        the frame (a box wholly outside it holds no pixel of the person).

    Returns:
      (N,) bool.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        if image_hw is not None:
            limit = MAX_BOX_FRAMES * np.array([image_hw[1], image_hw[0]], np.float64)
            ok &= (np.abs(boxes[:, :2]) <= limit).all(axis=1)
            ok &= (boxes[:, 2:4] <= limit).all(axis=1)
            size = np.array([image_hw[1], image_hw[0]], np.float64)
            ok &= ((boxes[:, :2] < size) & (boxes[:, :2] + boxes[:, 2:4] > 0)).all(axis=1)
    return ok


def box_from_keypoints(keypoints: np.ndarray, threshold: float = 0.0,
                       present: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """Tight box `(x, y, w, h)` around a pose's present joints: the project's one copy.

    A joint is present when its third column exceeds `threshold`, or where `present` says so
    when that mask is given (the keypoints may then be `(K, 2)`).

    Args:
      keypoints: `(K, 3)` rows `[x, y, visibility or score]`, or `(K, 2)` with `present`.
      threshold: a joint is present when its third value is above this.
      present: optional `(K,)` bool mask of the present joints; it replaces the threshold test.

    Returns:
      `(x, y, w, h)` in pixels.

    Raises:
      ValueError: if no joint is present.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if present is None:
        present = keypoints[:, 2] > threshold
    points = keypoints[np.asarray(present, bool), :2]
    if len(points) == 0:
        raise ValueError("box_from_keypoints: no joint is present")
    low, high = points.min(axis=0), points.max(axis=0)
    return float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])


def read_image_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB (EXIF orientation ignored, as in the official code).

    Args:
      path: a JPEG, PNG or BMP file within the size cap (`image_header.check_image_size`).

    Returns:
      `(H, W, 3)` RGB uint8.

    Raises:
      DataError: naming the path, if the file is missing, cannot be decoded, or declares an
        image over the cap in its header (checked before decoding).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image file not found")
    check_image_size(*image_size(path), path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise DataError(f"{path}: cannot decode the image (expected a JPEG or PNG file)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
