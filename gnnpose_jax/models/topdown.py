"""Top-down pose estimation: person boxes → crops → jitted HRNet → decoded image keypoints.

Crops are run in chunks of a fixed `batch_size` (the last chunk padded), so a whole video
compiles the forward once, whatever the number of boxes per frame.
"""

from __future__ import annotations

import collections
from typing import NamedTuple

import jax
import numpy as np

from gnnpose_jax.data import joints, transforms


class Crops(NamedTuple):
    """Network inputs for N boxes."""

    images: np.ndarray  # (N, H, W, 3) float32, normalised
    inverse: np.ndarray  # (N, 2, 3) crop → image
    matrices: np.ndarray  # (N, 2, 3) image → crop


class PoseEstimates(NamedTuple):
    """Decoded poses for N boxes, the features of extra crops run in the same call, and (only
    when asked) the heatmaps the poses were decoded from (`estimate(maps=True)`) and the boxes'
    own crop features (`estimate(features=True)`)."""

    keypoints: np.ndarray  # (N, K, 2) image pixels
    scores: np.ndarray  # (N, K) heatmap peaks
    extra_features: np.ndarray | None  # (M, H/4, W/4, 3·W) of `estimate`'s `extra` crops
    heatmaps: np.ndarray | None = None  # (N, h, w, K) PoseTrack slots (flip-averaged)
    heatmap_to_image: np.ndarray | None = None  # (N, 2, 3) heatmap cell (x, y) → image
    features: np.ndarray | None = None  # (N, H/4, W/4, 3·W) of the boxes' (unmirrored) crops
    crop_matrices: np.ndarray | None = None  # (N, 2, 3) image → the boxes' crops


def make_crops(image: np.ndarray, boxes: np.ndarray, input_hw: tuple[int, int],
               enlarge: float = transforms.BOX_ENLARGE) -> Crops:
    """Affine-warps each box of `image` ((H, W, 3) uint8 RGB) to `input_hw` and normalises.

    Args:
      image: the frame.
      boxes: (N, 4) `[x, y, w, h]`.
      input_hw: network input `(H, W)`.
      enlarge: box enlargement before the 3:4 aspect fix.
    """
    matrices = np.zeros((len(boxes), 2, 3), np.float64)
    inverse = np.zeros((len(boxes), 2, 3), np.float64)
    for i, box in enumerate(boxes):
        matrices[i], inverse[i] = transforms.box_crop_transform(box, input_hw, enlarge)
    return Crops(warp_crops(image, matrices, input_hw), inverse, matrices)


def warp_crops(image: np.ndarray, matrices, input_hw: tuple[int, int]) -> np.ndarray:
    """The network inputs (N, H, W, 3) float32, normalised, that N (2, 3) image → crop
    matrices cut from `image` ((H_img, W_img, 3) uint8 RGB): the one crop-and-normalise step
    of the estimator and the GNN predictor."""
    images = np.zeros((len(matrices), *input_hw, 3), np.float32)
    for i, matrix in enumerate(matrices):
        images[i] = transforms.normalize_image(transforms.warp_crop(image, matrix, input_hw))
    return images


def padded_size(n: int, limit: int) -> int:
    """The batch n items are padded to: the next power of two, at most `limit`.

    A few sizes compile a few times (log2(limit) + 1 at most) but a frame with 3 people does
    not pay for `limit` crops.
    """
    size = 1
    while size < n:
        size *= 2
    return min(size, limit)


