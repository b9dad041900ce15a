"""HRNet-estimated GNN history poses (`gnn.history_source = "hrnet"`, docs/spec/method.md §4).

At inference the GNN's history is the tracker's own output: HRNet estimates, with their errors
and scores. With `history_source = "hrnet"` training sees the same kind of history: the frozen
HRNet is run once over every labelled person of a split, in the crop of a box around the
person's annotated joints (enlarged 1.25, as a detection is), and the windows read those
estimates instead of jittered GT poses. Under feature source "detections" the crop is the
person's detection-like box instead (`pipeline.detection_box`), the very box the windows cut
that frame's features from, as the tracker's history features come from the detection crop
that produced the pose. The estimates are cached in the workdir, keyed by the HRNet checkpoint,
the split and the boxes, so a resumed run does not recompute them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from gnnpose_jax import atomic
from gnnpose_jax.data import pipeline, topdown_samples, transforms

Estimates = Mapping[tuple[int, int], np.ndarray]


def estimate_people(source: Any, estimator: Any, min_joints: int = 1,
                    progress: bool = True, detection_jitter: tuple[float, float] | None = None
                    ) -> dict[tuple[int, int], np.ndarray]:
    """Estimated poses of every labelled person of a record source.

    Args:
      source: a `pipeline.RecordSource` (records with `people`, `is_labeled`; `image()`).
      estimator: a `models.topdown.TopDownEstimator` (`estimate(image, boxes)`).
      min_joints: people with fewer annotated joints are skipped (as windows skip them).
      progress: show a progress bar.
      detection_jitter: None: crop around the annotated joints' box; else around each
        person's `pipeline.detection_box` with this jitter (feature source "detections").

    Returns:
      (record index, track id) -> (K, 3) float32 image [x, y, score].
    """
    out = {}
    for record_index in tqdm(range(len(source)), desc=f"history estimates ({source.name})",
                             unit="frame", disable=not progress, dynamic_ncols=True):
        record = source[record_index]
        if not record["is_labeled"]:
            continue
        people = record["people"]
        tracks, boxes = [], []
        for slot in range(int(people["count"])):
            pose = np.asarray(people["keypoints"][slot], np.float64)
            present = topdown_samples.annotated(pose)
            if present.sum() < max(min_joints, 1):
                continue
            tracks.append(int(people["track_id"][slot]))
            if detection_jitter is not None:
                boxes.append(pipeline.detection_box(record_index, people, slot,
                                                    detection_jitter))
                continue
            x, y, w, h = transforms.box_from_keypoints(pose, present=present)
            boxes.append([x, y, max(w, 1.0), max(h, 1.0)])
        if not boxes:
            continue
        est = estimator.estimate(source.image(record), np.array(boxes))
        for track, keypoints, scores in zip(tracks, est[0], est[1], strict=True):
            out[(record_index, track)] = np.concatenate(
                [keypoints, scores[:, None]], axis=1).astype(np.float32)
    return out


def cached_estimates(path: Path, key: str, compute) -> dict[tuple[int, int], np.ndarray]:
    """The estimates stored at `path` if they were made for `key`, else `compute()` (saved).

    Args:
      path: the cache file (.npz).
      key: what the estimates depend on (HRNet checkpoint, split, settings).
      compute: () -> estimates, called on a miss.
    """
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) == key:
                return {(int(r), int(t)): p for r, t, p in
                        zip(data["records"], data["tracks"], data["poses"], strict=True)}
    estimates = compute()
    items = sorted(estimates.items())
    with atomic.atomic_file(path) as partial:
        np.savez(partial, key=np.array(key),
                 records=np.array([r for (r, _), _ in items], np.int64),
                 tracks=np.array([t for (_, t), _ in items], np.int64),
                 poses=(np.stack([p for _, p in items]) if items
                        else np.zeros((0, 0, 3), np.float32)))
    return estimates