class TopDownEstimator:
    """HRNet applied to person boxes, with optional flip test.

    Args:
      module: an `HRNet` (or anything whose apply returns `heatmaps` and `features`).
      variables: its variables.
      input_hw: network input `(H, W)`, the size it was trained at (its export records it).
      batch_size: the most crops per jitted call; a frame's last chunk is padded to the next
        power of two (`padded_size`).
      flip_test: average with the mirrored crop's heatmaps (docs/spec/method.md §1 step 2).
      joint_layout: the network's joints, "posetrack" (ours) or "coco" (COCO-trained: `estimate`
        maps its poses into the PoseTrack slots by `joints.coco_to_posetrack`).
    """

    def __init__(self, module, variables, input_hw: tuple[int, int], batch_size: int = 8,
                 flip_test: bool = False, joint_layout: str = "posetrack"):
        self.input_hw, self.batch_size, self.flip_test = tuple(input_hw), batch_size, flip_test
        self.joint_layout = joint_layout
        self.variables = jax.device_put(variables)
        self._forward = jax.jit(lambda v, x: module.apply(v, x, train=False))
        self._empty = None  # run's outputs for no crops
        #: Work done so far: "crops" run, "padded" (crops including padding), jitted "calls".
        self.counts = collections.Counter()

    def run(self, images: np.ndarray, features: bool = True
            ) -> tuple[np.ndarray, np.ndarray | None]:
        """Heatmaps (N, h, w, K) and features (N, h, w, C) of normalised crops (N, H, W, 3);
        without `features`, None for them (they are not copied off the device)."""
        n = len(images)
        if n == 0:
            if self._empty is None:
                out = jax.eval_shape(self._forward, self.variables,
                                     jax.ShapeDtypeStruct((1, *self.input_hw, 3), np.float32))
                self._empty = (np.zeros((0, *out.heatmaps.shape[1:]), out.heatmaps.dtype),
                               np.zeros((0, *out.features.shape[1:]), out.features.dtype))
            return self._empty[0], self._empty[1] if features else None
        heat, feat = [], []
        for start in range(0, n, self.batch_size):
            chunk = images[start:start + self.batch_size]
            real = len(chunk)
            pad = padded_size(real, self.batch_size) - real
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
            out = self._forward(self.variables, chunk)
            self.counts.update(crops=real, padded=len(chunk), calls=1)
            heat.append(np.asarray(out.heatmaps)[:real])
            if features:
                feat.append(np.asarray(out.features)[:real])
        return np.concatenate(heat), np.concatenate(feat) if features else None

    def estimate(self, image: np.ndarray, boxes: np.ndarray,
                 extra: np.ndarray | None = None, maps: bool = False,
                 features: bool = False) -> PoseEstimates:
        """Poses for `boxes` ((N, 4) xywh) in `image` ((H, W, 3) uint8 RGB), PoseTrack slots.

        `extra`, more normalised crops (M, H, W, 3) (the GNN predictor's), run in the same
        batched calls as the boxes' crops (and their mirrors under flip test); their features
        come back in `extra_features`. With `maps`, the decoded (flip-averaged) heatmaps and
        their cell → image affines come back too; a COCO network's head slots (1, 2), which
        no heatmap maps, get zero maps. With `features`, the HRNet features of the boxes' own
        (unmirrored) crops and their image → crop matrices come back (`features`,
        `crop_matrices`): the GNN predictor's detection-crop features, at no extra crop.
        """
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        crops = make_crops(image, boxes, self.input_hw)
        n = len(boxes)
        parts = [crops.images]
        if self.flip_test and n:
            parts.append(crops.images[:, :, ::-1])
        if extra is not None:
            parts.append(extra)
        heatmaps, all_features = self.run(
            np.concatenate(parts) if len(parts) > 1 else parts[0],
            features=extra is not None or features)
        if self.flip_test and n:
            heatmaps = transforms.average_with_flip(
                heatmaps[:n], heatmaps[n:2 * n], joints.COCO_FLIP_PERMUTATION
                if self.joint_layout == "coco" else joints.FLIP_PERMUTATION)
        keypoints, scores = transforms.decode_heatmaps(heatmaps[:n], crops.inverse,
                                                       self.input_hw)
        if self.joint_layout == "coco":
            keypoints, scores = joints.coco_to_posetrack(keypoints, scores)
        extra_features = (all_features[len(all_features) - len(extra):] if extra is not None
                          else None)
        own = ({"features": all_features[:n], "crop_matrices": crops.matrices} if features
               else {})
        if not maps:
            return PoseEstimates(keypoints, scores, extra_features, **own)
        heatmaps = heatmaps[:n].copy()
        if self.joint_layout == "coco":
            heatmaps[..., [joints.HEAD_BOTTOM, joints.HEAD_TOP]] = 0.0
        # Crop → image after heatmap cell → crop pixel (a scaling by the input / heatmap size).
        to_image = crops.inverse.copy()
        to_image[:, :, :2] *= np.array(self.input_hw[::-1]) / heatmaps.shape[2:0:-1]
        return PoseEstimates(keypoints, scores, extra_features, heatmaps, to_image, **own)
